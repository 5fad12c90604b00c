"""The database fixtures: one state store URL per backend, one fresh PostgreSQL database a test."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

metadata = sa.MetaData()
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)


def test_a_state_url_stores_and_reads_back_rows(state_url: str) -> None:
    engine = sa.create_engine(state_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(jobs.insert(), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        with engine.connect() as connection:
            rows = connection.execute(sa.select(jobs.c.name).order_by(jobs.c.id)).scalars().all()
        assert rows == ["a", "b"]
    finally:
        engine.dispose()


_databases_seen: list[str] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_empty_database_dropped_afterwards(
    postgres_url: str, run: int
) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            # The other run left a table behind in its database; ours must not see it.
            assert sa.inspect(connection).get_table_names() == []
            metadata.create_all(connection)
            existing = (
                connection.execute(sa.text("SELECT datname FROM pg_database")).scalars().all()
            )
        name = engine.url.database
        assert name in existing
        assert name not in _databases_seen
        assert not set(_databases_seen) & set(existing), (
            "an earlier test's database was not dropped"
        )
        _databases_seen.append(name)
    finally:
        engine.dispose()


def test_skip_locked_lets_two_workers_claim_different_rows(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(jobs.insert(), [{"id": i, "name": f"job-{i}"} for i in (1, 2, 3)])
        claim = sa.select(jobs.c.id).order_by(jobs.c.id).limit(1).with_for_update(skip_locked=True)
        with engine.connect() as first, engine.connect() as second:
            with first.begin():
                assert first.execute(claim).scalar_one() == 1
                with second.begin():
                    # Row 1 is locked by the first worker: the second skips it instead of waiting.
                    assert second.execute(claim).scalar_one() == 2
            # Once the first worker's transaction ends, row 1 is free again.
            with second.begin():
                assert second.execute(claim).scalar_one() == 1
    finally:
        engine.dispose()

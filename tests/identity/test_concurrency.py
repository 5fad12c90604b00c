"""Two pipeline workers resolving the same person at once make one profile (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import merges, open_state_store, profiles
from tests.identity.test_resolution import items_of


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = open_state_store(postgres_url)
    yield engine
    engine.dispose()


def test_racing_workers_never_split_a_person(engine: Engine) -> None:
    # Worker A sees the web visitor log in; worker B sees the same person's app session log
    # in, at the same time. Both name user_id:rae, so exactly one profile may hold it.
    rounds = 25
    for n in range(rounds):
        web = items_of(
            [{"id": f"w{n}", "type": "identify", "anonymousId": f"web-{n}", "userId": f"rae-{n}"}]
        )
        app = items_of(
            [{"id": f"a{n}", "type": "identify", "anonymousId": f"app-{n}", "userId": f"rae-{n}"}],
            first_offset=1,
        )
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(
            batch: list, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
        ) -> None:
            stage = ResolveIdentities(SqlIdentityGraph(engine), IdentityRules())
            try:
                barrier.wait()
                stage(batch)
            except BaseException as exc:  # reported below, with the round
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(batch,)) for batch in (web, app)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        graph = SqlIdentityGraph(engine)
        owners = {
            graph.canonical("default", Identifier(t, f"{v}-{n}"))
            for t, v in (("user_id", "rae"), ("anonymous_id", "web"), ("anonymous_id", "app"))
        }
        assert len(owners) == 1, f"round {n}: {owners}"
    with engine.connect() as conn:
        live = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id == profiles.c.id)
        ).scalar_one()
        merged = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    assert live == rounds
    assert merged == 0  # the second worker waited and attached, it never had to merge

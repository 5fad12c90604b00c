"""Iceberg for real on local disk, read back with DuckDB from the Parquet files each table's
current snapshot lists: Segment's tables, schema evolution, idempotent re-delivery, users
merged by received_at, deletion that leaves no file holding the person, bad settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.iceberg import DESTINATION, close, writer_for
from seamline.destinations.catalog.iceberg.writer import failures
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.test_postgres_warehouse import message, track

ACTION = DESTINATION.actions["load_events"]


def context(settings: dict[str, Any]) -> Context:
    return Context(settings=settings, http=Http(httpx.Client()))


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    settings = {
        "catalog_url": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": str(tmp_path / "warehouse"),
        "namespace": "web",
    }
    made = context(settings)
    yield made
    close(made)


def load(ctx: Context, *messages: dict[str, Any]) -> list[DeliveryError | None]:
    assert ACTION.perform_batch is not None
    outcomes: list[DeliveryError | None] = ACTION.perform_batch(
        ctx, [{"event": m} for m in messages]
    )
    return outcomes


def files(ctx: Context, table: str) -> list[str]:
    """The data files of the table's current snapshot, as local paths."""
    loaded = writer_for(ctx).catalog.load_table(("web", table))
    return [task.file.file_path.removeprefix("file://") for task in loaded.scan().plan_files()]


def read(ctx: Context, table: str, columns: str = "*") -> list[dict[str, Any]]:
    """The table's rows as DuckDB reads its files, by id."""
    paths = files(ctx, table)
    if not paths:
        return []
    relation = duckdb.sql(
        f"SELECT {columns} FROM read_parquet({paths!r}, union_by_name = true) ORDER BY id"
    )
    assert relation is not None
    names = [d[0] for d in relation.description]
    return [dict(zip(names, values, strict=True)) for values in relation.fetchall()]


def identify(message_id: str, at: str, user_id: str = "u1", **traits: Any) -> dict[str, Any]:
    return message("identify", message_id, received_at=at, userId=user_id, traits=traits)


def person(user_ids: tuple[str, ...] = (), anonymous_ids: tuple[str, ...] = ()) -> Person:
    found = {Identifier("user_id", v) for v in user_ids}
    found |= {Identifier("anonymous_id", v) for v in anonymous_ids}
    return Person(workspace_id="default", identifiers=frozenset(found), profile_ids=frozenset())


def test_the_catalog_lists_iceberg_with_a_secret_catalog_url() -> None:
    assert "iceberg" in registry.slugs()
    assert registry.load("iceberg") is DESTINATION
    assert DESTINATION.secret_settings() == {"catalog_url"}


def test_listing_the_three_destinations_imports_no_client_library() -> None:
    script = (
        "import sys\n"
        "from seamline.destinations import registry\n"
        "for slug in ('iceberg', 'redshift', 'object-storage'): registry.load(slug)\n"
        "print(sorted(m for m in ('pyiceberg', 'psycopg', 'pyarrow', 'sqlalchemy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_track_lands_in_tracks_and_its_event_table(ctx: Context) -> None:
    sent = track("m1", total=30.5, coupon="X", gift=False, shipped="2026-11-29T08:00:00Z")
    assert load(ctx, sent, message("page", "p1", name="Home")) == [None, None]
    assert [r["event"] for r in read(ctx, "tracks")] == ["order_completed"]
    (event,) = read(ctx, "order_completed")
    assert (event["id"], event["total"], event["coupon"], event["gift"]) == ("m1", 30.5, "X", False)
    assert event["shipped"].isoformat() == "2026-11-29T08:00:00+00:00"
    assert event["context_library_name"] == "analytics.js"
    assert read(ctx, "pages", "id, name") == [{"id": "p1", "name": "Home"}]
    schema = writer_for(ctx).catalog.load_table(("web", "order_completed")).schema()
    types = {f.name: str(f.field_type) for f in schema.fields}
    assert (types["total"], types["coupon"], types["gift"]) == ("double", "string", "boolean")
    assert types["shipped"] == types["uuid_ts"] == "timestamptz"


def test_a_new_property_widens_the_schema_and_a_conflict_is_discarded(ctx: Context) -> None:
    load(ctx, track("m1", amount=10))
    load(ctx, track("m2", amount="lots", seats=5), track("m3", amount="12.5"))
    rows = read(ctx, "order_completed", "id, amount, seats")
    assert rows == [
        {"id": "m1", "amount": 10.0, "seats": None},
        {"id": "m2", "amount": None, "seats": 5.0},
        {"id": "m3", "amount": 12.5, "seats": None},
    ]
    kept = read(ctx, "seamline_discards", "row_id AS id, column_name, value")
    assert kept == [{"id": "m2", "column_name": "amount", "value": "lots"}]


def test_a_redelivered_batch_adds_nothing(ctx: Context) -> None:
    batch = [track("m1", total=1), track("m2", total=2), track("m2", total=2)]
    load(ctx, *batch)
    table = writer_for(ctx).catalog.load_table(("web", "tracks"))
    snapshot = table.current_snapshot()
    load(ctx, *batch)
    again = writer_for(ctx).catalog.load_table(("web", "tracks"))
    assert again.current_snapshot() == snapshot  # nothing new: no commit at all
    load(ctx, track("m2", total=2), track("m3", total=3))  # one old, one new
    assert [r["id"] for r in read(ctx, "tracks", "id")] == ["m1", "m2", "m3"]


def test_a_commit_on_a_stale_snapshot_fails_to_be_retried(ctx: Context) -> None:
    load(ctx, track("m1"))
    stale = writer_for(ctx).catalog.load_table(("web", "tracks"))
    assert stale.properties["commit.retry.num-retries"] == "0"
    load(ctx, track("m2"))  # another writer commits meanwhile
    with pytest.raises(RetryableError, match="Iceberg"), failures():
        stale.append(stale.scan().to_arrow().slice(0, 1))
    assert [r["id"] for r in read(ctx, "tracks", "id")] == ["m1", "m2"]


def test_users_keep_the_latest_value_of_each_trait(ctx: Context) -> None:
    load(
        ctx,
        identify("i2", "2026-11-29T11:00:00Z", plan="pro"),
        identify("i1", "2026-11-29T10:00:00Z", plan="free", email="a@example.com"),
    )
    load(ctx, identify("i3", "2026-11-29T12:00:00Z", plan="team"))
    load(ctx, identify("i0", "2026-11-29T09:00:00Z", plan="trial", company="Initech"))
    (user,) = read(ctx, "users")
    assert (user["plan"], user["email"], user["company"]) == ("team", "a@example.com", "Initech")
    assert user["received_at"].isoformat() == "2026-11-29T12:00:00+00:00"
    assert len(read(ctx, "identifies", "id")) == 4


def test_deleting_a_person_leaves_no_file_holding_them(ctx: Context, tmp_path: Path) -> None:
    load(ctx, track("m1", amount=1), identify("i2", "2026-11-29T10:00:00Z", user_id="u2"))
    load(ctx, track("m2", amount="lots"), identify("i1", "2026-11-29T10:00:00Z", plan="pro"))
    load(ctx, message("alias", "a1", userId="u9", previousId="anon-x"))
    assert DESTINATION.delete is not None
    DESTINATION.delete(ctx, person(("u1",), ("anon-x",)))
    assert read(ctx, "users", "id") == [{"id": "u2"}]
    assert read(ctx, "identifies", "id") == [{"id": "i2"}]
    assert read(ctx, "tracks") == read(ctx, "order_completed") == read(ctx, "aliases") == []
    assert read(ctx, "seamline_discards") == []
    everything = sorted((tmp_path / "warehouse").rglob("*.parquet"))
    holding = duckdb.sql(
        f"SELECT count(*) FROM read_parquet({[str(p) for p in everything]!r}, union_by_name = true)"
        " WHERE id IN ('m1', 'm2', 'i1', 'a1', 'u1')"
    )
    assert holding is not None
    held = holding.fetchall()
    assert held == [(0,)]
    DESTINATION.delete(ctx, person(("nobody",)))  # no such person: nothing to do


def test_a_postgresql_catalog_works_the_same(tmp_path: Path, postgres_url: str) -> None:
    ctx = context({"catalog_url": postgres_url, "warehouse": str(tmp_path / "w")})
    try:
        assert DESTINATION.test_authentication is not None
        DESTINATION.test_authentication(ctx)
        load(ctx, track("m1", total=1))
        load(ctx, track("m1", total=1))
        loaded = writer_for(ctx).catalog.load_table(("seamline", "tracks"))
        assert loaded.scan().to_arrow().column("id").to_pylist() == ["m1"]
    finally:
        close(ctx)


def test_a_message_of_no_known_type_fails_alone(ctx: Context) -> None:
    ok, bogus = load(ctx, track("m1"), {"type": "bogus", "messageId": "b1"})
    assert ok is None
    assert isinstance(bogus, InvalidPayload)
    assert read(ctx, "tracks", "id") == [{"id": "m1"}]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"warehouse": "/tmp/w"}, "catalog_url setting is missing"),
        ({"catalog_url": "sqlite:///relative.db", "warehouse": "/w"}, "absolute SQLite path"),
        ({"catalog_url": "mysql://h/db", "warehouse": "/w"}, "sqlite://// or postgresql://"),
        ({"catalog_url": "sqlite:////tmp/c.db"}, "warehouse setting is missing"),
        ({"catalog_url": "sqlite:////tmp/c.db", "warehouse": "w"}, "absolute path"),
        (
            {"catalog_url": "sqlite:////tmp/c.db", "warehouse": "/w", "namespace": "A-b"},
            "namespace must be",
        ),
    ],
)
def test_bad_settings_are_permanent_and_say_why(settings: dict[str, Any], problem: str) -> None:
    ctx = context(settings)
    with pytest.raises(PermanentError, match=problem):
        load(ctx, track("m1"))


def test_a_warehouse_that_cannot_be_written_is_permanent(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    ctx = context(
        {"catalog_url": f"sqlite:///{tmp_path / 'c.db'}", "warehouse": str(blocker / "w")}
    )
    assert DESTINATION.test_authentication is not None
    try:
        with pytest.raises(PermanentError, match="Iceberg warehouse"):
            DESTINATION.test_authentication(ctx)
    finally:
        close(ctx)

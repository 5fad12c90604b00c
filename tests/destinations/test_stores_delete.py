"""Deleting a person from the destinations Seamline writes itself: the PostgreSQL warehouse
(rows gone from every table, discards included, everyone else's intact) and the Parquet lake
(files rewritten: the person's values in no byte of the directory, everyone else's rows and
files intact)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url
from seamline.destinations.catalog.postgres_warehouse.loader import close
from seamline.destinations.deletion import Deletion, context_for, delete_now
from seamline.destinations.instances import CompiledDestination
from tests.destinations.test_tools_delete import instance, person

SCHEMA = "web"
ANN = person(("ann-user",), ("ann-anon", "ann-phone"), ("ann@example.com",))
MARK = "ann-marker-7f3a"  # in Ann's traits and properties only


def ann_and_bob() -> list[dict[str, Any]]:
    """Ann (two anonymous ids, then identified) and Bob: every table's kind of message."""

    def message(kind: str, message_id: str, who: str, **fields: Any) -> dict[str, Any]:
        ids = (
            {"userId": "ann-user", "anonymousId": "ann-anon"}
            if who == "ann"
            else {"userId": "bob-user", "anonymousId": "bob-anon"}
        )
        at = "2026-11-29T10:00:00Z"
        stamps = {"timestamp": at, "sentAt": at, "receivedAt": at}
        return {"type": kind, "messageId": message_id, **ids, **stamps, **fields}

    return [
        message("identify", "i-ann", "ann", traits={"email": "ann@example.com", "note": MARK}),
        message("track", "t-ann", "ann", event="Order Completed", properties={"note": MARK}),
        message("track", "t-ann-2", "ann", event="Order Completed", properties={"amount": "ten"})
        | {"userId": None, "anonymousId": "ann-phone"},
        message("page", "p-ann", "ann", name="Home", properties={"note": MARK}),
        message("alias", "al-ann", "ann", previousId="ann-anon"),
        message("identify", "i-bob", "bob", traits={"email": "bob@example.com"}),
        message("track", "t-bob", "bob", event="Order Completed", properties={"amount": 12}),
        message("track", "t-bob-2", "bob", event="Order Completed", properties={"amount": 13}),
        message("page", "p-bob", "bob", name="Home"),
    ]


def deliver(target: CompiledDestination, messages: list[dict[str, Any]]) -> None:
    (subscription,) = target.subscriptions
    batch = subscription.action.perform_batch
    assert batch is not None
    with httpx.Client() as client:
        ctx = context_for(target, client, 5.0)
        try:
            outcomes = batch(ctx, [{"event": m} for m in messages])
        finally:
            close(ctx)  # the warehouse's connections (the lake keeps none)
    assert outcomes == [None] * len(messages)


def erase(target: CompiledDestination) -> Deletion:
    with httpx.Client() as client:
        return delete_now(target, ANN, client, 5.0)


# -- the PostgreSQL warehouse -----------------------------------------------------------------


@pytest.fixture
def warehouse(postgres_url: str) -> Iterator[CompiledDestination]:
    settings = {"database_url": postgres_url, "schema": SCHEMA}
    yield instance("postgres-warehouse", settings, ("load_events", {"event": {"@path": "$."}}))


def contents(url: str) -> dict[str, list[str]]:
    """Every table of the schema as sorted rows of text, so a value anywhere shows."""
    with psycopg.connect(libpq_url(url)) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (SCHEMA,),
        ).fetchall()
        return {
            str(table): sorted(
                str(r[0])
                for r in connection.execute(f'SELECT t::text FROM {SCHEMA}."{table}" t').fetchall()
            )
            for (table,) in tables
        }


def test_the_warehouse_loses_every_row_of_the_person_and_keeps_the_others(
    warehouse: CompiledDestination, postgres_url: str
) -> None:
    messages = ann_and_bob()
    deliver(warehouse, messages[5:])  # Bob's first: amount is a number column
    deliver(warehouse, messages[:5])
    before = contents(postgres_url)
    assert any("t-ann-2" in r for r in before["seamline_discards"])  # "ten" did not fit
    assert erase(warehouse) == Deletion("FINISHED")
    after = contents(postgres_url)
    # Every value of Ann's (ids, message ids, the marker) has "ann" in it; none of Bob's does.
    assert [(t, r) for t, rows in after.items() for r in rows if "ann" in r] == []
    bob = {t: [r for r in rows if "ann" not in r] for t, rows in before.items()}
    assert after == bob  # Bob's rows all there, unchanged
    assert len(after["tracks"]) == 2 and len(after["users"]) == 1
    assert after["seamline_discards"] == []
    assert erase(warehouse) == Deletion("FINISHED")  # again: nothing left to delete


def test_a_warehouse_never_written_has_nothing_to_delete(
    warehouse: CompiledDestination, postgres_url: str
) -> None:
    assert erase(warehouse) == Deletion("FINISHED")
    assert contents(postgres_url) == {}


# -- the Parquet lake -------------------------------------------------------------------------


@pytest.fixture
def lake(tmp_path: Path) -> CompiledDestination:
    settings = {"path": str(tmp_path / "lake")}
    return instance("parquet-lake", settings, ("write_events", {"event": {"@path": "$."}}))


def every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def rows(root: Path) -> list[tuple[str, str | None]]:
    found = duckdb.sql(
        f"SELECT message_id, user_id FROM read_parquet('{root}/**/*.parquet', "
        "union_by_name = true) ORDER BY message_id"
    ).fetchall()
    return [(str(m), u) for m, u in found]


def test_the_lake_rewrites_the_files_holding_the_person_and_no_byte_of_them_is_left(
    lake: CompiledDestination, tmp_path: Path
) -> None:
    root = tmp_path / "lake"
    messages = ann_and_bob()
    deliver(lake, messages[:5])  # Ann's, one file per partition
    deliver(lake, messages[5:])  # Bob's, in files of their own
    deliver(lake, [messages[1] | {"messageId": "t-ann-3"}, messages[6] | {"messageId": "t-bob-3"}])
    files = {p: (p.read_bytes(), p.stat().st_ino) for p in root.rglob("*.parquet")}
    bob_only = {p: v for p, v in files.items() if b"ann-" not in v[0]}
    mixed = {p for p, v in files.items() if b"ann-" in v[0] and b"bob-" in v[0]}
    assert bob_only and mixed and MARK.encode() in every_byte(root)
    assert erase(lake) == Deletion("FINISHED")
    left = every_byte(root)
    for value in ("ann-user", "ann-anon", "ann-phone", MARK, "ann@example.com"):
        assert value.encode() not in left, value
    assert rows(root) == [
        ("i-bob", "bob-user"), ("p-bob", "bob-user"), ("t-bob", "bob-user"),
        ("t-bob-2", "bob-user"), ("t-bob-3", "bob-user"),
    ]  # fmt: skip
    assert set(root.rglob("*.parquet")) == set(bob_only) | mixed  # Ann's own files removed
    assert {p: (p.read_bytes(), p.stat().st_ino) for p in bob_only} == bob_only  # untouched
    assert not list(root.rglob(".*"))  # no temporary file left behind


def test_a_lake_never_written_has_nothing_to_delete(lake: CompiledDestination) -> None:
    assert erase(lake) == Deletion("FINISHED")

"""Profiles Sync into a PostgreSQL warehouse: after merges and an unmerge, the id graph in the
warehouse equals the one in the state store, on both state stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url
from seamline.identity.identifiers import Identifier
from seamline.profiles_sync.postgres import PostgresTables
from seamline.profiles_sync.run import sync_once
from seamline.store.state import profiles
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio

WS = "default"
TARGET = "default/warehouse"
SCHEMA = "profiles_ps"


def identify(mid: str, anonymous_id: str, user_id: str | None = None, **traits: Any) -> dict:
    message: dict[str, Any] = {
        "type": "identify",
        "messageId": mid,
        "timestamp": f"2026-12-01T10:00:0{mid[-1]}Z",  # m1 before m2 …: the later trait wins
        "anonymousId": anonymous_id,
        "traits": traits,
    }
    if user_id:
        message["userId"] = user_id
    return message


def state_graph(workspace: Workspace) -> dict[str, str]:
    with workspace.app.state.connect() as conn:
        rows = conn.execute(
            select(profiles.c.id, profiles.c.canonical_id).where(profiles.c.workspace_id == WS)
        )
        return {str(a): str(b) for a, b in rows}


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(sql).fetchall()


def warehouse_graph(url: str) -> dict[str, str]:
    """Each profile's canonical id as the latest id_graph_updates row says."""
    rows = query(
        url,
        f"SELECT DISTINCT ON (segment_id) segment_id, canonical_segment_id "
        f"FROM {SCHEMA}.id_graph_updates ORDER BY segment_id, uuid_ts DESC, seq DESC",
    )
    return dict(rows)


def materialized_graph(url: str) -> dict[str, str]:
    return dict(query(url, f"SELECT segment_id, canonical_segment_id FROM {SCHEMA}.profile_merges"))


def sync(workspace: Workspace, writer: PostgresTables) -> dict[str, int]:
    return sync_once(workspace.app.state, TARGET, WS, writer, datetime.now(UTC)).counts()


@pytest.mark.usefixtures("state_url")
async def test_the_warehouse_graph_follows_merges_and_an_unmerge(
    workspace: Workspace, postgres_url: str
) -> None:
    writer = PostgresTables(postgres_url, SCHEMA)
    await workspace.send(
        [
            identify("m1", "a1", "u1", plan="free"),
            identify("m2", "a2", email="jo@example.com", plan="pro"),
        ]
    )
    sync(workspace, writer)
    assert warehouse_graph(postgres_url) == state_graph(workspace)
    assert len(set(state_graph(workspace).values())) == 2

    await workspace.send([identify("m3", "a2", "u1")])  # a2's profile and u1's are one person
    sync(workspace, writer)
    graph = state_graph(workspace)
    assert len(set(graph.values())) == 1
    assert warehouse_graph(postgres_url) == graph == materialized_graph(postgres_url)
    [person] = set(graph.values())
    traits = dict(query(postgres_url, f"SELECT name, value FROM {SCHEMA}.user_traits"))
    assert traits == {"plan": "pro", "email": "jo@example.com"}
    ids = query(
        postgres_url, f"SELECT type, value, canonical_segment_id FROM {SCHEMA}.user_identifiers"
    )
    assert {(t, v) for t, v, _ in ids} == {
        ("anonymous_id", "a1"),
        ("anonymous_id", "a2"),
        ("user_id", "u1"),
        ("email", "jo@example.com"),
    }
    assert {c for _, _, c in ids} == {person}

    [merge] = [m for p in graph for m in workspace.app.identity.merges_of(WS, p)][:1]
    workspace.app.identity.unmerge(WS, merge.id)
    sync(workspace, writer)
    graph = state_graph(workspace)
    assert len(set(graph.values())) == 2
    assert warehouse_graph(postgres_url) == graph == materialized_graph(postgres_url)
    changes = query(postgres_url, f"SELECT change FROM {SCHEMA}.id_graph_updates")
    assert sorted(c for (c,) in changes) == ["created", "created", "merged", "unmerged"]
    canon = {
        c for (c,) in query(postgres_url, f"SELECT canonical_segment_id FROM {SCHEMA}.user_traits")
    }
    assert canon == set(graph.values())


@pytest.mark.usefixtures("state_url")
async def test_a_run_with_nothing_new_writes_nothing_and_a_retried_run_no_duplicates(
    workspace: Workspace, postgres_url: str
) -> None:
    writer = PostgresTables(postgres_url, SCHEMA)
    await workspace.send([identify("m1", "a1", "u1", plan="free")])
    first = sync(workspace, writer)
    assert first["id_graph_updates"] == 1 and first["external_id_mapping_updates"] == 2

    assert sync(workspace, writer) == {"profiles_replaced": 0, "profiles_removed": 0}

    await workspace.send([identify("m2", "a1", plan="team")])
    from seamline.profiles_sync.changes import diff

    with workspace.app.state.connect() as conn:
        delta = diff(conn, TARGET, WS, datetime.now(UTC))
    writer.apply(delta)  # taken, then the process dies before the snapshot moves
    sync(workspace, writer)  # the next run sends the same rows again
    updates = query(postgres_url, f"SELECT traits FROM {SCHEMA}.profile_traits_updates")
    assert [t["plan"] for (t,) in updates] == ["free", "team"]
    assert Identifier("user_id", "u1")  # ids are normalised as the graph keeps them


@pytest.mark.usefixtures("state_url")
async def test_a_phone_is_synced_as_it_was_sent(workspace: Workspace) -> None:
    """Matching uses the normalised phone; the warehouse shows it as sent, as the Profile API
    does, and the row's hash and id stay on the normalised value."""
    from seamline.profiles_sync.changes import diff

    sent = "+1 (415) 555-0100"
    await workspace.send([identify("m1", "a1", "u1", phone=sent)])
    with workspace.app.state.connect() as conn:
        delta = diff(conn, TARGET, WS, datetime.now(UTC))
    [mapping] = [
        r for r in delta.raw["external_id_mapping_updates"] if r["external_id_type"] == "phone"
    ]
    assert mapping["external_id_value"] == sent
    [identifier] = [r for r in delta.materialized["user_identifiers"] if r["type"] == "phone"]
    assert identifier["value"] == sent
    [(_, normalised, _)] = [i for i in delta.ids if i[0] == "phone"]
    assert normalised != sent and normalised.endswith("4155550100")

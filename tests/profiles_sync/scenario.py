"""The scenario every Profiles Sync writer must pass, whatever it writes into: merges, an
unmerge, a retried run and a deleted person, each checked against the state store by reading
the tables back (`Tables.rows`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seamline.profiles_sync.changes import diff
from seamline.profiles_sync.run import Writer, sync_once
from seamline.store.erase_state import erase_state
from tests.profiles_sync.test_postgres_sync import TARGET, WS, identify, state_graph
from tests.protocols.conftest import Workspace

Rows = Callable[[str], list[dict[str, Any]]]
"""A table's rows as column → value (JSON columns as the writer stores them)."""


@dataclass(frozen=True)
class Person:
    """A person to erase from the state store (`store.subject_keys.SubjectKeys`)."""

    workspace_id: str
    identifiers: Collection[tuple[str, str]]
    profile_ids: Collection[str]
    user_ids: Sequence[str]
    anonymous_ids: Sequence[str]


def latest_graph(rows: Rows) -> dict[str, str]:
    """Each profile's canonical id as its latest `id_graph_updates` row says."""
    found: dict[str, tuple[Any, Any, str]] = {}
    for row in rows("id_graph_updates"):
        key = (_utc(row["uuid_ts"]), int(row["seq"]))
        held = found.get(row["segment_id"])
        if held is None or key >= held[:2]:
            found[str(row["segment_id"])] = (*key, str(row["canonical_segment_id"]))
    return {profile: canonical for profile, (_, _, canonical) in found.items()}


def merged_graph(rows: Rows) -> dict[str, str]:
    return {str(r["segment_id"]): str(r["canonical_segment_id"]) for r in rows("profile_merges")}


def sync(workspace: Workspace, writer: Writer) -> dict[str, int]:
    return sync_once(workspace.app.state, TARGET, WS, writer, datetime.now(UTC)).counts()


async def merges_unmerge_retry_and_delete(
    workspace: Workspace, writer: Writer, rows: Rows, as_json: Callable[[Any], Any]
) -> None:
    """Run the whole scenario against `writer`; `as_json` reads a stored JSON value."""
    await workspace.send(
        [
            identify("m1", "a1", "u1", plan="free"),
            identify("m2", "a2", email="jo@example.com", plan="pro"),
        ]
    )
    sync(workspace, writer)
    assert latest_graph(rows) == state_graph(workspace)

    await workspace.send([identify("m3", "a2", "u1")])  # one person after all
    sync(workspace, writer)
    graph = state_graph(workspace)
    [person] = set(graph.values())
    assert latest_graph(rows) == graph == merged_graph(rows)
    traits = {r["name"]: as_json(r["value"]) for r in rows("user_traits")}
    assert traits == {"plan": "pro", "email": "jo@example.com"}
    assert {r["canonical_segment_id"] for r in rows("user_traits")} == {person}
    assert {(r["type"], r["value"]) for r in rows("user_identifiers")} == {
        ("anonymous_id", "a1"),
        ("anonymous_id", "a2"),
        ("user_id", "u1"),
        ("email", "jo@example.com"),
    }

    [merge] = [m for p in graph for m in workspace.app.identity.merges_of(WS, p)][:1]
    workspace.app.identity.unmerge(WS, merge.id)
    sync(workspace, writer)
    graph = state_graph(workspace)
    assert len(set(graph.values())) == 2
    assert latest_graph(rows) == graph == merged_graph(rows)
    assert sorted(r["change"] for r in rows("id_graph_updates")) == [
        "created",
        "created",
        "merged",
        "unmerged",
    ]
    assert {r["canonical_segment_id"] for r in rows("user_traits")} == set(graph.values())

    # A run whose rows were taken but whose snapshot never moved (the process died) is sent
    # again by the next run: no raw row is there twice.
    await workspace.send([identify("m4", "a1", plan="team")])
    with workspace.app.state.connect() as conn:
        writer.apply(diff(conn, TARGET, WS, datetime.now(UTC)))
    sync(workspace, writer)
    for table in ("id_graph_updates", "external_id_mapping_updates", "profile_traits_updates"):
        ids = [r["id"] for r in rows(table)]
        assert len(ids) == len(set(ids)), table
    plans = [as_json(r["traits"]).get("plan") for r in rows("profile_traits_updates")]
    assert plans.count("team") == 1

    # The person of a1/u1 is erased from the state store: their rows leave every table.
    [(gone, canonical)] = [(p, c) for p, c in graph.items() if c == p and _has(rows, p, "u1")]
    members = [p for p, c in graph.items() if c == canonical]
    erase(
        workspace, Person(WS, [("user_id", "u1"), ("anonymous_id", "a1")], members, ["u1"], ["a1"])
    )
    sync(workspace, writer)
    graph = state_graph(workspace)
    assert gone not in graph and graph
    for table in ("id_graph_updates", "profile_traits_updates"):
        named = {r["segment_id"] for r in rows(table)} | {
            r["canonical_segment_id"] for r in rows(table)
        }
        assert not named & set(members), table
    assert not {r["segment_id"] for r in rows("external_id_mapping_updates")} & set(members)
    for table in ("profile_merges", "user_identifiers", "user_traits"):
        assert {r["canonical_segment_id"] for r in rows(table)} == set(graph.values()), table
    assert latest_graph(rows) == graph == merged_graph(rows)


def erase(workspace: Workspace, person: Person) -> None:
    """Erase `person` from the state store, as a deletion regulation does."""
    erase_state(workspace.app.state, person)


def _has(rows: Rows, canonical: str, user_id: str) -> bool:
    return any(
        r["canonical_segment_id"] == canonical and r["value"] == user_id
        for r in rows("user_identifiers")
    )


def _utc(value: Any) -> datetime:
    """A stored time as an aware datetime (drivers give naive UTC or aware values). None is
    the ClickHouse fake's `uuid_ts`: DuckDB does not take its `DEFAULT now64(6)`, and `seq`
    orders the rows then."""
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

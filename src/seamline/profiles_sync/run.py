"""One Profiles Sync run for one target: diff, write, then move the snapshot.

The snapshot moves only after the target has taken the rows: a crash in between makes the
next run send the same rows again, which the writers drop (raw rows by their id; materialized
rows are replaced per profile).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from seamline.profiles_sync.changes import Delta, diff
from seamline.store.profiles_sync_sql import (
    profiles_sync_graph,
    profiles_sync_ids,
    profiles_sync_traits,
)
from seamline.store.state import chunks

_CHUNK = 500


class Writer(Protocol):
    def apply(self, delta: Delta) -> None: ...


def sync_once(
    state: Engine, target: str, workspace_id: str, writer: Writer, now: datetime
) -> Delta:
    """Send the target what it lacks; returns what was sent."""
    with state.connect() as conn:
        delta = diff(conn, target, workspace_id, now)
    if delta.empty():
        return delta
    writer.apply(delta)
    with state.begin() as conn:
        _record(conn, target, workspace_id, delta)
    return delta


def forget(state: Engine, target: str) -> None:
    """Drop a target's snapshot (its destination was removed, or a full resync is wanted)."""
    with state.begin() as conn:
        for table in (profiles_sync_graph, profiles_sync_ids, profiles_sync_traits):
            conn.execute(delete(table).where(table.c.target == target))


def _record(conn: Connection, target: str, workspace_id: str, delta: Delta) -> None:
    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    gone = delta.removed_profiles
    for chunk in chunks(gone, _CHUNK):
        for table in (profiles_sync_graph, profiles_sync_ids, profiles_sync_traits):
            conn.execute(
                delete(table).where(table.c.target == target, table.c.profile_id.in_(chunk))
            )
    graph = [
        {"target": target, "profile_id": p, "workspace_id": workspace_id, "canonical_id": c}
        for p, c in delta.graph.items()
    ]
    _upsert(conn, upsert, profiles_sync_graph, graph, ["target", "profile_id"], "canonical_id")
    ids = [{"target": target, "type": t, "value": v, "profile_id": p} for t, v, p in delta.ids]
    if ids:
        conn.execute(upsert(profiles_sync_ids).on_conflict_do_nothing(), ids)
    traits = [
        {"target": target, "profile_id": p, "name": n, "updated_at": at}
        for p, n, at in delta.traits
    ]
    keys = ["target", "profile_id", "name"]
    _upsert(conn, upsert, profiles_sync_traits, traits, keys, "updated_at")


def _upsert(
    conn: Connection,
    upsert: Any,
    table: Any,
    rows: Sequence[dict[str, Any]],
    keys: list[str],
    column: str,
) -> None:
    if not rows:
        return
    statement = upsert(table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys], set_={column: statement.excluded[column]}
        ),
        list(rows),
    )

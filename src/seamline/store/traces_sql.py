"""Message traces in the state store: the pipeline's record of each message (one row per log
position) and the deliver role's record of each attempt (one row per attempt).

Both are written in bulk: the pipeline's rows once per batch (one multi-row upsert, so a
batch processed again after a crash rewrites its rows instead of adding more), the attempts
in the outbox's own transactions (`attempt_rows` goes to `SqlOutbox`). Retention prunes both
in small batches by `traced_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import (
    as_utc,
    dead_letters,
    merges,
    message_trace_attempts,
    message_traces,
    sources,
)

PRUNE_BATCH = 1000
"""Rows deleted per transaction when pruning: short transactions, so writers never wait long."""


class TraceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One log position's trace as stored."""

    position: int
    workspace_id: str
    message_id: str
    profile_id: str | None
    traced_at: float
    body: str
    stages: dict[str, Any]


class AttemptRow(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery attempt of a message to one subscription."""

    destination: str
    subscription: str
    attempt: int
    outcome: str
    status: int | None
    error: str | None
    traced_at: float


class SqlTraces:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store the traces of a batch in one statement; a position traced before (the batch
        processed again) gets the new trace."""
        if not rows:
            return
        statement = self._insert(message_traces)
        statement = statement.on_conflict_do_update(
            index_elements=[message_traces.c.position],
            set_={
                "profile_id": statement.excluded.profile_id,
                "traced_at": statement.excluded.traced_at,
                "body": statement.excluded.body,
                "stages": statement.excluded.stages,
            },
        )
        with self._engine.begin() as conn:
            conn.execute(statement, list(rows))

    def find(self, workspace_id: str, message_id: str) -> tuple[list[TraceRow], list[AttemptRow]]:
        """Every trace of `message_id` in log order, and its delivery attempts in order."""
        t, a = message_traces.c, message_trace_attempts.c
        with self._engine.connect() as conn:
            traces = [
                TraceRow(**row._mapping)
                for row in conn.execute(
                    select(message_traces)
                    .where(t.workspace_id == workspace_id, t.message_id == message_id)
                    .order_by(t.position)
                )
            ]
            attempts = [
                AttemptRow(**row._mapping)
                for row in conn.execute(
                    select(
                        a.destination,
                        a.subscription,
                        a.attempt,
                        a.outcome,
                        a.status,
                        a.error,
                        a.traced_at,
                    )
                    .where(a.workspace_id == workspace_id, a.message_id == message_id)
                    .order_by(a.id)
                )
            ]
        return traces, attempts

    def related(self, workspace_id: str, message_id: str) -> dict[str, Any]:
        """What other tables hold of the message, read with its trace: the merges it caused,
        its dead letters, and its sources' names by id."""
        m, d = merges.c, dead_letters.c
        with self._engine.connect() as conn:
            merged = [
                {"mergeId": row.id, "from": row.from_profile, "into": row.into_profile}
                | ({"undoneAt": as_utc(row.undone_at).isoformat()} if row.undone_at else {})
                for row in conn.execute(
                    select(m.id, m.from_profile, m.into_profile, m.undone_at)
                    .where(m.workspace_id == workspace_id, m.message_id == message_id)
                    .order_by(m.id)
                )
            ]
            dead = [
                {
                    "id": row.id,
                    "destination": row.destination,
                    "subscription": row.subscription,
                    "status": row.status,
                    "error": row.error,
                    "attempts": row.attempts,
                    "failedAt": as_utc(row.failed_at).isoformat(),
                    "replayedAt": as_utc(row.replayed_at).isoformat() if row.replayed_at else None,
                }
                for row in conn.execute(
                    select(dead_letters)
                    .where(d.workspace_id == workspace_id, d.message_id == message_id)
                    .order_by(d.id)
                )
            ]
            names = {
                row.id: row.name
                for row in conn.execute(
                    select(sources.c.id, sources.c.name).where(
                        sources.c.workspace_id == workspace_id
                    )
                )
            }
        return {"merges": merged, "deadLetters": dead, "sources": names}

    def prune(self, before: float, limit: int = PRUNE_BATCH) -> int:
        """Delete up to `limit` rows of each table traced before `before` (epoch seconds);
        returns how many went (call again while it returns `limit` or more)."""
        total = 0
        with self._engine.begin() as conn:
            t = message_traces.c
            old = select(t.position).where(t.traced_at < before).limit(limit)
            total += conn.execute(
                delete(message_traces).where(t.position.in_(old.scalar_subquery()))
            ).rowcount
            a = message_trace_attempts.c
            gone = select(a.id).where(a.traced_at < before).limit(limit)
            total += conn.execute(
                delete(message_trace_attempts).where(a.id.in_(gone.scalar_subquery()))
            ).rowcount
        return total

    def count(self) -> int:
        """Rows in both tables (tests and `seamline status`)."""
        with self._engine.connect() as conn:
            traces = conn.execute(select(func.count()).select_from(message_traces)).scalar()
            attempts = conn.execute(
                select(func.count()).select_from(message_trace_attempts)
            ).scalar()
        return int(traces or 0) + int(attempts or 0)


def attempt_row(
    workspace_id: str,
    message_id: str,
    profile_key: str | None,
    destination: str,
    subscription: str,
    attempt: int,
    outcome: str,
    status: int | None,
    error: str | None,
    traced_at: float,
) -> dict[str, Any]:
    """A delivery attempt ready for `insert_attempts`."""
    return {
        "workspace_id": workspace_id,
        "message_id": message_id,
        "profile_key": profile_key,
        "destination": destination,
        "subscription": subscription,
        "attempt": attempt,
        "outcome": outcome,
        "status": status,
        "error": error[:2000] if error is not None else None,
        "traced_at": traced_at,
    }


def insert_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record delivery attempts inside the caller's transaction (the outbox's)."""
    if rows:
        conn.execute(insert(message_trace_attempts), list(rows))

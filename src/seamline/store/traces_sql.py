"""Message traces: the pipeline's record of each message (a row per log position) and the
deliver role's record of each attempt (a row per attempt).

Both are written in bulk: the pipeline's rows once per batch (one multi-row insert), the
attempts in the outbox's own transactions (`attempt_row`, `insert_attempts`). Retention prunes
both in small batches, oldest first.

Where: attempts in the state store, with the outbox. The pipeline's traces in the state store
on PostgreSQL; embedded, in a SQLite file of their own beside it (`TRACE_FILE`, like dedup's):
SQLite has one writer at a time, and a batch's traces written into the state store's file
held up the next batch's identity and traits writes (measured: the pipeline 29-30 % slower,
against ~7 % with the traces in a file of their own).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.schema import CreateIndex, CreateTable

from seamline.store.erase_state import checkpoint
from seamline.store.sqlite_cursors import CONNECT_ARGS, close_cursors_at_checkin
from seamline.store.state import (
    as_utc,
    dead_letters,
    merges,
    message_trace_attempts,
    message_traces,
    sources,
)

_encode = msgspec.json.Encoder().encode

TRACE_FILE = "traces.sqlite"
"""The embedded pipeline's traces, in the data directory."""
_CHUNK = 500

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


def open_trace_file(path: Path) -> Engine:
    """The SQLite file of the embedded pipeline's traces, its table made if missing (by
    whichever process opens it first: the pipeline writes, the API reads)."""
    engine = create_engine(f"sqlite:///{path}", connect_args=CONNECT_ARGS)
    event.listen(engine, "connect", _pragmas)
    close_cursors_at_checkin(engine)
    with engine.begin() as conn:
        conn.execute(CreateTable(message_traces, if_not_exists=True))
        for index in message_traces.indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))
    return engine


def _pragmas(connection: Any, _record: object) -> None:
    # As the state store's: WAL for a reader beside the writer, a patient writer, and deleted
    # rows zeroed (an erased person's traces leave no bytes in free pages).
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def trace_store(state: Engine, file: Path | None) -> SqlTraces:
    """The traces of a deployment: in `file` beside an embedded (SQLite) state store, else in
    the state store itself."""
    if file is None or state.dialect.name != "sqlite":
        return SqlTraces(state)
    return SqlTraces(open_trace_file(file), state)


class SqlTraces:
    def __init__(self, engine: Engine, state: Engine | None = None) -> None:
        """`engine` holds the pipeline's traces; `state` (default: the same) the attempts,
        sources, merges and dead letters."""
        self._engine = engine
        self._state = state or engine
        postgres = engine.dialect.name == "postgresql"
        mark, stages = ("%s", "CAST(%s AS JSON)") if postgres else ("?", "?")
        self._insert = (
            "INSERT INTO message_traces (position, workspace_id, message_id, profile_id,"
            f" traced_at, body, stages) VALUES ({', '.join([mark] * 6)}, {stages})"
        )

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store the traces of a batch in one statement. A batch processed again (after a
        crash) adds its traces again: `find` keeps the newest per log position."""
        if not rows:
            return
        # Straight to the driver's executemany, `stages` encoded here: SQLAlchemy's per-row
        # parameter processing cost 12-20 µs per trace, more than the rest of tracing.
        values = [
            (
                row["position"],
                row["workspace_id"],
                row["message_id"],
                row["profile_id"],
                row["traced_at"],
                row["body"],
                _encode(row["stages"]).decode(),
            )
            for row in rows
        ]
        with self._engine.begin() as conn:
            conn.exec_driver_sql(self._insert, values)

    def find(self, workspace_id: str, message_id: str) -> tuple[list[TraceRow], list[AttemptRow]]:
        """Every trace of `message_id` in log order (the newest of a position written twice),
        and its delivery attempts in order."""
        t, a = message_traces.c, message_trace_attempts.c
        newest: dict[int, TraceRow] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(
                select(t.position, t.workspace_id, t.message_id, t.profile_id, t.traced_at, t.body)
                .add_columns(t.stages)
                .where(t.workspace_id == workspace_id, t.message_id == message_id)
                .order_by(t.id)
            ):
                newest[row.position] = TraceRow(**row._mapping)
        traces = [newest[p] for p in sorted(newest)]
        with self._state.connect() as conn:
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
        with self._state.connect() as conn:
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
        """Of the `limit` oldest rows of each table, delete those traced before `before`
        (epoch seconds); returns how many went (call again while it returns `limit` or more).

        Rows are written in time order, so the oldest ids are the oldest traces: this reads
        at most `limit` rows per table and needs no index on the time (a few rows a worker
        with a slower clock wrote wait for the next pruning)."""
        total = 0
        for engine, table in (
            (self._engine, message_traces),
            (self._state, message_trace_attempts),
        ):
            with engine.begin() as conn:
                oldest = select(table.c.id).order_by(table.c.id).limit(limit).scalar_subquery()
                total += conn.execute(
                    delete(table).where(table.c.id.in_(oldest), table.c.traced_at < before)
                ).rowcount
        return total

    def forget_messages(self, keys: Iterable[tuple[str, str]]) -> int:
        """Delete the traces of erased messages, by (source id, messageId), from a trace file
        of its own, zeroing their bytes and truncating the WAL (a deletion regulation; the
        state store's erasure deletes those it holds). Returns how many went."""
        if self._engine is self._state:
            return 0
        by_source: dict[str, list[str]] = {}
        for source_id, message_id in keys:
            by_source.setdefault(source_id, []).append(message_id)
        if not by_source:
            return 0
        with self._state.connect() as conn:
            workspace_of = {
                row.id: row.workspace_id
                for row in conn.execute(select(sources.c.id, sources.c.workspace_id))
            }
        t = message_traces.c
        forgotten = 0
        with self._engine.begin() as conn:
            for source_id, message_ids in by_source.items():
                workspace_id = workspace_of.get(source_id)
                for start in range(0, len(message_ids), _CHUNK):
                    chunk = message_ids[start : start + _CHUNK]
                    where = t.message_id.in_(chunk)
                    if workspace_id is not None:
                        where = (t.workspace_id == workspace_id) & where
                    forgotten += conn.execute(delete(message_traces).where(where)).rowcount
        with self._engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            checkpoint(raw)  # the WAL's older copies of the deleted rows go too
        return forgotten

    def close(self) -> None:
        """Close a trace file of its own (the state store is closed by its owner)."""
        if self._engine is not self._state:
            self._engine.dispose()

    def count(self) -> int:
        """Rows in both tables (tests and `seamline status`)."""
        with self._engine.connect() as conn:
            traces = conn.execute(select(func.count()).select_from(message_traces)).scalar()
        with self._state.connect() as conn:
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

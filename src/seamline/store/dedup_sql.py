"""Remembered (source, messageId) pairs for dedup, in the state store (SQLite or PostgreSQL).

The scaled-out counterpart of `SqliteSeenMessages`: every pipeline worker, on any machine,
shares one `seen_messages` table. Each key keeps the log position where it was first seen;
positions are unique across partitions, so replaying a record is still told apart from a
duplicate of it that another partition holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, bindparam, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import chunks, seen_messages

_KEYS_PER_QUERY = 5000  # message ids per IN list, under SQLite's 32,766 bound parameters
_ROWS_PER_DELETE = 5000  # rows per pruning transaction: each one holds its locks briefly

_c = seen_messages.c
# Built once: expanding IN parameters keep SQLAlchemy's compiled-statement cache warm.
_FIRST_OFFSETS = select(_c.message_id, _c.first_offset).where(
    _c.source_id == bindparam("source_id"),
    _c.message_id.in_(bindparam("message_ids", expanding=True)),
)
# SKIP LOCKED (PostgreSQL; SQLite has one writer and ignores it): two workers pruning at once
# take different rows instead of waiting for, or deadlocking with, each other.
_EXPIRED = (
    select(_c.source_id, _c.message_id)
    .where(_c.seen_at < bindparam("before"))
    .limit(_ROWS_PER_DELETE)
    .with_for_update(skip_locked=True)
)
_FORGET = delete(seen_messages).where(tuple_(_c.source_id, _c.message_id).in_(_EXPIRED))


class SqlSeenMessages:
    """`SeenMessages` in the state store, safe for several pipeline workers at once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # A key another worker stored first keeps its position: this insert leaves it alone
        # instead of failing the whole batch on the primary key.
        self._remember = insert(seen_messages).on_conflict_do_nothing()

    def first_offsets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The position each already-seen key was first seen at; unseen keys are absent."""
        by_source: dict[str, list[str]] = {}
        for source_id, message_id in keys:
            by_source.setdefault(source_id, []).append(message_id)
        found: dict[tuple[str, str], int] = {}
        with self._engine.connect() as conn:
            for source_id, message_ids in by_source.items():
                for chunk in chunks(dict.fromkeys(message_ids), _KEYS_PER_QUERY):
                    rows = conn.execute(
                        _FIRST_OFFSETS, {"source_id": source_id, "message_ids": chunk}
                    )
                    for message_id, offset in rows:
                        found[(source_id, message_id)] = offset
        return found

    def remember(self, entries: Sequence[tuple[str, str, int, float]]) -> None:
        """Record (source, messageId, position, seen_at) for keys not stored yet, in one
        transaction; a key already stored, by this worker or another, keeps its position."""
        if not entries:
            return
        # Sorted, so two workers inserting overlapping keys lock them in the same order and
        # one waits for the other instead of deadlocking.
        rows = [
            {"source_id": s, "message_id": m, "first_offset": o, "seen_at": t}
            for s, m, o, t in sorted(entries)
        ]
        with self._engine.begin() as conn:
            conn.execute(self._remember, rows)

    def forget_before(self, seen_at: float) -> int:
        """Drop entries older than `seen_at` (epoch seconds), a bounded chunk per transaction;
        returns how many."""
        total = 0
        while True:
            with self._engine.begin() as conn:
                deleted = conn.execute(_FORGET, {"before": seen_at}).rowcount
            total += deleted
            if deleted < _ROWS_PER_DELETE:
                return total

    def close(self) -> None:
        """Nothing to release: the engine belongs to the caller, who disposes of it."""

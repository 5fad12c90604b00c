"""Remembered (source, messageId) pairs for dedup, in a SQLite file beside the log.

Each pair records the log offset where it was first seen: replaying that same record after a
crash is then recognised as the original, not as a duplicate of itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

_CHUNK = 900  # keeps each query under SQLite's bound-parameter limit


class SqliteSeenMessages:
    """`SeenMessages` in SQLite; entries older than the window are pruned."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen (source_id TEXT NOT NULL, message_id TEXT NOT NULL,"
            " first_offset INTEGER NOT NULL, seen_at REAL NOT NULL,"
            " PRIMARY KEY (source_id, message_id)) WITHOUT ROWID"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS seen_by_time ON seen (seen_at)")

    def first_offsets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The offset each already-seen key was first seen at; unseen keys are absent."""
        by_source: dict[str, list[str]] = {}
        for source_id, message_id in keys:
            by_source.setdefault(source_id, []).append(message_id)
        found: dict[tuple[str, str], int] = {}
        for source_id, message_ids in by_source.items():
            # `source_id = ? AND message_id IN (…)` walks the primary key; a row-value
            # `IN (VALUES …)` made SQLite scan the whole table (18 ms per 400 keys at 100k ids).
            for start in range(0, len(message_ids), _CHUNK):
                chunk = message_ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT message_id, first_offset FROM seen"
                    f" WHERE source_id = ? AND message_id IN ({marks})",
                    [source_id, *chunk],
                )
                for message_id, offset in rows:
                    found[(source_id, message_id)] = offset
        return found

    def claim(self, entries: Sequence[tuple[str, str, int, float]]) -> dict[tuple[str, str], int]:
        """Record the keys not seen before and return every key's first offset, in one
        transaction. BEGIN IMMEDIATE takes the write lock first, so no other writer comes
        between the lookup and the insert; looking up first reads back only the keys seen
        before (few), not the whole batch (measured 10-13 us per message, against 18-21 when
        inserting first and reading every key back)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            found = self.first_offsets([(s, m) for s, m, _, _ in entries])
            fresh = [e for e in entries if (e[0], e[1]) not in found]
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", fresh)
            for source_id, message_id, offset, _ in fresh:
                found.setdefault((source_id, message_id), offset)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return found

    def remember(self, entries: Sequence[tuple[str, str, int, float]]) -> None:
        """Record (source, messageId, offset, seen_at) for keys not seen before."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", entries)
        self._db.execute("COMMIT")

    def forget_before(self, seen_at: float) -> int:
        """Drop entries older than `seen_at` (epoch seconds); returns how many."""
        return self._db.execute("DELETE FROM seen WHERE seen_at < ?", (seen_at,)).rowcount

    def forget_messages(self, keys: Iterable[tuple[str, str]]) -> int:
        """Drop the (source, messageId) keys of erased messages (a deletion regulation) with
        their bytes: deleted rows' space is zeroed (secure_delete) and the WAL, which holds
        earlier copies of the pages, is checkpointed and truncated. Returns how many."""
        by_source: dict[str, list[str]] = {}
        for source_id, message_id in keys:
            by_source.setdefault(source_id, []).append(message_id)
        forgotten = 0
        self._db.execute("PRAGMA secure_delete = ON")
        try:
            self._db.execute("BEGIN")
            try:
                for source_id, message_ids in by_source.items():
                    for start in range(0, len(message_ids), _CHUNK):
                        chunk = message_ids[start : start + _CHUNK]
                        marks = ",".join("?" * len(chunk))
                        forgotten += self._db.execute(
                            f"DELETE FROM seen WHERE source_id = ? AND message_id IN ({marks})",
                            [source_id, *chunk],
                        ).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            # Only for this: zeroing every freed page slows the window's pruning.
            self._db.execute("PRAGMA secure_delete = OFF")
        return forgotten

    def close(self) -> None:
        self._db.close()

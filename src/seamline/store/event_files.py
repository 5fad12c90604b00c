"""The event store's catalog: which Parquet files hold the history, in the state store.

Writers add a row per file they write; readers list the live rows and read those files. A
file replaced by compaction or a rewrite is retired in the same transaction that adds its
replacement, so a reader sees the old files or the new one, never both or neither. A file's
row says how its rows are ordered (`sorted_by`), so compaction knows which files to re-sort.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, and_, delete, func, insert, select, update

from seamline.store.state import event_files


class EventFile(NamedTuple):
    id: int
    path: str  # relative to the lake's root
    partition: int
    first_position: int
    last_position: int
    rows: int
    bytes: int
    sorted_by: str | None = None
    """The column the rows are sorted by (`events_lake.PROFILE_ORDER`); None: in log order, as
    the pipeline writes them (and as every file written before the column existed is)."""
    profile_filter: builtins.bytes | None = None  # `bytes` is a field's name here
    """A Bloom filter of the file's profile ids (`profile_filter`), stored by `add`/`replace`;
    `live` leaves it out (it is up to a few hundred KB): see `profile_filters`."""


class EventFiles:
    """The catalog over a state-store engine (SQLite embedded, PostgreSQL scaled out)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, files: Sequence[EventFile]) -> None:
        self.replace([], files)

    def replace(self, retired: Sequence[EventFile], added: Sequence[EventFile]) -> None:
        """In one transaction: retire `retired`, list `added`."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            if retired:
                conn.execute(
                    update(event_files)
                    .where(event_files.c.id.in_([f.id for f in retired]))
                    .values(retired_at=now)
                )
            if added:
                conn.execute(
                    insert(event_files),
                    [
                        {
                            "path": f.path,
                            "log_partition": f.partition,
                            "first_position": f.first_position,
                            "last_position": f.last_position,
                            "rows": f.rows,
                            "bytes": f.bytes,
                            "sorted_by": f.sorted_by,
                            "profile_filter": f.profile_filter,
                            "created_at": now,
                        }
                        for f in added
                    ],
                )

    def live(self, partition: int | None = None) -> list[EventFile]:
        query = select(
            event_files.c.id,
            event_files.c.path,
            event_files.c.log_partition,
            event_files.c.first_position,
            event_files.c.last_position,
            event_files.c.rows,
            event_files.c.bytes,
            event_files.c.sorted_by,
        ).where(event_files.c.retired_at.is_(None))
        if partition is not None:
            query = query.where(event_files.c.log_partition == partition)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(event_files.c.first_position)).all()
        return [EventFile(*row) for row in rows]

    def profile_filters(self, ids: Sequence[int]) -> dict[int, bytes | None]:
        """The profile filters of these files (None: a file without one)."""
        if not ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(event_files.c.id, event_files.c.profile_filter).where(
                    event_files.c.id.in_(list(ids))
                )
            ).all()
        return {int(row[0]): row[1] for row in rows}

    def version(self) -> tuple[int, int]:
        """Changes whenever the live set does (a file listed, retired or dropped)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(
                    func.coalesce(func.max(event_files.c.id), 0),
                    func.count().filter(event_files.c.retired_at.is_(None)),
                )
            ).one()
        return int(row[0]), int(row[1])

    def rows(self) -> int:
        with self._engine.connect() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(event_files.c.rows), 0)).where(
                    event_files.c.retired_at.is_(None)
                )
            ).scalar_one()
        return int(total)

    def overlapping(self, start: int, end: int) -> list[EventFile]:
        """Live files holding any position in [start, end)."""
        return [f for f in self.live() if f.first_position < end and f.last_position >= start]

    def retired_before(self, grace: timedelta) -> list[str]:
        cut = datetime.now(UTC) - grace
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(event_files.c.path).where(
                    and_(event_files.c.retired_at.is_not(None), event_files.c.retired_at < cut)
                )
            ).all()
        return [row[0] for row in rows]

    def forget(self, paths: Sequence[str]) -> None:
        """Drop catalog rows of files that are gone from disk."""
        if paths:
            with self._engine.begin() as conn:
                conn.execute(delete(event_files).where(event_files.c.path.in_(list(paths))))

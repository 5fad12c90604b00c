"""The swap of an online rebuild: the shadow's derived state replaces the live one in one
transaction of the live state store, so every reader sees the old state or the new, never a
mix.

The shadow's event files are moved into the live lake's directory first (unlisted there, no
reader sees them) and listed in the same transaction that retires the live files; those stay on
disk for the lake's usual grace period and are then removed by the pipeline's compactor. A
failure before the commit removes the moved files again and leaves the live state as it was.
The consumer offsets and the dedup state are not swapped: the shadow replays exactly the
records the paused pipeline had committed, and dedup depends on the log alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from seamline.data_dir import DataDir

LAKE_CATALOG = "event_files"


def swap(
    live: DataDir,
    shadow: Path,
    tables: tuple[str, ...],
    *,
    also: Callable[[sqlite3.Connection], None] | None = None,
) -> int:
    """Replace the rows of `tables` and the lake's catalog by the shadow's; event files
    listed. `also` runs last in the same transaction (e.g. activating identity rules)."""
    with _interrupts_deferred():
        files = _live_files(shadow / "state.db")
        moved: list[Path] = []
        committed = False
        try:
            for path in files:
                moved.append(_move(shadow / "events" / path, live.events / path))
            _sync_directories({p.parent for p in moved})
            _transaction(live.state_db, shadow / "state.db", tables, also)
            committed = True
        finally:
            if not committed:
                for target in moved:
                    target.unlink(missing_ok=True)
    return len(files)


def _live_files(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute(
            f"SELECT path FROM {LAKE_CATALOG} WHERE retired_at IS NULL"
        ).fetchall()
    finally:
        connection.close()
    return [str(row[0]) for row in rows]


def _move(source: Path, target: Path) -> Path:
    if target.exists():  # names carry a random part: this means a bug, not bad luck
        raise FileExistsError(f"{target} exists already; the live event store is unchanged")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)
    return target


def _sync_directories(directories: set[Path]) -> None:
    """A rename is durable once its directory is: before the catalog lists the files."""
    for directory in directories:
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _columns(connection: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _transaction(
    database: Path,
    shadow: Path,
    tables: tuple[str, ...],
    also: Callable[[sqlite3.Connection], None] | None,
) -> None:
    connection = sqlite3.connect(database, timeout=60, isolation_level=None)
    try:
        connection.execute("ATTACH DATABASE ? AS shadow", (str(shadow),))
        connection.execute("BEGIN IMMEDIATE")
        try:
            for table in tables:
                columns = ", ".join(f'"{c}"' for c in _columns(connection, "main", table))
                connection.execute(f'DELETE FROM main."{table}"')
                connection.execute(
                    f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM shadow."{table}"'
                )
            # SQLAlchemy's SQLite format for DateTime, so the compactor's grace applies.
            now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            connection.execute(
                f"UPDATE main.{LAKE_CATALOG} SET retired_at = ? WHERE retired_at IS NULL", (now,)
            )
            kept = [
                c
                for c in _columns(connection, "main", LAKE_CATALOG)
                if c not in ("id", "retired_at")
            ]
            columns = ", ".join(f'"{c}"' for c in kept)
            connection.execute(
                f"INSERT INTO main.{LAKE_CATALOG} ({columns}) SELECT {columns}"
                f" FROM shadow.{LAKE_CATALOG} WHERE retired_at IS NULL"
            )
            if also is not None:
                also(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C during the swap takes effect once it is done or undone, not halfway."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked: list[int] = []

    def remember(number: int, _frame: FrameType | None) -> None:
        asked.append(number)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if asked:
        raise KeyboardInterrupt

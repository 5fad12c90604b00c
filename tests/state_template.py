"""Migrated state stores to copy: running every migration costs a test 0.3 s of CPU on SQLite
and 1.5 s on a loaded PostgreSQL, copying a migrated one next to nothing."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from seamline.data_dir import DataDir, make_private
from seamline.store.state import open_state_store


@functools.cache
def migrated_sqlite_state() -> bytes:
    """The file of an empty SQLite state store at the newest migration (made once a process):
    written to a path, it is what `open_state_store` would have made there."""
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "state.db"
        open_state_store(f"sqlite:///{path}").dispose()  # the last close folds the WAL in
        return path.read_bytes()


def seed_data_dir(data_dir: Path) -> None:
    """Make `data_dir` as Seamline makes a data directory (private), with a copy of the
    migrated state store where it keeps it: for an in-process app's fixture, before its
    `bootstrap`."""
    make_private(data_dir)
    DataDir(data_dir).state_db.write_bytes(migrated_sqlite_state())

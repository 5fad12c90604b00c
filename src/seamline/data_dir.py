"""The data directory: where each embedded store lives in it, and opening its state store.

Kept apart from `app.py` so that the CLI's quick commands (`sources list`, `tokens create`,
`events count` …) reach the stores without importing the server, its APIs and the engines.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from seamline.config import Settings
from seamline.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from seamline.store.sources_sql import SqlSourceStore


class DataDir:
    """Where each embedded store lives inside the data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_db = root / "state.db"
        self.log = root / "log"
        self.events = root / "events"
        self.dedup = root / "pipeline" / "dedup.sqlite"
        self.progress = root / "pipeline" / "progress.json"
        self.health = root / "pipeline" / "health.json"
        self.functions = root / "functions"
        self.lock = root / ".serve.lock"
        self.roles = root / "run" / "roles.json"

    def state_url(self) -> str:
        return f"sqlite:///{self.state_db}"


def require_data_dir(settings: Settings, *, state_only: bool = False) -> None:
    """Refuse a data directory that `serve` (or `init`) never made, instead of quietly starting
    an empty workspace there: a mistyped `--data-dir` must not look like "no data yet".

    `state_only` commands touch nothing but the state store, so with `database_url` set
    (PostgreSQL) they need no local data directory at all.
    """
    if state_only and settings.database_url:
        return
    paths = DataDir(settings.data_dir)
    root = paths.root
    fix = f"start `seamline --data-dir {root} serve` (or `init`) first, or fix --data-dir"
    if not root.is_dir():
        raise InvalidInput(f"no Seamline data directory at {root}; {fix}")
    if settings.database_url is None and not paths.state_db.is_file():
        raise InvalidInput(f"{root} is not a Seamline data directory (no state.db); {fix}")


PRIVATE_UMASK = 0o077
"""Files 0600 and directories 0700: the data directory holds the PII salt, secret.key (which
unseals every destination secret), the state database and every accepted message."""


def make_private(root: Path) -> None:
    """Create `root` (0700) unless it exists, and close it to everyone else if it was open.

    Nothing inside can then be reached by another user, whatever its own mode (files an older
    version left 0644, or made under a loose umask). The `seamline` command also sets its
    umask to PRIVATE_UMASK, so the files themselves are 0600; library code leaves the umask of
    a process it is embedded in alone (it would change the modes of that process's own files).
    """
    old = os.umask(PRIVATE_UMASK)  # for the directories mkdir makes, then restored
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    finally:
        os.umask(old)
    if stat.S_IMODE(root.stat().st_mode) & ~0o700:
        root.chmod(0o700)


def open_state(settings: Settings) -> Engine:
    """The state store: SQLite in the data directory (created on first use), or PostgreSQL at
    `database_url`, which needs no local directory."""
    from seamline.store.state import open_state_store

    if settings.database_url:
        return open_state_store(settings.database_url)
    paths = DataDir(settings.data_dir)
    make_private(paths.root)
    return open_state_store(paths.state_url())


def open_sources(settings: Settings) -> SqlSourceStore:
    """The source store of the data directory (created on first use)."""
    from seamline.store.sources_sql import SqlSourceStore

    return SqlSourceStore(open_state(settings))

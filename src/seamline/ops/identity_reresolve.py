"""Re-resolve history under a new version of a workspace's identity rules, while ingest goes on.

The online rebuild does the work (`rebuild_online`): the derived stores are replayed from the
log into a shadow, with the new version active there, while the live pipeline keeps serving;
then the pipeline pauses, the shadow catches up to what it committed, and one transaction of
the live state store swaps the shadow's derived rows in and activates the version
(`identity_rules_sql.activate`), so the rules in force and the re-resolved graph change
together. The pipeline starts again and loads the new rules. Separations (unmerges) are
configuration, not derived: the shadow starts with them and they stay.

- **Embedded (SQLite).** The shadow is a copy of the state store under `rebuild/` with its own
  event store; the swap also puts the re-attributed event files in place.
- **PostgreSQL** (`database_url`): the shadow is a schema of the same database
  (`identity_shadow_pg`); events already stored keep their `profile_id`, and old profiles the new
  graph lacks stay members of a new person so their events are still found.

The pause is the data directory's (`roles.pause`), which reaches every pipeline process of the
local log; a JetStream log (`log_url`), whose workers run on several machines, is refused.

One re-resolution at a time: the version is `applying` while it runs; a failure or Ctrl-C
before the swap leaves the live state as it was and marks the version `failed` with the error.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from seamline.collect.sources import DEFAULT_WORKSPACE_ID
from seamline.config import Settings
from seamline.data_dir import DataDir, open_state
from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.ops.identity_replay import refuse_unless_local_log
from seamline.ops.rebuild import DERIVED_TABLES, REBUILD_RETRIES, SWAPPED_TABLES
from seamline.ops.rebuild_online import Progress, ShadowStore, rebuild_online
from seamline.ops.rebuild_shadow import copy_state
from seamline.ops.rebuild_swap import swap
from seamline.roles.locks import ServeLock
from seamline.store.identity_rules_sql import SqlIdentityRules, activate

MAX_ERROR = 2000
"""Characters of a failure's message kept with the version."""
PROGRESS_EVERY = 1.0
"""Seconds between two progress notes in the state store (GET /rules/{version})."""


NEW_SEPARATIONS = (
    "SELECT 1 FROM {live}.separations l"
    " WHERE NOT EXISTS (SELECT 1 FROM {shadow}.separations s WHERE s.id = l.id) LIMIT 1"
)
"""A separation the live graph has and the shadow does not: an unmerge made while the shadow
replayed, which its graph does not reflect."""
UNMERGED_MEANWHILE = (
    "a profile was unmerged while the history was being re-resolved, and the re-resolved graph "
    "does not show it; the live state is unchanged: apply the version again"
)


class Reresolved(NamedTuple):
    version: int
    processed: int  # log records replayed
    errors_held: int
    files: int  # event files swapped in (0 on PostgreSQL: stored events stay)


def reresolve(
    settings: Settings,
    version: int,
    on_progress: Progress,
    *,
    workspace_id: str = DEFAULT_WORKSPACE_ID,
) -> Reresolved:
    """Re-resolve history under `version` of the workspace's rules online and make it the
    active version; `on_progress(phase, done, total)` with phases `shadow`, `pause`,
    `catch-up` and `swap`. Raises `Conflict` while another version is applying."""
    refuse_unless_local_log(settings)
    embedded = DataDir(settings.data_dir).state_db
    url = settings.database_url or ""
    # The SQLite shadow is a copy of the data directory's state.db; another file is not it.
    if url.startswith("sqlite") and Path(url.split(":///", 1)[-1]).resolve() != embedded.resolve():
        raise InvalidInput(
            "re-resolution supports PostgreSQL or the data directory's own state.db; "
            f"database_url is {settings.database_url}: unset it or point it at {embedded}"
        )
    if settings.events_url and not settings.database_url:
        raise InvalidInput("re-resolution with events_url needs database_url (PostgreSQL) as well")
    engine = open_state(settings)
    try:
        rules = SqlIdentityRules(engine)
        _start(settings, rules, workspace_id, version)
        noted = _Noted(rules, workspace_id, version, on_progress)
        try:
            store = (
                _postgres_store(settings, workspace_id, version)
                if engine.dialect.name == "postgresql"
                else _sqlite_store(workspace_id, version)
            )
            done = rebuild_online(
                settings,
                tuple(t.name for t in DERIVED_TABLES),
                SWAPPED_TABLES,
                noted,
                max_retries=REBUILD_RETRIES,
                store=store,
            )
        except BaseException as failure:
            why = "interrupted" if isinstance(failure, KeyboardInterrupt) else str(failure)
            error = (why or type(failure).__name__)[:MAX_ERROR]
            rules.mark(workspace_id, version, "failed", error=error)
            raise
        return Reresolved(version, done.processed, done.errors_held, done.files)
    finally:
        engine.dispose()


def _start(settings: Settings, rules: SqlIdentityRules, workspace_id: str, version: int) -> None:
    found = rules.get(workspace_id, version)
    if found is None:
        raise NotFound(f"identity rules version {version} does not exist")
    if found.state == "active":
        raise Conflict(f"identity rules version {version} is active already")
    applying = [v.version for v in rules.versions(workspace_id) if v.state == "applying"]
    if applying and reresolution_running(settings):
        raise Conflict(
            f"identity rules version {applying[0]} is being applied; wait until it is done"
        )
    for other in applying:
        if other != version:  # its process stopped (killed) before it could say so
            rules.mark(workspace_id, other, "failed", error=STALE)
    rules.mark(workspace_id, version, "applying")


STALE = "the process applying it stopped before it was done"


def reresolution_running(settings: Settings) -> bool:
    """Whether a rebuild or re-resolution holds the data directory's `.rebuild.lock` now."""
    lock = ServeLock(DataDir(settings.data_dir).root / ".rebuild.lock", "rebuild")
    try:
        lock.acquire()
    except Conflict:
        return True
    lock.release()
    return False


class _Noted:
    """`on_progress`, also noted in the state store at most every `PROGRESS_EVERY` seconds
    (and at every new phase), for whoever asks how far it is."""

    def __init__(
        self, rules: SqlIdentityRules, workspace_id: str, version: int, on_progress: Progress
    ) -> None:
        self._rules = rules
        self._at = (workspace_id, version)
        self._on_progress = on_progress
        self._phase = ""
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        self._on_progress(phase, done, total)
        now = time.monotonic()
        if phase != self._phase or now - self._last >= PROGRESS_EVERY:
            self._phase, self._last = phase, now
            self._rules.record_progress(*self._at, phase, done, total)


def _sqlite_store(workspace_id: str, version: int) -> ShadowStore:
    def copy(live: DataDir, root: Path, derived: tuple[str, ...]) -> None:
        copy_state(live, root, derived)
        # The shadow pipeline resolves under the rules active in its own state store.
        engine = create_engine(f"sqlite:///{root / 'state.db'}")
        try:
            with engine.begin() as conn:
                activate(conn, workspace_id, version)
        finally:
            engine.dispose()

    def activate_here(raw: sqlite3.Connection) -> None:
        # `rebuild_swap` attached the shadow's store as `shadow`.
        if raw.execute(NEW_SEPARATIONS.format(live="main", shadow="shadow")).fetchone():
            raise Conflict(UNMERGED_MEANWHILE)
        _activate_in(raw, workspace_id, version)

    def swap_and_activate(live: DataDir, root: Path, tables: tuple[str, ...]) -> int:
        return swap(live, root, tables, also=activate_here)

    return ShadowStore(copy=copy, swap=swap_and_activate)


def _postgres_store(settings: Settings, workspace_id: str, version: int) -> ShadowStore:
    from seamline.ops.identity_shadow_pg import shadow_store

    return shadow_store(settings, workspace_id, version)


class _InTransaction:
    """The swap's sqlite3 connection handed to SQLAlchemy: its commit, rollback and close do
    nothing, because the swap began the transaction and ends it itself."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _activate_in(raw: sqlite3.Connection, workspace_id: str, version: int) -> None:
    """`activate` inside the swap's open SQLite transaction."""
    engine = create_engine("sqlite://", creator=lambda: _InTransaction(raw), poolclass=StaticPool)
    try:
        with engine.connect() as conn:
            activate(conn, workspace_id, version)
    finally:
        engine.dispose()

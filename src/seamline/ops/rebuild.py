"""Rebuild every derived store by replaying the log from the first record.

The log is the source of truth (ARCHITECTURE rule 3): the identity graph, traits, accounts,
dedup state and event store are cut back to nothing and the pipeline runs over the whole log
again. Configuration survives — workspaces, sources, tokens, workspace resources (plans,
transformations, controls) and the separations recorded by unmerges — so a rebuild applies
today's rules (and every unmerge) from the very first event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import delete

from seamline.app import Seamline, ServeLock
from seamline.config import Settings
from seamline.data_dir import DataDir, open_state
from seamline.errors import Unavailable
from seamline.log.local import LocalLog
from seamline.pipeline.runner import CONSUMER
from seamline.store.state import (
    account_members,
    accounts,
    data_inventory,
    held_events,
    identities,
    merges,
    profile_consent,
    profile_traits,
    profiles,
    violations,
)

DERIVED_TABLES = (
    account_members,
    accounts,
    profile_traits,
    merges,
    identities,
    profiles,
    violations,
    held_events,
    data_inventory,
    profile_consent,
)


def _remove(path: Path) -> None:
    for candidate in (path, *path.parent.glob(path.name + "*")):
        candidate.unlink(missing_ok=True)


def reset_derived(settings: Settings) -> int:
    """Empty the derived stores and rewind the pipeline; returns how many records to replay."""
    paths = DataDir(settings.data_dir)
    lock = ServeLock(paths.lock)
    lock.acquire()  # refuses while a server runs on this data directory
    try:
        engine = open_state(settings)
        try:
            with engine.begin() as conn:
                for table in DERIVED_TABLES:
                    conn.execute(delete(table))
        finally:
            engine.dispose()
        for store in (paths.events, paths.dedup, paths.progress):
            _remove(store)
        log = LocalLog(paths.log, fsync=settings.log_fsync)
        try:
            asyncio.run(log.commit(CONSUMER, 0))
            return log.end_offset_sync()
        finally:
            log.close_sync()
    finally:
        lock.release()


# A rebuild is attended: an outage that outlasts these retries (about a minute) fails it.
REBUILD_RETRIES = 6


class Replayed(NamedTuple):
    processed: int
    errors_held: int  # records a stage raised on, held with disposition `error`


def replay(settings: Settings, on_progress: Callable[[int], None]) -> Replayed:
    """Run the pipeline over the whole log (after `reset_derived`).

    Raises `Unavailable` when the pipeline cannot reach the end of the log (it stopped, or a
    store stayed unreachable through the retries); what was replayed so far stays.
    """

    async def run() -> Replayed:
        app = Seamline(settings)
        app.guard.backoff.max_retries = REBUILD_RETRIES
        await app.start()
        runner = app.runner
        assert runner is not None
        end = await app.log.end_offset()
        while runner.offset < end and app.failure is None:
            on_progress(runner.offset)
            await asyncio.sleep(0.2)
        failure = app.failure
        await app.stop()
        on_progress(runner.offset)
        if failure is not None or runner.offset < end:
            why = f"{type(failure).__name__}: {failure}" if failure else "it stopped early"
            raise Unavailable(
                f"rebuild stopped at log record {runner.offset} of {end}: {why}; fix the cause "
                "and run `seamline rebuild` again"
            )
        return Replayed(runner.offset, app.guard.errors_held)

    return asyncio.run(run())

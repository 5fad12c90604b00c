"""Rebuild every derived store by replaying the log from the first record.

The log is the source of truth (ARCHITECTURE rule 3): the identity graph, traits, accounts,
dedup state and event store are cut back to nothing and the pipeline runs over the whole log
again. Configuration survives — workspaces, sources, tokens, workspace resources (plans,
transformations, controls) and the separations recorded by unmerges — so a rebuild applies
today's rules (and every unmerge) from the very first event.

With no server running, the stores are emptied in place (`reset_derived`, then `replay`);
beside a running server the rebuild goes to a shadow store and swaps (`rebuild_online`).

The replay stores and announces like the live pipeline, but destinations already had what the
pipeline processed before the rebuild (delivered rows leave the outbox, so the outbox cannot
tell): `reset_derived` writes the positions it rewinds from (`routed_marks`) and the replay's
route stage skips what lies below them. What lies beyond — accepted while the server was down,
or announced by the replay — is routed and delivered as usual. Engage likewise announces
no change the records below the marks make (`EvaluateEngage.announced_below`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import delete

from seamline.app import Seamline, ServeLock
from seamline.config import Settings
from seamline.data_dir import DataDir, open_state
from seamline.errors import Conflict, InvalidInput, Unavailable
from seamline.log.base import position
from seamline.log.partitions import LocalPartitions
from seamline.ops.rebuild_online import OnlineRebuilt, Progress, rebuild_online
from seamline.pipeline.runner import CONSUMER
from seamline.store.state import (
    account_members,
    accounts,
    data_inventory,
    event_files,
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
    event_files,
)

SWAPPED_TABLES = tuple(t.name for t in DERIVED_TABLES if t is not event_files)
"""What an online rebuild replaces in the live state store (with the event store's catalog).
Engage's tables stay the live ones, as the offline rebuild keeps them in place: the shadow only
replays records the live pipeline has folded and announced already, so the live states hold
them, and its values are what destinations were told (a shadow's copy would lose what the live
pipeline announced while the shadow ran, and announce it again)."""


def server_running(settings: Settings) -> bool:
    """Whether a server (or a pipeline started with `serve --role pipeline`) uses the data
    directory now."""
    paths = DataDir(settings.data_dir)
    for lock in (ServeLock(paths.lock), ServeLock(paths.root / ".pipeline.lock", "pipeline")):
        try:
            lock.acquire()
        except Conflict:
            return True
        lock.release()
    return False


def rebuild_beside_server(settings: Settings, on_progress: Progress) -> OnlineRebuilt:
    """Rebuild into a shadow store while the server runs, then swap (see `rebuild_online`)."""
    return rebuild_online(
        settings,
        tuple(t.name for t in DERIVED_TABLES),
        SWAPPED_TABLES,
        on_progress,
        max_retries=REBUILD_RETRIES,
    )


def _remove(path: Path) -> None:
    for candidate in (path, *path.parent.glob(path.name + "*")):
        candidate.unlink(missing_ok=True)


def routed_marks(paths: DataDir) -> Path:
    """Where an offline rebuild keeps, per partition, the first position its replay routes.

    It stays until a replay reaches the end of the log, so a rebuild that stopped and is run
    again keeps the marks of the pipeline's work before the first attempt."""
    return paths.root / "pipeline" / "rebuild-routed.json"


def read_marks(paths: DataDir) -> dict[int, int]:
    try:
        found = json.loads(routed_marks(paths).read_text())
    except FileNotFoundError:
        return {}
    return {int(partition): int(at) for partition, at in found.items()}


def _write_marks(paths: DataDir, marks: dict[int, int]) -> None:
    # Durable before the offsets are rewound: without it a crash in between re-routes it all.
    file = routed_marks(paths)
    file.parent.mkdir(parents=True, exist_ok=True)
    draft = file.with_name(file.name + ".tmp")
    with draft.open("w") as out:
        json.dump({str(p): at for p, at in sorted(marks.items())}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(draft, file)


def _mark_routed(paths: DataDir, log: LocalPartitions) -> None:
    """Record what the pipeline processed (so routed) before the offsets go back to 0; a
    mark left by a rebuild that stopped stands where it is higher (its replay rewound them)."""
    marks = read_marks(paths)
    for partition in log.partitions_sync():
        done = position(partition, log.committed_sync(CONSUMER, partition))
        marks[partition] = max(marks.get(partition, 0), done)
    _write_marks(paths, marks)


def reset_derived(settings: Settings) -> int:
    """Empty the derived stores and rewind the pipeline; returns how many records to replay."""
    if settings.log_url:
        raise InvalidInput(
            "rebuild replays the local log; with log_url (JetStream) it is not supported yet"
        )
    paths = DataDir(settings.data_dir)
    lock = ServeLock(paths.lock)
    lock.acquire()  # refuses while a server runs on this data directory
    pipeline = ServeLock(paths.root / ".pipeline.lock", "pipeline")
    try:
        pipeline.acquire()  # … or a pipeline started with `serve --role pipeline`
    except BaseException:
        lock.release()
        raise
    try:
        engine = open_state(settings)
        try:
            with engine.begin() as conn:
                for table in DERIVED_TABLES:
                    conn.execute(delete(table))
        finally:
            engine.dispose()
        shutil.rmtree(paths.events, ignore_errors=True)
        for store in (paths.dedup, paths.progress):
            _remove(store)
        log = LocalPartitions(paths.log, fsync=settings.log_fsync)
        try:
            _mark_routed(paths, log)
            for partition in log.partitions_sync():
                asyncio.run(log.commit(CONSUMER, partition, 0))
            return sum(log.end_offsets().values())
        finally:
            log.close_sync()
    finally:
        pipeline.release()
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

    paths = DataDir(settings.data_dir)

    async def run() -> Replayed:
        app = Seamline(settings)
        app.guard.backoff.max_retries = REBUILD_RETRIES
        app.route.routed_below = app.engage.announced_below = read_marks(paths)
        await app.start()
        runner = app.runner
        assert runner is not None
        assert app.local_log is not None  # reset_derived refused a JetStream log
        ends = app.local_log.end_offsets()
        end = sum(ends.values())

        def done() -> int:
            return sum(min(runner.committed.get(p, 0), e) for p, e in ends.items())

        while done() < end and app.failure is None:
            on_progress(done())
            await asyncio.sleep(0.2)
        failure = app.failure
        await app.stop()
        on_progress(done())
        if failure is not None or done() < end:
            why = f"{type(failure).__name__}: {failure}" if failure else "it stopped early"
            raise Unavailable(
                f"rebuild stopped at log record {done()} of {end}: {why}; fix the cause "
                "and run `seamline rebuild` again"
            )
        return Replayed(done(), app.guard.errors_held)

    replayed = asyncio.run(run())
    routed_marks(paths).unlink(missing_ok=True)  # past every mark: the next rebuild starts anew
    return replayed

"""Rebuild while the server runs: replay into a shadow store, pause the pipeline, catch up,
swap.

1. **Shadow.** The state store is copied into `rebuild/` (derived tables emptied) and the
   pipeline's stages replay the log into it, up to the offsets the live pipeline had committed
   when the rebuild began; the live pipeline keeps serving meanwhile.
2. **Pause.** The rebuild asks the pipeline to pause (`roles.pause`): it finishes its batch,
   commits, closes its stores and releases `.pipeline.lock`, which the rebuild then holds.
3. **Catch-up.** The shadow replays up to the offsets the live pipeline committed last, so it
   has processed exactly the records the live stores reflect.
4. **Swap.** One transaction of the live state store puts the shadow's derived rows and event
   files in place (`rebuild_swap`); the pause ends and the pipeline starts again, with fresh
   caches, from its own committed offsets.

Collect only appends to the log, so it accepts throughout. Ctrl-C or a failure before the swap
leaves the live state as it was and ends the pause.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.errors import Conflict, InvalidInput, Unavailable
from seamline.log.partitions import LocalPartitions
from seamline.ops.rebuild_shadow import Prepare, ShadowPipeline, copy_state, shadow_root
from seamline.ops.rebuild_swap import swap
from seamline.pipeline.runner import CONSUMER
from seamline.roles.locks import ServeLock
from seamline.roles.pause import PauseRequest

Progress = Callable[[str, int, int], None]
"""(phase, done, total): phases are `shadow`, `pause`, `catch-up` and `swap`."""

PAUSE_TIMEOUT = 300.0
"""How long the pipeline may take to pause (it drains what it has read)."""


class OnlineRebuilt(NamedTuple):
    processed: int
    errors_held: int
    files: int  # event files listed by the swap


def remove_root(_live: DataDir, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


class ShadowStore(NamedTuple):
    """Where the shadow's state store lives and how it goes live: by default a copy of the
    SQLite state store under `rebuild/`, swapped by `rebuild_swap`. A re-resolution under new
    identity rules (`identity_reresolve`) passes its own, e.g. shadow tables in PostgreSQL."""

    copy: Callable[[DataDir, Path, tuple[str, ...]], None] = copy_state
    """(live, shadow root, derived tables): make the shadow's state store, derived tables empty."""
    swap: Callable[[DataDir, Path, tuple[str, ...]], int] = swap
    """(live, shadow root, swapped tables): put them in place; the event files listed."""
    discard: Callable[[DataDir, Path], None] = remove_root
    """Remove what `copy` made (after the swap, or when the rebuild stops)."""
    prepare: Prepare | None = None
    """The shadow pipeline's settings from the default ones (see `ShadowPipeline`)."""


def refuse_unless_embedded(settings: Settings) -> None:
    """Online rebuild copies SQLite and moves local files: the embedded default only."""
    if settings.log_url or settings.database_url or settings.events_url:
        raise InvalidInput(
            "online rebuild supports the embedded default only (no log_url, database_url or "
            "events_url); stop the server and run `seamline rebuild` again"
        )


def rebuild_online(
    settings: Settings,
    tables: tuple[str, ...],
    swapped: tuple[str, ...],
    on_progress: Progress,
    *,
    max_retries: int,
    store: ShadowStore | None = None,
) -> OnlineRebuilt:
    """Rebuild `tables` (emptied in the shadow) beside a running server and swap `swapped`
    (and the event store) into the live state store."""
    if store is None:
        refuse_unless_embedded(settings)
    shadow_store = store or ShadowStore()
    live = DataDir(settings.data_dir)
    if pipeline_in_server_process(live):
        raise InvalidInput(
            "the server runs every role in one process (`serve --role all`), whose pipeline "
            "cannot pause for an online rebuild; stop it and run `seamline rebuild` again"
        )
    root = shadow_root(live)
    running = ServeLock(live.root / ".rebuild.lock", "rebuild")
    running.acquire()
    pause = PauseRequest(live.root)
    pipeline = ServeLock(live.root / ".pipeline.lock", "pipeline")
    try:
        processed, held = asyncio.run(
            _replay(settings, live, tables, pause, pipeline, on_progress, max_retries, shadow_store)
        )
        on_progress("swap", 0, 1)
        files = shadow_store.swap(live, root, swapped)
        on_progress("swap", 1, 1)
        return OnlineRebuilt(processed, held, files)
    finally:
        pipeline.release()  # first: the pipeline waits for the pause to end, then takes it
        pause.release()
        try:
            shadow_store.discard(live, root)
        finally:
            running.release()


async def _replay(
    settings: Settings,
    live: DataDir,
    tables: tuple[str, ...],
    pause: PauseRequest,
    pipeline: ServeLock,
    on_progress: Progress,
    max_retries: int,
    store: ShadowStore,
) -> tuple[int, int]:
    root = shadow_root(live)
    on_progress("shadow", 0, 0)
    await asyncio.to_thread(store.copy, live, root, tables)
    shadow = ShadowPipeline(settings, root, committed_offsets(live), prepare=store.prepare)
    try:
        shadow.start(max_retries)
        await until_replayed(shadow, "shadow", on_progress)
        on_progress("pause", 0, 1)
        pause.acquire()
        await take_when_paused(pipeline)
        on_progress("pause", 1, 1)
        shadow.bound(committed_offsets(live))
        await until_replayed(shadow, "catch-up", on_progress)
        return shadow.done(), shadow.errors_held()
    finally:
        await shadow.close()


def pipeline_in_server_process(live: DataDir) -> bool:
    """Whether the process holding `.serve.lock` holds `.pipeline.lock` too (each lock file
    names its holder's pid): under the supervisor the pipeline is a process of its own."""
    try:
        server = live.lock.read_text().strip()
        pipeline = (live.root / ".pipeline.lock").read_text().strip()
    except FileNotFoundError:
        return False
    return bool(server) and server == pipeline


def committed_offsets(live: DataDir) -> dict[int, int]:
    """The live pipeline's committed offset of every log partition."""
    log = LocalPartitions(live.log)
    try:
        return {p: log.committed_sync(CONSUMER, p) for p in log.partitions_sync()}
    finally:
        log.close_sync()


async def until_replayed(shadow: ShadowPipeline, phase: str, on_progress: Progress) -> None:
    first = shadow.done()
    while True:
        shadow.check()
        done, total = shadow.done(), shadow.total()
        on_progress(phase, done - first, total - first)
        if done >= total:
            return
        await asyncio.sleep(0.1)


async def take_when_paused(pipeline: ServeLock) -> None:
    deadline = time.monotonic() + PAUSE_TIMEOUT
    while True:
        try:
            pipeline.acquire()
            return
        except Conflict:
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"the pipeline did not pause within {PAUSE_TIMEOUT:.0f} s; the live stores "
                    "are unchanged: try again, or stop the server and run `seamline rebuild`"
                ) from None
        await asyncio.sleep(0.1)

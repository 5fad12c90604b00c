"""Pausing the pipeline role while an online rebuild swaps the derived stores.

The rebuild holds an exclusive lock on `pipeline/pause.lock` in the data directory for as long
as it needs the pipeline paused. A pipeline process that sees the lock taken stops the orderly
way (it finishes its batch, commits, closes its stores and releases `.pipeline.lock`) and waits
until the lock is free before it opens anything again. A lock rather than a file's existence:
a rebuild that dies releases it with its process, so no stale request pauses the pipeline for
ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import time
from pathlib import Path
from typing import IO

from seamline.errors import Conflict

logger = logging.getLogger(__name__)

POLL = 0.2
"""How often a paused pipeline looks whether the pause is over (seconds)."""


def pause_lock(root: Path) -> Path:
    """The pause request's lock file in the data directory `root`."""
    return root / "pipeline" / "pause.lock"


def pause_requested(root: Path) -> bool:
    """Whether a rebuild holds the pause lock of the data directory `root` now."""
    try:
        handle = pause_lock(root).open("rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


async def wait_while_paused(root: Path, stop: asyncio.Event) -> bool:
    """Wait until no pause is requested; False if `stop` was set first."""
    waited = False
    while pause_requested(root):
        if not waited:
            logger.info("the pipeline is paused for a rebuild; waiting")
            waited = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL)
        if stop.is_set():
            return False
    if waited:
        logger.info("the pause is over; the pipeline starts again")
    return True


class PauseRequest:
    """Held by a rebuild: the pipeline of the data directory stays paused while it is held."""

    def __init__(self, root: Path) -> None:
        self._path = pause_lock(root)
        self._handle: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock; a second rebuild running on the data directory is refused."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+b")
        # A pipeline's look at the lock holds it shared for a moment: try for a second.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise Conflict(
                        f"another rebuild is running on {self._path.parent.parent}"
                    ) from None
                time.sleep(0.02)
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

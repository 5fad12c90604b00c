"""A pipeline process pauses while a rebuild holds the pause lock: it commits, closes its stores
and releases `.pipeline.lock`, opens nothing while paused, and resumes when the lock is free —
all in the same process, so the supervisor sees no exit."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seamline.app import PIPELINE, bootstrap
from seamline.config import Settings
from seamline.errors import Conflict
from seamline.log.partitions import LocalPartitions
from seamline.pipeline.runner import CONSUMER
from seamline.roles import process
from seamline.roles.locks import ServeLock
from seamline.roles.pause import PauseRequest, pause_requested
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _taken(path: Path) -> bool:
    lock = ServeLock(path, "pipeline")
    try:
        lock.acquire()
    except Conflict:
        return True
    lock.release()
    return False


async def _until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


def _append(root: Path, source_id: str, message_id: str) -> None:
    log = LocalPartitions(root)
    writer = log.claim(1)
    try:
        writer.submit(
            [
                envelope_encoder.encode(
                    Envelope(
                        workspace_id="default",
                        source_id=source_id,
                        message=Message(
                            type="identify",
                            message_id=message_id,
                            user_id=message_id,
                            received_at=NOW,
                            timestamp=NOW,
                        ),
                    )
                )
            ]
        )
    finally:
        log.close_sync()


def test_a_pipeline_process_pauses_for_a_rebuild_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    source = bootstrap(settings)
    lock_path = data / ".pipeline.lock"
    log = LocalPartitions(data / "log")

    def committed() -> int:
        return log.committed_sync(CONSUMER, 1) if 1 in log.partitions_sync() else 0

    async def scenario() -> int:
        role = asyncio.create_task(process._background(settings, PIPELINE))
        # (Not probing `.pipeline.lock` while the role starts: the probe would hold it a moment.)
        _append(data / "log", source.id, "before")
        await _until(lambda: committed() == 1, "the pipeline processed the first message")

        pause = PauseRequest(data)
        pause.acquire()
        assert pause_requested(data)
        await _until(lambda: not _taken(lock_path), "the pipeline released its lock")
        _append(data / "log", source.id, "while-paused")
        await asyncio.sleep(1.0)  # a paused pipeline neither restarts nor processes
        assert not _taken(lock_path) and committed() == 1
        pause.release()

        await _until(lambda: committed() == 2, "the pipeline resumed")
        assert not role.done()  # paused and resumed in the same process
        os.kill(os.getpid(), signal.SIGTERM)  # the role's own handler: stop the orderly way
        return await role

    try:
        assert asyncio.run(scenario()) == 0
    finally:
        log.close_sync()
    assert not _taken(lock_path)


def test_a_second_rebuild_cannot_take_the_pause(tmp_path: Path) -> None:
    first, second = PauseRequest(tmp_path), PauseRequest(tmp_path)
    first.acquire()
    try:
        with pytest.raises(Conflict, match="another rebuild"):
            second.acquire()
    finally:
        first.release()
    assert not pause_requested(tmp_path)  # released with its holder

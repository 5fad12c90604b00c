"""Fenced commits on the JetStream log: an offset stored under a lease's epoch refuses commits
under lower epochs, so a worker that stalled past its lease cannot move it back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from seamline.log.base import Fenced
from seamline.log.nats import NatsLog
from tests.log.conftest import drop_stream

pytestmark = pytest.mark.anyio


async def test_a_stale_epoch_cannot_commit_once_a_later_one_took_over(nats_log: NatsLog) -> None:
    assert await nats_log.take_over("pipeline", 0, 5) == 0  # never committed
    await nats_log.commit("pipeline", 0, 10, epoch=5)
    # Another worker takes the partition over (epoch 6) and moves on.
    assert await nats_log.take_over("pipeline", 0, 6) == 10
    await nats_log.commit("pipeline", 0, 20, epoch=6)
    # The first wakes up: its late commit of an older offset is refused, and so is taking
    # the partition up again under its old epoch.
    with pytest.raises(Fenced):
        await nats_log.commit("pipeline", 0, 15, epoch=5)
    with pytest.raises(Fenced):
        await nats_log.take_over("pipeline", 0, 5)
    assert await nats_log.committed("pipeline", 0) == 20
    # Once taken over, the new epoch fences the old one before committing anything.
    assert await nats_log.take_over("pipeline", 0, 7) == 20
    with pytest.raises(Fenced):
        await nats_log.commit("pipeline", 0, 30, epoch=6)
    assert await nats_log.committed("pipeline", 0) == 20
    # Other partitions and consumers have epochs of their own.
    await nats_log.commit("pipeline", 1, 3, epoch=1)
    await nats_log.commit("other", 0, 4, epoch=1)
    assert await nats_log.committed("other", 0) == 4


async def test_an_offset_committed_without_an_epoch_is_taken_over(nats_log: NatsLog) -> None:
    await nats_log.commit("pipeline", 2, 42)  # as before fencing (or by a single worker)
    assert await nats_log.take_over("pipeline", 2, 1) == 42
    await nats_log.commit("pipeline", 2, 50, epoch=1)
    assert await nats_log.committed("pipeline", 2) == 50


async def test_racing_commits_under_two_epochs_leave_the_higher_ones(
    nats_server_url: str,
) -> None:
    """Two connections commit the same partition at once, again and again, under two epochs:
    the compare-and-set lets no commit of the lower epoch land after one of the higher."""
    name = f"T{uuid.uuid4().hex[:12]}"
    logs = [
        await NatsLog.connect(
            [nats_server_url], stream=name, partitions=1, subject_prefix=f"{name}.log"
        )
        for _ in range(2)
    ]
    try:
        refused = 0

        async def stale_commit(offset: int, epoch: int) -> None:
            nonlocal refused
            try:
                await logs[0].commit("pipeline", 0, offset, epoch=epoch)
            except Fenced:
                refused += 1

        async def take_over_and_commit(offset: int, epoch: int) -> None:
            await logs[1].take_over("pipeline", 0, epoch)
            await logs[1].commit("pipeline", 0, offset, epoch=epoch)

        for round_ in range(20):
            old, new, base = 2 * round_, 2 * round_ + 1, round_ * 100
            await logs[0].commit("pipeline", 0, base, epoch=old)
            # The stale worker commits far ahead while the new holder takes over and commits;
            # whichever lands first, the new holder's offset is the one that stays.
            await asyncio.gather(stale_commit(base + 90, old), take_over_and_commit(base + 50, new))
            await stale_commit(base + 95, old)
            assert await logs[1].committed("pipeline", 0) == base + 50, round_
        assert refused >= 20
    finally:
        for log in logs:
            await log.close()
        await drop_stream([nats_server_url], name)

"""Two pipeline workers sharing a JetStream partition through leases: a worker that stalls
past its lease while another takes the partition over cannot commit its stale offset over the
new holder's; it drops the partition and claims again."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from seamline.log.nats import NatsLog
from seamline.pipeline.batch import Batch
from seamline.pipeline.runner import PipelineRunner
from seamline.roles.leased_partitions import LeasedPartitions
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder
from seamline.store.leases_sql import PartitionLeases
from seamline.store.state import open_state_store
from tests.log.conftest import drop_stream

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 6, 1, tzinfo=UTC)
RECORDS = 12
PATIENCE = 60.0  # how long a step may take on a loaded machine before the test gives up


def record(message_id: str) -> bytes:
    message = Message(type="track", message_id=message_id, user_id="u", event="E", received_at=NOW)
    return envelope_encoder.encode(
        Envelope(workspace_id="default", source_id="src_a", message=message)
    )


class Recorder:
    """A stage that notes the message ids it saw; with `stall`, the first batch waits there
    (a worker frozen by a GC pause or SIGSTOP) until `wake` is set."""

    def __init__(self, *, stall: bool = False) -> None:
        self.seen: list[str] = []
        self.stalled = threading.Event()
        self.wake = threading.Event()
        if not stall:
            self.wake.set()

    def __call__(self, batch: Batch) -> Batch:
        self.stalled.set()
        if not self.wake.wait(PATIENCE):
            raise TimeoutError("never woken up")
        self.seen += [item.envelope.message.message_id or "" for item in batch]
        return batch


@pytest.fixture
async def log_name(nats_server_url: str) -> AsyncIterator[str]:
    name = f"T{uuid.uuid4().hex[:12]}"
    yield name
    await drop_stream([nats_server_url], name)


@pytest.fixture
def state(tmp_path: Path) -> Engine:
    return open_state_store(f"sqlite:///{tmp_path / 'state.db'}")


class CountedClaims(LeasedPartitions):
    """Leased partitions that count the worker's claims."""

    claims = 0

    async def claim(self, consumer: str, partitions: list[int]) -> dict[int, int]:
        held = await super().claim(consumer, partitions)
        self.claims += 1
        return held


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (polling) until `condition()` is true; fail naming `what` after PATIENCE s."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + PATIENCE
    while not condition():
        if loop.time() > give_up:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def test_a_worker_stalled_past_its_lease_cannot_commit_over_its_successor(
    nats_server_url: str, log_name: str, state: Engine
) -> None:
    async def connect() -> NatsLog:
        return await NatsLog.connect(
            [nats_server_url], stream=log_name, partitions=1, subject_prefix=f"{log_name}.log"
        )

    log_a, log_b = await connect(), await connect()
    await log_a.writer().append(
        [record(f"m{i}") for i in range(RECORDS)], partition=0, msg_id="all"
    )
    end = await log_a.end_offset(0)
    # a's lease lasts 0.3 s (it will stall far longer); b's outlives the test.
    shared_a = CountedClaims(log_a, PartitionLeases(state, "a", ttl=0.3))
    shared_b = LeasedPartitions(log_b, PartitionLeases(state, "b", ttl=60))
    stage_a, stage_b = Recorder(stall=True), Recorder()
    # Small batches: a's first batch ends well before the log's end.
    runner_a = PipelineRunner(log_a, [stage_a], batch_size=3, claims=shared_a)
    runner_b = PipelineRunner(log_b, [stage_b], batch_size=3, claims=shared_b)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(runner_a.run(stop_a))
    task_b: asyncio.Task[None] | None = None
    try:
        await until(stage_a.stalled.is_set, "a processes its first batch")
        # a is frozen inside its first batch; b starts and, once a's lease has expired, takes
        # partition 0 over under a higher epoch, processes everything and commits the end.
        task_b = asyncio.create_task(runner_b.run(stop_b))
        await until(lambda: runner_b.committed.get(0) == end, "b commits the log's end")
        assert stage_b.seen == [f"m{i}" for i in range(RECORDS)]
        # a wakes up and finishes its batch: its commit (an older offset) is refused, it
        # drops the partition, and b's offset stands.
        claims = shared_a.claims
        stage_a.wake.set()
        # a's next claim comes after its batch's commit (a claim waits for it).
        await until(lambda: shared_a.claims > claims, "a finishes its batch and claims again")
        assert await log_b.committed("pipeline", 0) == end
        assert runner_a.fenced == 1
        assert stage_a.seen == ["m0", "m1", "m2"]
        # b holds the partition, so a takes nothing and reads no further.
        await until(lambda: shared_a.claims > claims + 1, "a claims once more")
        assert 0 not in runner_a.committed
        assert stage_a.seen == ["m0", "m1", "m2"]
        assert await log_a.committed("pipeline", 0) == end
        stop_a.set()
        stop_b.set()
        await asyncio.wait_for(asyncio.gather(task_a, task_b), PATIENCE)
    finally:
        stage_a.wake.set()
        stop_a.set()
        stop_b.set()
        for task in (task_a, task_b):
            if task is not None and not task.done():
                task.cancel()
        await log_a.close()
        await log_b.close()
        state.dispose()

"""The pipeline runner: log partitions → stages → committed offsets, in micro-batches.

Stages run in a worker thread (DuckDB and SQLite calls block); a partition's offset is
committed only after every stage's effects for its batch are durable, and a restart resumes
each partition from its committed offset. Stages must therefore be idempotent for records past
the commit: `on_resume` lets stores cut back what they wrote past it before those records are
processed again.

With a `StageGuard`, no record can stop the runner (a record a stage fails on is held) and an
outage of a store is waited out with backoff; see `pipeline.guard`.

Workers that share the partitions (`SharedPartitions`) hold each under a lease with an epoch; a
commit carries it, and one refused (`Fenced`: the worker stalled past its lease and another
took the partition over) makes the worker drop that partition and claim again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

import msgspec

from seamline.log.base import (
    MAX_PER_RECORD,
    PIPELINE_CONSUMER,
    EventLog,
    Fenced,
    LogRecord,
    PartitionedLog,
    partition_of,
    partition_range,
    position,
)
from seamline.log.single import SinglePartition
from seamline.log.tombstone import is_tombstone
from seamline.pipeline.batch import Batch, Stage
from seamline.pipeline.guard import Halted, StageGuard
from seamline.spec.envelope import Envelope, Item, envelope_decoder, envelopes_decoder

CONSUMER = PIPELINE_CONSUMER
REFRESH_PARTITIONS = 1.0
logger = logging.getLogger(__name__)
T = TypeVar("T")

Buffered = tuple[tuple[float, int, int], int, list[Item]]
"""A record read ahead: (receivedAt, partition, offset) to merge by, its offset, its items."""


class SharedPartitions(Protocol):
    """The log's partitions shared among workers through leases, each held under an epoch
    that grows whenever the partition changes hands (see `store.leases_sql`)."""

    async def claim(self, consumer: str, partitions: list[int]) -> dict[int, int]:
        """Of the log's partitions, those this worker holds now, each with its epoch."""
        ...

    async def take_over(self, consumer: str, partition: int, epoch: int) -> int:
        """The offset to resume from; commits under lower epochs are refused from now on.
        Raises `Fenced` when a higher epoch has committed already."""
        ...

    async def commit(self, consumer: str, partition: int, offset: int, epoch: int) -> None:
        """Commit `offset` under `epoch`, or raise `Fenced` if a higher epoch took over."""
        ...


class PipelineRunner:
    """Runs `stages` in order over batches of about `batch_size` messages, merged from the
    partitions by the time they arrived."""

    def __init__(
        self,
        log: PartitionedLog | EventLog,
        stages: Sequence[Stage],
        *,
        batch_size: int = 2000,
        on_resume: Callable[[int, int], object] | None = None,
        on_commit: Callable[[int, int, int], None] | None = None,
        consumer: str = CONSUMER,
        tail: Sequence[Stage] = (),
        yield_for: Callable[[float], float] | None = None,
        guard: StageGuard | None = None,
        claims: SharedPartitions | None = None,
    ) -> None:
        self._log: PartitionedLog = (
            cast(PartitionedLog, log) if hasattr(log, "partitions") else SinglePartition(log)
        )
        self._stages = tuple(stages)
        self._batch_size = batch_size
        self._on_resume = on_resume
        self._on_commit = on_commit
        self._consumer = consumer
        self._tail = tuple(tail)
        self._yield_for = yield_for
        self._claims = claims
        self.guard = guard
        self.committed: dict[int, int] = {}  # partition → offset committed
        self._next: dict[int, int] = {}  # partition → offset to read next
        self._buffers: dict[int, collections.deque[Buffered]] = {}  # read, not yet taken
        self._epochs: dict[int, int] = {}  # partition → its lease's epoch, when shared
        self._refresh_now = False  # a partition was fenced: claim again at once
        self.fenced = 0  # commits refused because another worker had taken over
        self._per_record = 1.0  # messages per log record, to size reads
        self.undecodable = 0
        self._exclusive: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = []

    @property
    def offset(self) -> int:
        """Partition 0's committed offset (a log of one partition: the committed offset)."""
        return self.committed.get(0, 0)

    async def _refresh(self) -> None:
        """Take up partitions that appeared or were handed to this worker; drop lost ones."""
        every = await self._log.partitions()
        held: dict[int, int | None]
        if self._claims is None:
            held = dict.fromkeys(every)
        else:
            held = dict(await self._claims.claim(self._consumer, every))
        for partition in list(self._next):
            # Lost, or lost and taken back (a new epoch): what was read of it is stale.
            if partition not in held or held[partition] != self._epochs.get(partition):
                self._drop(partition)
        for partition, epoch in held.items():
            if partition in self._next:
                continue
            if epoch is None or self._claims is None:
                offset = await self._log.committed(self._consumer, partition)
            else:
                try:
                    offset = await self._claims.take_over(self._consumer, partition, epoch)
                except Fenced as fenced:  # this claim is already stale; the next one tells
                    logger.warning("partition %d not taken up: %s", partition, fenced)
                    continue
                self._epochs[partition] = epoch
            if self._on_resume is not None:
                await asyncio.to_thread(self._on_resume, *partition_range(partition, offset))
            self.committed[partition] = self._next[partition] = offset
            self._buffers[partition] = collections.deque()

    def _drop(self, partition: int) -> None:
        """Forget a partition: its offsets, its epoch and what was read ahead of it."""
        self._next.pop(partition, None)
        self._buffers.pop(partition, None)
        self.committed.pop(partition, None)
        self._epochs.pop(partition, None)

    async def exclusively(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` between two batches, once every batch taken so far is committed and
        nothing read ahead is kept: what `work` changes in the log and the stores (a person's
        erasure) is all the next batch sees. Waits while the runner is not running."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._exclusive.append((work, future))
        return await future

    async def _run_exclusive(self) -> None:
        pending, self._exclusive = self._exclusive, []
        for partition, buffer in self._buffers.items():
            if buffer:  # read again after the work: it may have erased some of these
                self._next[partition] = buffer[0][1]
                buffer.clear()
        for work, future in pending:
            try:
                result = await work()
            except Exception as error:  # the caller reports it; the pipeline goes on
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set and everything appended before then is processed.

        The `tail` stages of one batch run while the other stages work on the next batch (they
        touch different stores, and the event store's write mostly runs outside the GIL); a
        batch's offsets are committed once its tail is done, in order.
        """
        finishing: asyncio.Task[None] | None = None
        halting = asyncio.create_task(self._halt_on(stop))
        refreshed = 0.0
        refreshed_since_stop = False
        try:
            while True:
                if self._exclusive:
                    if finishing is not None:
                        await finishing
                        finishing = None
                    await self._run_exclusive()
                if self._refresh_now or time.monotonic() - refreshed > REFRESH_PARTITIONS:
                    if finishing is not None:  # a lost partition's batch is committed first
                        await finishing
                        finishing = None
                    self._refresh_now = False
                    await self._refresh()
                    refreshed = time.monotonic()
                # Read `stop` before reading the log: a round of empty reads that began after
                # the stop request has seen every append made before it, so draining is done.
                stopping = stop.is_set()
                if stopping and not refreshed_since_stop:
                    # A partition made just before the stop request (`held rerun` appends to
                    # one of its own) is drained too, not left for the next start.
                    refreshed_since_stop = self._refresh_now = True
                    continue
                await self._fill()
                taken = self._take()
                if taken is None:
                    if finishing is not None:
                        await finishing
                        finishing = None
                    if stopping:
                        return
                    await self._log.wait(dict(self._next), 0.2)
                    continue
                items, ends = taken
                began = time.perf_counter()
                batch = await asyncio.to_thread(self._process, items)
                if self._yield_for is not None and not stopping:
                    pause = self._yield_for(time.perf_counter() - began)
                    if pause > 0:
                        await asyncio.sleep(pause)
                if finishing is not None:
                    await finishing
                finishing = asyncio.create_task(self._finish(batch, ends))
        except Halted as halted:
            # Stopping while a store is down: what is not committed is processed after a restart.
            logger.warning(
                "the pipeline stopped while stalled (%s); resuming after a restart", halted
            )
        finally:
            halting.cancel()
            for _, future in self._exclusive:
                future.cancel()  # not run: the worker that asked tries again later
            self._exclusive = []
            if finishing is not None and not finishing.done():
                with contextlib.suppress(Halted):
                    await finishing

    async def _fill(self) -> None:
        """Read ahead every partition whose buffer ran dry."""
        wanted = max(1, int(self._batch_size / self._per_record))
        # A copy: a fenced commit may drop a partition while this reads.
        for partition, buffer in list(self._buffers.items()):
            if buffer:
                continue
            records = await self._log.read(partition, self._next[partition], wanted)
            if records and self._buffers.get(partition) is buffer:
                decoded = await asyncio.to_thread(self._decode, partition, records)
                buffer.extend(decoded)
                self._next[partition] = records[-1].offset + 1

    def _take(self) -> tuple[list[Item], dict[int, int]] | None:
        """About `batch_size` messages from the partitions' buffers, in receivedAt order.

        Collect workers append to their own partitions, so merging them by the time each
        message arrived processes them (and a rebuild replays them) in about the order they
        came in: the order identity resolution sees decides which event founds a profile.
        The merge stops when a buffer that held records runs dry (more may be in the log);
        returns the items and, per partition, the offset to commit after them.
        """
        heads = [(buffer[0][0], p) for p, buffer in self._buffers.items() if buffer]
        if not heads:
            return None
        heapq.heapify(heads)
        items: list[Item] = []
        ends: dict[int, int] = {}
        records = 0
        while heads and len(items) < self._batch_size:
            _, partition = heapq.heappop(heads)
            buffer = self._buffers[partition]
            _, offset, envelopes = buffer.popleft()
            items.extend(envelopes)
            ends[partition] = offset + 1
            records += 1
            if not buffer:
                break
            heapq.heappush(heads, (buffer[0][0], partition))
        self._per_record = 0.8 * self._per_record + 0.2 * max(1.0, len(items) / records)
        return items, ends

    def _decode(self, partition: int, records: list[LogRecord]) -> list[Buffered]:
        decoded: list[Buffered] = []
        for record in records:
            try:
                envelopes = decode_record(record.payload)
            except msgspec.DecodeError:
                # Only Seamline writes the log, so this means a bug or a damaged disk: say so
                # loudly, keep the record in the log for inspection and move on.
                self.undecodable += 1
                logger.error(
                    "log record %d of partition %d cannot be decoded; skipped",
                    record.offset,
                    partition,
                )
                decoded.append(((0.0, partition, record.offset), record.offset, []))
                continue
            first = envelopes[0].message.received_at if envelopes else None
            key = (first.timestamp() if first is not None else 0.0, partition, record.offset)
            items = [
                Item(position(partition, record.offset, index), envelope)
                for index, envelope in enumerate(envelopes)
            ]
            decoded.append((key, record.offset, items))
        return decoded

    async def _halt_on(self, stop: asyncio.Event) -> None:
        """Once stopping, a stage waiting out an outage gives up instead of holding the stop."""
        if self.guard is None:
            return
        self.guard.halt.clear()
        await stop.wait()
        self.guard.halt.set()

    def _run(self, stage: Stage, batch: Batch) -> Batch:
        return stage(batch) if self.guard is None else self.guard.run(stage, batch)

    async def _finish(self, batch: Batch, ends: dict[int, int]) -> None:
        if self._tail:
            batch = await asyncio.to_thread(self._run_tail, batch)
        counts: dict[int, int] = dict.fromkeys(ends, 0)
        for item in batch:
            partition = partition_of(item.offset)
            if partition in counts:
                counts[partition] += 1
        for partition, offset in ends.items():
            # Dropped after a fenced commit of an earlier batch: no refresh can come between
            # (it waits for this), so the partition was not taken up again meanwhile.
            if partition not in self._next:
                continue
            epoch = self._epochs.get(partition)
            try:
                if self._claims is None or epoch is None:
                    await self._log.commit(self._consumer, partition, offset)
                else:
                    await self._claims.commit(self._consumer, partition, offset, epoch)
            except Fenced as fenced:
                # This worker stalled past its lease and another took the partition over:
                # its offset stands; what this worker read of the partition is dropped.
                logger.warning("partition %d was taken over; dropping it: %s", partition, fenced)
                self.fenced += 1
                self._drop(partition)
                self._refresh_now = True
                continue
            self.committed[partition] = offset
            if self._on_commit is not None:
                self._on_commit(partition, offset, counts[partition])

    def _run_tail(self, batch: Batch) -> Batch:
        for stage in self._tail:
            batch = self._run(stage, batch)
        return batch

    def _process(self, items: list[Item]) -> Batch:
        batch: Batch = items
        for stage in self._stages:
            batch = self._run(stage, batch)
        return batch


def decode_record(payload: bytes) -> list[Envelope]:
    """A log record holds one envelope, or a JSON array of a request's envelopes; an erased
    record (a tombstone, see `log.tombstone`) holds none."""
    if is_tombstone(payload):
        return []
    if payload[:1] == b"[":
        envelopes = envelopes_decoder.decode(payload)
        if len(envelopes) > MAX_PER_RECORD:
            raise msgspec.DecodeError(f"a record of {len(envelopes)} messages")
        return envelopes
    return [envelope_decoder.decode(payload)]

"""The pipeline runner: log → stages → committed offset, in micro-batches.

Stages run in a worker thread (DuckDB and SQLite calls block); the offset is committed only
after every stage's effects are durable, and a restart resumes from that offset. Stages must
therefore be idempotent for records after the committed offset: `on_resume` lets a store cut
back what it wrote past the commit before the batch is processed again.

With a `StageGuard`, no record can stop the runner (a record a stage fails on is held) and an
outage of a store is waited out with backoff; see `pipeline.guard`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import msgspec

from seamline.log.base import EventLog, LogRecord
from seamline.pipeline.batch import Batch, Stage
from seamline.pipeline.guard import Halted, StageGuard
from seamline.spec.envelope import Item, envelope_decoder

CONSUMER = "pipeline"
logger = logging.getLogger(__name__)


class PipelineRunner:
    """Runs `stages` in order over batches of at most `batch_size` log records."""

    def __init__(
        self,
        log: EventLog,
        stages: Sequence[Stage],
        *,
        batch_size: int = 2000,
        on_resume: Callable[[int], object] | None = None,
        on_commit: Callable[[int, int], None] | None = None,
        consumer: str = CONSUMER,
        tail: Sequence[Stage] = (),
        yield_for: Callable[[float], float] | None = None,
        guard: StageGuard | None = None,
    ) -> None:
        self._log = log
        self._stages = tuple(stages)
        self._batch_size = batch_size
        self._on_resume = on_resume
        self._on_commit = on_commit
        self._consumer = consumer
        self._tail = tuple(tail)
        self._yield_for = yield_for
        self.guard = guard
        self.offset = 0
        self.undecodable = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set and everything appended before then is processed.

        The `tail` stages of one batch run while the other stages work on the next batch (they
        touch different stores, and the event store's write mostly runs outside the GIL); a
        batch's offset is committed once its tail is done, in log order.
        """
        self.offset = await self._log.committed(self._consumer)
        if self._on_resume is not None:
            await asyncio.to_thread(self._on_resume, self.offset)
        next_offset = self.offset
        finishing: asyncio.Task[None] | None = None
        halting = asyncio.create_task(self._halt_on(stop))
        try:
            while True:
                # Read `stop` before reading the log: an empty read that began after the stop
                # request has seen every append made before it, so draining is complete.
                stopping = stop.is_set()
                records = await self._log.read(next_offset, self._batch_size)
                if not records:
                    if finishing is not None:
                        await finishing
                        finishing = None
                    if stopping:
                        return
                    await self._log.wait(next_offset, 0.2)
                    continue
                began = time.perf_counter()
                batch = await asyncio.to_thread(self._process, records)
                next_offset = records[-1].offset + 1
                if self._yield_for is not None and not stopping:
                    pause = self._yield_for(time.perf_counter() - began)
                    if pause > 0:
                        await asyncio.sleep(pause)
                if finishing is not None:
                    await finishing
                finishing = asyncio.create_task(self._finish(batch, next_offset))
        except Halted as halted:
            # Stopping while a store is down: what is not committed is processed after a restart.
            logger.warning(
                "the pipeline stopped while stalled (%s); resuming after a restart", halted
            )
        finally:
            halting.cancel()
            if finishing is not None and not finishing.done():
                with contextlib.suppress(Halted):
                    await finishing

    async def _halt_on(self, stop: asyncio.Event) -> None:
        """Once stopping, a stage waiting out an outage gives up instead of holding the stop."""
        if self.guard is None:
            return
        self.guard.halt.clear()
        await stop.wait()
        self.guard.halt.set()

    def _run(self, stage: Stage, batch: Batch) -> Batch:
        return stage(batch) if self.guard is None else self.guard.run(stage, batch)

    async def _finish(self, batch: Batch, offset: int) -> None:
        if self._tail:
            batch = await asyncio.to_thread(self._run_tail, batch)
        self.offset = offset
        await self._log.commit(self._consumer, offset)
        if self._on_commit is not None:
            self._on_commit(offset, len(batch))

    def _run_tail(self, batch: Batch) -> Batch:
        for stage in self._tail:
            batch = self._run(stage, batch)
        return batch

    def _process(self, records: list[LogRecord]) -> Batch:
        batch: Batch = []
        for record in records:
            try:
                batch.append(Item(record.offset, envelope_decoder.decode(record.payload)))
            except msgspec.DecodeError:
                # Only this version writes the log, so this means a bug or a damaged disk:
                # say so loudly, keep the record in the log for inspection and move on.
                self.undecodable += 1
                logger.error("log record %d cannot be decoded; skipped", record.offset)
        for stage in self._stages:
            batch = self._run(stage, batch)
        return batch

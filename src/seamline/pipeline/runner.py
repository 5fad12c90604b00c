"""The pipeline runner: log → stages → committed offset, in micro-batches.

Stages run in a worker thread (DuckDB and SQLite calls block); the offset is committed only
after every stage's effects are durable, and a restart resumes from that offset. Stages must
therefore be idempotent for records after the committed offset: `on_resume` lets a store cut
back what it wrote past the commit before the batch is processed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import msgspec

from seamline.log.base import EventLog, LogRecord
from seamline.pipeline.batch import Batch, Stage
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
    ) -> None:
        self._log = log
        self._stages = tuple(stages)
        self._batch_size = batch_size
        self._on_resume = on_resume
        self._on_commit = on_commit
        self._consumer = consumer
        self.offset = 0
        self.undecodable = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set and everything appended before then is processed."""
        self.offset = await self._log.committed(self._consumer)
        if self._on_resume is not None:
            await asyncio.to_thread(self._on_resume, self.offset)
        while True:
            # Read `stop` before reading the log: an empty read that began after the stop
            # request has seen every append made before it, so draining is complete.
            stopping = stop.is_set()
            records = await self._log.read(self.offset, self._batch_size)
            if not records:
                if stopping:
                    return
                await self._log.wait(self.offset, 0.2)
                continue
            processed = await asyncio.to_thread(self._process, records)
            self.offset = records[-1].offset + 1
            await self._log.commit(self._consumer, self.offset)
            if self._on_commit is not None:
                self._on_commit(self.offset, processed)

    def _process(self, records: list[LogRecord]) -> int:
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
            batch = stage(batch)
        return len(batch)

"""The log read from its end as messages arrive, for the console's live debugger.

Fed from the log itself, not from a collect worker's memory: with `seamline serve` each role is
a process and a collect worker sees only its own requests, while the log holds everyone's. A
tail opens readers of its own (read-only local partitions, or JetStream consumers of its own),
so the pipeline's readers are never moved, and it closes them when the stream ends.

Every record is peeked at (a few fields, no full decode) to apply the filters and count what
was seen; only the messages a `Sampler` lets through are decoded whole. Erased records
(tombstones) are skipped like the pipeline skips them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from seamline.log.base import LogRecord
from seamline.log.partitions import LocalPartitions
from seamline.log.tombstone import is_tombstone

if TYPE_CHECKING:
    # The NATS client loads only where the log is JetStream: every role imports this module.
    from seamline.log.nats import NatsLog
    from seamline.log.nats_reader import PartitionReader

logger = logging.getLogger(__name__)

BATCH = 2000
"""Records read per partition per look; at 1,000 events/s a look every 0.1 s reads ~100."""
LOCAL_POLL = 0.1
"""How often a local tail looks for new records (a read-only file has nothing to wake on)."""


class LiveFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which messages a stream shows: its workspace's, then each filter given (exact)."""

    workspace_id: str
    source_id: str | None = None
    type: str | None = None
    event: str | None = None
    id: str | None = None
    """Matches the messageId, userId or anonymousId."""


class _PeekMessage(msgspec.Struct, rename="camel"):
    type: str | None = None
    event: str | None = None
    message_id: str | None = None
    user_id: str | int | None = None
    anonymous_id: str | int | None = None


class _PeekEnvelope(msgspec.Struct):
    workspace_id: str
    source_id: str
    message: _PeekMessage


class _FullEnvelope(msgspec.Struct):
    workspace_id: str
    source_id: str
    message: dict[str, Any]


_peek_one = msgspec.json.Decoder(_PeekEnvelope)
_peek_many = msgspec.json.Decoder(list[_PeekEnvelope])
_full_one = msgspec.json.Decoder(_FullEnvelope)
_full_many = msgspec.json.Decoder(list[_FullEnvelope])


def _matches(envelope: _PeekEnvelope, wanted: LiveFilter) -> bool:
    message = envelope.message
    if envelope.workspace_id != wanted.workspace_id:
        return False
    if wanted.source_id is not None and envelope.source_id != wanted.source_id:
        return False
    if wanted.type is not None and message.type != wanted.type:
        return False
    if wanted.event is not None and message.event != wanted.event:
        return False
    if wanted.id is not None:
        ids = (message.message_id, message.user_id, message.anonymous_id)
        return any(i is not None and str(i) == wanted.id for i in ids)
    return True


class Sampler:
    """Lets through at most `rate` messages a second, spread evenly over what arrives.

    A token bucket holding at most half a second's worth: a burst after a quiet spell shows
    a few messages at once, a steady flood shows `rate` a second picked across each batch
    (every n-th message, not the first ones of each read)."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._capacity = max(1.0, rate / 2)
        # Full from the start: the first messages after a stream opens (a burst a user sends
        # to see them) are shown, however soon they follow the opening.
        self._tokens = self._capacity
        self._at = clock()

    def pick(self, count: int) -> list[int]:
        """Which of `count` matching messages (by index) to show now."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        allowed = min(count, int(self._tokens))
        if allowed <= 0:
            return []
        self._tokens -= allowed
        return sorted({index * count // allowed for index in range(allowed)})


class TailSource(Protocol):
    """A log as a tail reads it: partitions, their ends, reads, and a wait for more.

    `passing` are the errors a look may meet that the next look gets past."""

    passing: tuple[type[BaseException], ...]

    async def partitions(self) -> list[int]: ...

    async def end_offset(self, partition: int) -> int: ...

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]: ...

    async def wait(self, positions: dict[int, int], timeout: float) -> None: ...

    async def close(self) -> None: ...


class LocalTailSource:
    """Local partitions opened read-only by this tail alone (never claimed for writing)."""

    def __init__(self, root: Path) -> None:
        self._log = LocalPartitions(root)
        self.passing: tuple[type[BaseException], ...] = (OSError,)

    async def partitions(self) -> list[int]:
        return await asyncio.to_thread(self._log.partitions_sync)

    async def end_offset(self, partition: int) -> int:
        return await asyncio.to_thread(self._log.end_offset_sync, partition)

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        return await asyncio.to_thread(self._log.read_sync, partition, offset, max_records)

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        # Polled by the caller's next read: a thread blocked in `wait_sync` per open stream
        # would take the default executor's few threads from every other request.
        await asyncio.sleep(min(timeout, LOCAL_POLL))

    async def close(self) -> None:
        self._log.close_sync()  # closes file descriptors only: cheap, and safe when cancelled


class NatsTailSource:
    """JetStream partitions read through consumers of this tail's own (`NatsLog.scanner`)."""

    def __init__(self, log: NatsLog) -> None:
        from seamline.log.nats_client import TRANSIENT
        from seamline.log.nats_reader import ConsumerLost

        self._log = log
        self.passing: tuple[type[BaseException], ...] = (*TRANSIENT, ConsumerLost, OSError)
        self._readers: dict[int, PartitionReader] = {}

    async def partitions(self) -> list[int]:
        return await self._log.partitions()

    async def end_offset(self, partition: int) -> int:
        return await self._log.end_offset(partition)

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        reader = self._readers.get(partition)
        if reader is None:
            reader = self._readers[partition] = self._log.scanner(partition)
        return await reader.read(offset, max_records)

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        await self._log.wait(positions, timeout)

    async def close(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            await reader.close()


def tail_source(log: LocalPartitions | NatsLog) -> TailSource:
    """A tail's own readers over the log this process uses."""
    if isinstance(log, LocalPartitions):
        return LocalTailSource(log.root)
    return NatsTailSource(log)


class LiveTail:
    """The messages arriving in the log from `start` on that match a filter, sampled.

    `seen` counts every matching message, `shown` those `poll` returned."""

    def __init__(self, source: TailSource, wanted: LiveFilter, sampler: Sampler) -> None:
        self.source = source
        self.wanted = wanted
        self.sampler = sampler
        self.seen = 0
        self.shown = 0
        self._positions: dict[int, int] = {}

    async def start(self) -> None:
        """Begin at the end every partition has now."""
        for partition in await self.source.partitions():
            self._positions[partition] = await self.source.end_offset(partition)

    async def poll(self, timeout: float) -> list[dict[str, Any]]:
        """Messages to show (each with `source_id`, `partition`, `offset`, `index`), after
        reading what is new; waits up to `timeout` seconds when nothing is."""
        matching: list[tuple[int, LogRecord, int]] = []
        read_any = False
        try:
            for partition in await self.source.partitions():
                offset = self._positions.setdefault(partition, 0)
                records = await self.source.read(partition, offset, BATCH)
                if records:
                    read_any = True
                    self._positions[partition] = records[-1].offset + 1
                    matching.extend(self._matching(partition, records))
        except self.source.passing as error:
            # An election or a reconnect on JetStream: the next look reads on from here.
            logger.warning("the live debugger cannot read the log now: %r", error)
        if not read_any:
            await self.source.wait(dict(self._positions), timeout)
            return []
        self.seen += len(matching)
        shown = [self._full(*matching[i]) for i in self.sampler.pick(len(matching))]
        self.shown += len(shown)
        return shown

    def _matching(
        self, partition: int, records: list[LogRecord]
    ) -> list[tuple[int, LogRecord, int]]:
        found = []
        for record in records:
            payload = record.payload
            if is_tombstone(payload):
                continue  # erased by a deletion regulation
            try:
                envelopes = (
                    _peek_many.decode(payload)
                    if payload[:1] == b"["
                    else [_peek_one.decode(payload)]
                )
            except msgspec.DecodeError:
                continue  # the pipeline reports an undecodable record; nothing to show
            for index, envelope in enumerate(envelopes):
                if _matches(envelope, self.wanted):
                    found.append((partition, record, index))
        return found

    @staticmethod
    def _full(partition: int, record: LogRecord, index: int) -> dict[str, Any]:
        payload = record.payload
        if payload[:1] == b"[":
            envelope = _full_many.decode(payload)[index]
        else:
            envelope = _full_one.decode(payload)
        return {
            **envelope.message,
            "source_id": envelope.source_id,
            "partition": partition,
            "offset": record.offset,
            "index": index,
        }

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.source.close()

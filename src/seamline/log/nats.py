"""The log on NATS JetStream: one stream, one subject per partition, offsets in a KV bucket.

Partition p is the subject `<prefix>.<p>` of the stream (file storage, replicas as configured).
A record's offset is its stream sequence: shared by every partition, so a partition's offsets
grow but skip. Consumers' committed offsets live in the key-value bucket `<stream>_offsets`
under `<consumer>.<partition>`, with as many replicas as the stream; a pipeline worker that
leases its partitions stores its lease's epoch beside the offset (fencing, see `commit`).
See docs/operations.md, "The JetStream log".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from seamline.log.base import MAX_PARTITIONS, Fenced, LogRecord
from seamline.log.nats_client import (
    TRANSIENT,
    NatsUnavailable,
    connect,
    describe,
    ensure_bucket,
    ensure_stream,
)
from seamline.log.nats_reader import ConsumerLost, PartitionReader
from seamline.log.nats_writer import NatsWriter, partition_for

__all__ = ["NatsLog", "NatsUnavailable", "NatsWriter", "partition_for"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
# While waiting, new records arrive as a wake-up on a plain subscription; the stream is asked
# directly only this often, for what a wake-up could miss (a cluster learns of our
# subscription a moment after we make it).
_RECHECK = 1.0
_CHECKS_APART = 0.05  # at most ~20 look-ups a second, however many wake-ups come
# Reads, ends and commits retry a transient failure this long: an election after the stream's
# (or the offsets bucket's) leader dies takes 5-6 s (measured), and a pipeline worker that
# gave up then would stop (the only one left, in the cluster test).
PATIENCE = 30.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 1.0
# A lost consumer too: the reader starts another on the next try.
_RETRIED: tuple[type[BaseException], ...] = (*TRANSIENT, ConsumerLost)


class NatsLog:
    """A `PartitionedLog` on a JetStream stream; `writer()` appends to it."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        offsets: KeyValue,
        *,
        stream: str,
        partitions: int,
        subject_prefix: str,
        where: str,
        patience: float = PATIENCE,
    ) -> None:
        self._client = client
        self._patience = patience
        self._js = js
        self._offsets = offsets
        self.stream = stream
        self.partition_count = partitions
        self.subject_prefix = subject_prefix
        self._where = where
        self._readers = {
            p: PartitionReader(client, js, stream, self.subject(p)) for p in range(partitions)
        }
        self._reading = {p: asyncio.Lock() for p in range(partitions)}

    @classmethod
    async def connect(
        cls,
        servers: Sequence[str],
        *,
        stream: str = "SEAMLINE",
        partitions: int = 8,
        replicas: int = 1,
        duplicate_window: timedelta = timedelta(hours=24),
        subject_prefix: str = "seamline.log",
    ) -> NatsLog:
        """Connect to the first reachable server and create the stream and the offsets bucket
        if missing. An existing stream is used as it is, with a warning if it differs."""
        if not _NAME.match(stream):
            raise ValueError(f"stream name {stream!r} must match {_NAME.pattern}")
        if not _PREFIX.match(subject_prefix):
            raise ValueError(f"subject prefix {subject_prefix!r} must match {_PREFIX.pattern}")
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1..{MAX_PARTITIONS}, got {partitions}")
        where = describe(servers)
        client = await connect(servers)
        try:
            js = client.jetstream()
            wanted = api.StreamConfig(
                name=stream,
                subjects=[f"{subject_prefix}.*"],
                storage=api.StorageType.FILE,
                num_replicas=replicas,
                duplicate_window=duplicate_window.total_seconds(),
                retention=api.RetentionPolicy.LIMITS,
            )
            # A cluster that is still electing its leaders (all nodes just started) times out
            # the first requests: a role starting beside it waits that out too.
            await _retrying(
                where, PATIENCE, f"set up stream {stream}", lambda: ensure_stream(js, wanted)
            )
            offsets = await _retrying(
                where,
                PATIENCE,
                f"set up bucket {stream}_offsets",
                lambda: ensure_bucket(js, f"{stream}_offsets", replicas),
            )
        except BaseException:
            await client.close()
            raise
        return cls(
            client,
            js,
            offsets,
            stream=stream,
            partitions=partitions,
            subject_prefix=subject_prefix,
            where=where,
        )

    def subject(self, partition: int) -> str:
        return f"{self.subject_prefix}.{partition}"

    def writer(self, *, deadline: float = 15.0) -> NatsWriter:
        """An appender on this log's connection (it closes with the log)."""
        return NatsWriter(
            self._client,
            self._js,
            subject_prefix=self.subject_prefix,
            partitions=self.partition_count,
            where=self._where,
            deadline=deadline,
        )

    async def partitions(self) -> list[int]:
        return list(range(self.partition_count))

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        """Up to `max_records` records of `partition` whose offset is >= `offset`, in order."""
        reader = self._readers[self._check(partition)]
        async with self._reading[partition]:
            return await self._retrying(
                f"read {self.subject(partition)}", lambda: reader.read(offset, max_records)
            )

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        """Return once a partition has a record at or past its offset, or after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        subjects = {self.subject(p) for p in positions if 0 <= p < self.partition_count}
        if not subjects:
            await asyncio.sleep(timeout)
            return
        woken = asyncio.Event()

        async def on_publish(msg: Msg) -> None:
            if msg.subject in subjects:
                woken.set()

        # Subscribe first, then look: a record stored after the look wakes us up.
        try:
            wakeups = await self._client.subscribe(f"{self.subject_prefix}.*", cb=on_publish)
            try:
                await self._client.flush()
                while True:
                    woken.clear()
                    if await self._any_at_or_past(positions):
                        return
                    left = deadline - loop.time()
                    if left <= 0:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), min(left, _RECHECK))
                    await asyncio.sleep(min(_CHECKS_APART, max(deadline - loop.time(), 0)))
            finally:
                with contextlib.suppress(nats.errors.Error):
                    await wakeups.unsubscribe()
        except TRANSIENT as exc:
            # An election or a reconnect: the wait is over; the next read waits it out.
            logger.debug("waiting for records failed (%r)", exc)
            await asyncio.sleep(max(deadline - loop.time(), 0))

    async def _any_at_or_past(self, positions: dict[int, int]) -> bool:
        async def has(partition: int, offset: int) -> bool:
            try:
                await self._js.get_msg(
                    self.stream, seq=max(offset, 1), subject=self.subject(partition), next=True
                )
            except nats.js.errors.NotFoundError:
                return False
            return True

        found = await asyncio.gather(
            *(has(p, o) for p, o in positions.items() if 0 <= p < self.partition_count)
        )
        return any(found)

    async def end_offset(self, partition: int) -> int:
        """The sequence after the partition's last record (0 when it has none)."""
        subject = self.subject(self._check(partition))

        async def end() -> int:
            try:
                last = await self._js.get_last_msg(self.stream, subject)
            except nats.js.errors.NotFoundError:
                return 0
            return (last.seq or 0) + 1

        return await self._retrying(f"find the end of {subject}", end)

    async def stored_bytes(self) -> int:
        """The bytes the stream holds (its records' size, as the server counts them)."""
        info = await self._retrying(
            f"look at {self.stream}", lambda: self._js.stream_info(self.stream)
        )
        return info.state.bytes

    def scanner(self, partition: int) -> PartitionReader:
        """A reader of `partition` of its own (close it after use), for a scan that must not
        move the pipeline's reader (retention reads from the partition's start)."""
        return PartitionReader(self._client, self._js, self.stream, self.subject(partition))

    async def purge_before(self, partition: int, offset: int) -> None:
        """Remove the partition's records before `offset` (a stream sequence): retention."""
        subject = self.subject(self._check(partition))
        await self._retrying(
            f"purge {subject}",
            lambda: self._js.purge_stream(self.stream, subject=subject, seq=offset),
        )

    async def delete_record(self, offset: int) -> None:
        """Delete the record at `offset` (its stream sequence) with its bytes overwritten on
        disk (`no_erase: false`); a record deleted already is no error."""
        request = json.dumps({"seq": offset, "no_erase": False}).encode()

        async def delete() -> None:
            reply = await self._client.request(
                f"$JS.API.STREAM.MSG.DELETE.{self.stream}", request, timeout=5
            )
            error = json.loads(reply.data).get("error")
            if error is not None and error.get("code") != 404:
                raise nats.js.errors.APIError.from_error(error)

        await self._retrying(f"delete record {offset} of {self.stream}", delete)

    async def commit(
        self, consumer: str, partition: int, offset: int, *, epoch: int | None = None
    ) -> None:
        """Durably record `consumer`'s offset in `partition` (acknowledged by the bucket).

        With `epoch` (the committer's lease epoch, see `store.leases_sql`) the offset is stored
        with it, by compare-and-set on the key's revision, and the commit raises `Fenced` when
        the stored offset carries a higher epoch: a later holder has taken the partition over.
        """
        key = self._key(consumer, partition)
        if epoch is None:
            # A put of the same value again is harmless, so a put that got no answer is retried.
            await self._retrying(
                f"commit {key}", lambda: self._offsets.put(key, _offset_value(offset, None))
            )
            return
        await self._retrying(f"commit {key}", lambda: self._store_fenced(key, epoch, offset))

    async def take_over(self, consumer: str, partition: int, epoch: int) -> int:
        """The offset to resume `partition` from, stored again under `epoch`: from now on a
        commit under a lower epoch (the previous holder's, if it wakes up) raises `Fenced`.
        Raises `Fenced` itself when a higher epoch has committed already."""
        key = self._key(consumer, partition)
        return await self._retrying(f"take over {key}", lambda: self._store_fenced(key, epoch))

    async def _store_fenced(self, key: str, epoch: int, offset: int | None = None) -> int:
        """Store (`offset`, or the stored one when None) under `epoch` unless a higher epoch
        is stored; returns the offset stored. Safe to retry: a repeat stores the same."""
        while True:
            stored, stored_epoch, revision = await self._entry(key)
            if stored_epoch > epoch:
                raise Fenced(f"{key} was committed under epoch {stored_epoch}, after {epoch}")
            value = stored if offset is None else offset
            try:
                await self._offsets.update(key, _offset_value(value, epoch), last=revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                # Another commit came between the read and the write (or the read came from a
                # replica behind the leader): read again and decide again.
                await asyncio.sleep(_CHECKS_APART)
                continue
            return value

    async def _entry(self, key: str) -> tuple[int, int, int]:
        """(offset, epoch, revision) of a committed offset; (0, 0, 0) when never committed."""
        try:
            entry = await self._offsets.get(key)
        except nats.js.errors.KeyDeletedError as deleted:
            return 0, 0, deleted.entry.revision if deleted.entry is not None else 0
        except nats.js.errors.KeyNotFoundError:
            return 0, 0, 0
        offset, epoch = _parse_offset(entry.value)
        return offset, epoch, entry.revision or 0

    async def committed(self, consumer: str, partition: int) -> int:
        key = self._key(consumer, partition)

        async def value() -> int:
            try:
                entry = await self._offsets.get(key)
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                return 0
            return _parse_offset(entry.value)[0]

        return await self._retrying(f"read offset {key}", value)

    async def _retrying(self, doing: str, call: Callable[[], Awaitable[T]]) -> T:
        return await _retrying(self._where, self._patience, doing, call)

    async def close(self) -> None:
        """Delete this process's read consumers and close the connection."""
        if self._client.is_closed:
            return
        for reader in self._readers.values():
            await reader.close()
        await self._client.close()

    def _check(self, partition: int) -> int:
        if not 0 <= partition < self.partition_count:
            raise ValueError(f"partition {partition} not in 0..{self.partition_count - 1}")
        return partition

    def _key(self, consumer: str, partition: int) -> str:
        if not _CONSUMER.match(consumer):
            raise ValueError(f"consumer name {consumer!r} must match {_CONSUMER.pattern}")
        return f"{consumer}.{self._check(partition)}"


def _offset_value(offset: int, epoch: int | None) -> bytes:
    """A committed offset as the bucket stores it: `offset`, or `offset epoch` when fenced."""
    return (str(offset) if epoch is None else f"{offset} {epoch}").encode()


def _parse_offset(value: bytes | None) -> tuple[int, int]:
    """(offset, epoch) of a stored value; epoch 0 for an offset committed without one."""
    offset, _, epoch = (value or b"0").decode().partition(" ")
    return int(offset), int(epoch or 0)


async def _retrying(where: str, patience: float, doing: str, call: Callable[[], Awaitable[T]]) -> T:
    """`call()`, retried after transient failures for `patience` seconds; then
    `NatsUnavailable` naming the servers and what was being done."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + patience
    pause = _FIRST_PAUSE
    while True:
        try:
            return await call()
        except _RETRIED as exc:
            left = give_up - loop.time()
            if left <= 0:
                raise NatsUnavailable(
                    f"NATS at {where}: could not {doing} within {patience:g} s: {exc!r}"
                ) from exc
            logger.debug("could not %s (%r); retrying", doing, exc)
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_PAUSE)

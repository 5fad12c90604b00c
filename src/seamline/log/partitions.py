"""The embedded log, partitioned: one `LocalLog` directory per partition under `log/`.

Each process that appends (a collect worker, the pipeline emitting Engage's messages, the CLI
re-running held messages) claims a partition of its own with a lock on it, so every partition
keeps one writer and its group commit; the pipeline reads them all, from any process.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from seamline.log.base import MAX_PARTITIONS, LogRecord
from seamline.log.local import LocalLog

_POLL = 0.01


class PartitionTaken(Exception):
    """Every partition from the one asked for on has a writer already."""


class LocalWriter:
    """The appending end of one partition, held by one process at a time."""

    def __init__(self, partition: int, log: LocalLog, lock: IO[bytes]) -> None:
        self.partition = partition
        self.log = log
        self._lock = lock

    async def append(self, payloads: Sequence[bytes]) -> int:
        return await self.log.append(payloads)

    def submit(self, payloads: Sequence[bytes]) -> int:
        """Append from a worker thread and wait until durable; the first record's offset."""
        return self.log.submit(payloads).result()

    async def append_request(self, payloads: Sequence[bytes], request_id: str, key: str) -> None:
        # A record per message: the group commit already shares one write and one fsync
        # between requests, and the dedup stage drops a retried request's messages.
        await self.log.append(payloads)

    async def close(self) -> None:
        await self.log.close()
        self._lock.close()

    def close_sync(self) -> None:
        self.log.close_sync()
        self._lock.close()


class LocalPartitions:
    """A `PartitionedLog` in a directory, readable by any number of processes."""

    def __init__(
        self, root: Path, *, fsync: bool = True, segment_bytes: int = 256 * 1024 * 1024
    ) -> None:
        self.root = root
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._readers: dict[int, LocalLog] = {}
        self._writers: dict[int, LocalWriter] = {}
        adopt_unpartitioned(root)

    def directory(self, partition: int) -> Path:
        return self.root / str(partition)

    def claim(self, first: int = 0) -> LocalWriter:
        """Become the writer of the first partition from `first` on that has none."""
        self.root.mkdir(parents=True, exist_ok=True)
        for partition in range(first, MAX_PARTITIONS):
            directory = self.directory(partition)
            directory.mkdir(exist_ok=True)
            handle = (directory / "writer.lock").open("a+b")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            log = LocalLog(directory, fsync=self._fsync, segment_bytes=self._segment_bytes)
            writer = LocalWriter(partition, log, handle)
            self._writers[partition] = writer
            stale = self._readers.pop(partition, None)
            if stale is not None:
                stale.close_sync()
            return writer
        raise PartitionTaken(f"every log partition from {first} on has a writer")

    def _log(self, partition: int) -> LocalLog:
        writer = self._writers.get(partition)
        if writer is not None:
            return writer.log  # durable records only, as this process knows them
        reader = self._readers.get(partition)
        if reader is None:
            reader = self._readers[partition] = LocalLog(self.directory(partition), writable=False)
        return reader

    def partitions_sync(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.name.isdigit() and p.is_dir())

    async def partitions(self) -> list[int]:
        return self.partitions_sync()

    def read_sync(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        return self._log(partition).read_sync(offset, max_records)

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        return await asyncio.to_thread(self.read_sync, partition, offset, max_records)

    def wait_sync(self, positions: dict[int, int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if any(self._log(p).has(offset) for p, offset in positions.items()):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(_POLL, left))

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        await asyncio.to_thread(self.wait_sync, positions, timeout)

    def end_offset_sync(self, partition: int) -> int:
        return self._log(partition).end_offset_sync()

    async def end_offset(self, partition: int) -> int:
        return self.end_offset_sync(partition)

    def end_offsets(self) -> dict[int, int]:
        return {p: self.end_offset_sync(p) for p in self.partitions_sync()}

    async def commit(self, consumer: str, partition: int, offset: int) -> None:
        await self._log(partition).commit(consumer, offset)

    def committed_sync(self, consumer: str, partition: int) -> int:
        return self._log(partition).committed_sync(consumer)

    async def committed(self, consumer: str, partition: int) -> int:
        return self.committed_sync(consumer, partition)

    def close_sync(self) -> None:
        for writer in self._writers.values():
            writer.close_sync()
        for reader in self._readers.values():
            reader.close_sync()
        self._writers.clear()
        self._readers.clear()

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)


def adopt_unpartitioned(root: Path) -> None:
    """A log written before partitions (segments directly in `log/`) becomes partition 0."""
    if not root.is_dir():
        return
    segments = [p for p in root.iterdir() if p.suffix == ".log" and p.stem.isdigit()]
    if not segments:
        return
    target = root / "0"
    target.mkdir(exist_ok=True)
    for path in [*segments, root / "consumers"]:
        if path.exists():
            os.replace(path, target / path.name)


class LazyWriter:
    """A writer that claims its partition on the first append: processes that append only now
    and then (the pipeline emitting Engage's messages, the CLI re-running held messages) leave
    partitions free until they need one."""

    def __init__(self, log: LocalPartitions) -> None:
        self._log = log
        self._writer: LocalWriter | None = None
        self._lock = threading.Lock()

    @property
    def writer(self) -> LocalWriter:
        with self._lock:
            if self._writer is None:
                self._writer = self._log.claim(0)
            return self._writer

    @property
    def partition(self) -> int:
        return self.writer.partition

    async def append(self, payloads: Sequence[bytes]) -> int:
        return await self.writer.append(payloads)

    def submit(self, payloads: Sequence[bytes]) -> int:
        return self.writer.submit(payloads)

    async def append_request(self, payloads: Sequence[bytes], request_id: str, key: str) -> None:
        await self.writer.append_request(payloads, request_id, key)

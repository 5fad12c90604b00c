"""The embedded log: segment files in the data directory, with group commit.

Appends from many concurrent requests are queued; one flusher thread writes everything queued
with a single `write` and a single `fdatasync`, then completes all of their futures. While it
syncs, the next group gathers, so concurrent requests share one fsync.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from seamline.log import frames, tombstone
from seamline.log.base import LogRecord
from seamline.log.consumers import ConsumerOffsets

_SUFFIX = ".log"
_CHUNK = 1 << 20


_Waiter = concurrent.futures.Future[int] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[int]"]
"""Who waits for an append: a thread (concurrent future) or a coroutine on an event loop."""


def _complete(outcomes: list[tuple[_Waiter, int | Exception]]) -> None:
    """Settle waiters; coroutines get one wake-up per event loop for the whole group.

    Waking each request's loop future separately (or through `wrap_future`) cost ~15 % of the
    single-event ingest path in profiles; one `call_soon_threadsafe` per group does not.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | Exception]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, tuple):
            by_loop.setdefault(waiter[0], []).append((waiter[1], outcome))
        elif isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[int], int | Exception]]) -> None:
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _segment_name(base: int) -> str:
    return f"{base:020d}{_SUFFIX}"


class LocalLog:
    """An `EventLog` in a directory: one process writes, any number read (`writable=False`)."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool = True,
        segment_bytes: int = 256 * 1024 * 1024,
        writable: bool = True,
    ) -> None:
        self._dir = directory
        self._fsync = fsync
        self._segment_bytes = segment_bytes
        self._writable = writable
        self._consumers = ConsumerOffsets(directory / "consumers")
        self._cond = threading.Condition()
        self._pending: list[tuple[Sequence[bytes], _Waiter]] = []
        self._closing = False
        self._broken: Exception | None = None
        self._flusher: threading.Thread | None = None
        self._read_fds: dict[int, int] = {}
        self._cursor: tuple[int, int, int] | None = None  # (offset, segment base, position)
        if writable:
            directory.mkdir(parents=True, exist_ok=True)
        self._bases = self._list_segments()
        self._end = 0
        self._active_fd = -1
        self._active_size = 0
        if writable:
            # An erasure's overwrites a crash interrupted are finished first, and none runs
            # while recovery looks for a torn tail (see `log.tombstone`).
            tombstone.redo_pending(directory)
            with tombstone.locked(directory):
                self._recover()

    # --- recovery -------------------------------------------------------------------------

    def _list_segments(self) -> list[int]:
        if not self._dir.is_dir():
            return []
        return sorted(int(p.stem) for p in self._dir.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _recover(self) -> None:
        """Find the durable end; cut off a record torn by a crash in the middle of a write."""
        if not self._bases:
            self._bases = [0]
            self._create_segment(0)
        base = self._bases[-1]
        path = self._dir / _segment_name(base)
        data = path.read_bytes()
        count, valid_end = 0, 0
        while True:
            got, valid_end = frames.decode(data, valid_end, 1 << 30, keep=False)
            count += len(got)
            if not got:
                break
        if valid_end < len(data):
            with path.open("r+b") as handle:
                handle.truncate(valid_end)
                os.fsync(handle.fileno())
        self._end = base + count
        self._active_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._active_size = valid_end

    def _create_segment(self, base: int) -> None:
        fd = os.open(self._dir / _segment_name(base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fsync(fd)
        os.close(fd)
        self._sync_directory()

    def _sync_directory(self) -> None:
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- appending ------------------------------------------------------------------------

    async def append(self, payloads: Sequence[bytes]) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._enqueue(payloads, (loop, future))
        return await future

    def submit(self, payloads: Sequence[bytes]) -> concurrent.futures.Future[int]:
        """Queue records for the next group commit; the future gives the first offset."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._enqueue(payloads, future)
        return future

    def _enqueue(self, payloads: Sequence[bytes], waiter: _Waiter) -> None:
        if not self._writable:
            raise RuntimeError("this log was opened read-only")
        with self._cond:
            if self._closing:
                raise RuntimeError("the log is closed")
            if self._broken is not None:
                raise RuntimeError(f"the log stopped after a failed write: {self._broken}")
            if self._flusher is None:
                # A daemon: appends are acknowledged only after their fsync, so a flusher cut
                # off at interpreter exit loses nothing acknowledged, and never hangs the exit.
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="log-flusher", daemon=True
                )
                self._flusher.start()
            self._pending.append((payloads, waiter))
            self._cond.notify_all()

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                group, self._pending = self._pending, []
            self._flush(group)

    def _flush(self, group: list[tuple[Sequence[bytes], _Waiter]]) -> None:
        try:
            buffer = frames.encode(payload for payloads, _ in group for payload in payloads)
            if self._active_size and self._active_size + len(buffer) > self._segment_bytes:
                self._roll()
            self._write_all(buffer)
            if self._fsync:
                os.fdatasync(self._active_fd)
        except Exception as exc:
            # Cut back (or mark the log broken) before the waiters learn of the failure, so an
            # append made right after a failed one sees the log's state after it.
            self._cut_back(exc)
            _complete([(waiter, exc) for _, waiter in group])
            return
        self._active_size += len(buffer)
        first = self._end
        with self._cond:
            self._end += sum(len(payloads) for payloads, _ in group)
            self._cond.notify_all()
        outcomes: list[tuple[_Waiter, int | Exception]] = []
        for payloads, waiter in group:
            outcomes.append((waiter, first))
            first += len(payloads)
        _complete(outcomes)

    def _cut_back(self, cause: Exception) -> None:
        """Remove a partly written group; if even that fails, refuse all further appends."""
        try:
            os.ftruncate(self._active_fd, self._active_size)
        except OSError:
            with self._cond:
                self._broken = cause

    def _write_all(self, buffer: bytes) -> None:
        view = memoryview(buffer)
        while view:
            written = os.write(self._active_fd, view)
            view = view[written:]

    def _roll(self) -> None:
        os.fsync(self._active_fd)
        os.close(self._active_fd)
        self._create_segment(self._end)
        self._bases.append(self._end)
        path = self._dir / _segment_name(self._end)
        self._active_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._active_size = 0

    # --- reading --------------------------------------------------------------------------

    async def read(self, offset: int, max_records: int) -> list[LogRecord]:
        return await asyncio.to_thread(self.read_sync, offset, max_records)

    def read_sync(self, offset: int, max_records: int) -> list[LogRecord]:
        """Read up to `max_records` records from `offset`; only durable ones when writing."""
        if self._writable:
            with self._cond:
                limit = self._end
            max_records = min(max_records, limit - offset)
        if max_records <= 0:
            return []
        located = self._locate(offset)
        if located is None:
            return []
        base, position, offset = located
        records: list[LogRecord] = []
        while len(records) < max_records:
            payloads, position = self._read_segment(base, position, max_records - len(records))
            records.extend(LogRecord(offset + i, p) for i, p in enumerate(payloads))
            offset += len(payloads)
            if len(records) < max_records and self._next_base(base) == offset:
                # Done with that segment: its file is closed, so one retention deletes
                # (log/expire.py) gives its space back now, not when this process ends.
                self._close_segment(base)
                base, position = offset, 0
            elif not payloads:
                break
        self._cursor = (offset, base, position)
        return records

    def _next_base(self, base: int) -> int | None:
        index = bisect.bisect_right(self._bases, base)
        if index == len(self._bases) and not self._writable:
            self._bases = self._list_segments()
        return self._bases[index] if index < len(self._bases) else None

    def _locate(self, offset: int) -> tuple[int, int, int] | None:
        """(segment base, position, offset) of the record at `offset`; past it when retention
        deleted the segments holding `offset` (log/expire.py): reading goes on from the first
        record kept, as a JetStream partition's offsets skip too."""
        if self._cursor is not None and self._cursor[0] == offset:
            return self._cursor[1], self._cursor[2], offset
        if not self._writable:
            self._forget_deleted()
        index = bisect.bisect_right(self._bases, offset) - 1
        if index >= 0 and not self._segment_exists(self._bases[index]):
            self._forget_deleted()
            index = bisect.bisect_right(self._bases, offset) - 1
        if index < 0:
            if not self._bases:
                return None
            index, offset = 0, self._bases[0]
        base = self._bases[index]
        position = 0
        to_skip = offset - base
        while to_skip > 0:
            data = self._pread(base, position, _CHUNK)
            skipped, new_position = frames.decode(data, 0, to_skip, keep=False)
            if not skipped:
                return None
            to_skip -= len(skipped)
            position += new_position
        return base, position, offset

    def _segment_exists(self, base: int) -> bool:
        return (self._dir / _segment_name(base)).exists()

    def _forget_deleted(self) -> None:
        """List the segments again after retention deleted some, closing their files."""
        self._bases = self._list_segments()
        for base in [b for b in self._read_fds if b not in self._bases]:
            self._close_segment(base)

    def _close_segment(self, base: int) -> None:
        fd = self._read_fds.pop(base, None)
        if fd is not None:
            os.close(fd)

    def _read_segment(self, base: int, position: int, max_records: int) -> tuple[list[bytes], int]:
        data = self._pread(base, position, _CHUNK)
        payloads, used = frames.decode(data, 0, max_records)
        if not payloads and data:
            wanted = frames.needed(data, 0)
            if wanted > len(data):
                data = self._pread(base, position, wanted)
                payloads, used = frames.decode(data, 0, max_records)
        return payloads, position + used

    def _pread(self, base: int, position: int, size: int) -> bytes:
        fd = self._read_fds.get(base)
        if fd is None:
            try:
                fd = os.open(self._dir / _segment_name(base), os.O_RDONLY)
            except FileNotFoundError:
                return b""
            self._read_fds[base] = fd
        return os.pread(fd, size, position)

    def has(self, offset: int) -> bool:
        """Whether a record at `offset` can be read now; cheap enough to poll."""
        if self._writable:
            with self._cond:
                return self._end > offset
        cursor = self._cursor
        if cursor is not None and cursor[0] == offset:
            base, position = cursor[1], cursor[2]
            fd = self._read_fds.get(base)
            if fd is not None and os.fstat(fd).st_size > position:
                return True
            if self._next_base(base) is None:
                return False
        return bool(self.read_sync(offset, 1))

    async def wait(self, offset: int, timeout: float) -> bool:
        return await asyncio.to_thread(self.wait_sync, offset, timeout)

    def wait_sync(self, offset: int, timeout: float) -> bool:
        """Block until the record at `offset` is durable, or `timeout` seconds pass."""
        if not self._writable:
            return bool(self.read_sync(offset, 1)) or threading.Event().wait(timeout)
        with self._cond:
            return self._cond.wait_for(lambda: self._end > offset or self._closing, timeout)

    async def end_offset(self) -> int:
        return self.end_offset_sync()

    def end_offset_sync(self) -> int:
        """Number of durable records (scans the last segment when opened read-only)."""
        if self._writable:
            with self._cond:
                return self._end
        self._bases = self._list_segments()
        if not self._bases:
            return 0
        base = self._bases[-1]
        data = self._pread(base, 0, os.path.getsize(self._dir / _segment_name(base)))
        payloads, _ = frames.decode(data, 0, 1 << 62, keep=False)
        return base + len(payloads)

    # --- consumers and lifecycle ----------------------------------------------------------

    async def commit(self, consumer: str, offset: int) -> None:
        await asyncio.to_thread(self._consumers.commit, consumer, offset)

    async def committed(self, consumer: str) -> int:
        return self._consumers.committed(consumer)

    def committed_sync(self, consumer: str) -> int:
        return self._consumers.committed(consumer)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """Flush what is queued, stop the flusher and close files."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            flusher = self._flusher
        if flusher is not None:
            flusher.join()
        if self._active_fd >= 0:
            os.close(self._active_fd)
            self._active_fd = -1
        for fd in self._read_fds.values():
            os.close(fd)
        self._read_fds.clear()

"""Tombstones: local log records overwritten in place when a person's messages are erased.

A tombstone is a frame of the same length as the record it replaces (a payload of NUL bytes
after a short label, and its own checksum), so offsets and every record's file position stay
as they were: consumers' committed offsets, a reader's cursor and a collect worker appending
at the end of the same segment are undisturbed. No record Seamline writes starts with a NUL
byte (records are JSON), so readers tell a tombstone by its first byte and skip it.

Overwriting is journalled: the positions are written to `erase.pending` in the partition's
directory before any frame is touched, and the journal is removed once the frames are synced.
A frame torn by a crash in the middle of an overwrite would fail its checksum, and the writer's
recovery cuts a segment at the first bad frame, so that recovery (and any later erasure) first
writes the journalled tombstones again. The journal holds positions only, never message bytes.
`erase.lock` keeps recovery from reading a segment while an erasure writes into it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from seamline.log.frames import HEADER

LABEL = b"\x00seamline:erased"
JOURNAL = "erase.pending"
LOCK = "erase.lock"
COUNTS = "erased.json"
"""How many tombstones each segment of the partition holds (for `events count`); per segment,
so a segment retention deletes takes its tombstones with it."""

Spot = tuple[int, int, int]
"""Where a frame is: (segment base offset, file position of its header, payload length)."""


def is_tombstone(payload: bytes) -> bool:
    """Whether a local log record was erased (cheap: one byte)."""
    return payload[:1] == b"\x00"


def tombstone(length: int) -> bytes:
    """A tombstone payload of exactly `length` bytes."""
    return (LABEL + bytes(max(0, length - len(LABEL))))[:length]


def frame(payload: bytes) -> bytes:
    """The whole frame (header and payload) as the log stores it."""
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def segment_path(directory: Path, base: int) -> Path:
    return directory / f"{base:020d}.log"


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the partition's erase lock (blocking: erasures write briefly)."""
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)  # private, whatever the umask
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def erased_counts(directory: Path) -> dict[int, int]:
    """Tombstones per segment (by base offset) of the partition in `directory`."""
    try:
        stored = json.loads((directory / COUNTS).read_bytes())
    except FileNotFoundError:
        return {}
    return {int(base): int(count) for base, count in stored.items()}


def erased_count(directory: Path) -> int:
    """How many records of the partition in `directory` are tombstones now."""
    return sum(
        count
        for base, count in erased_counts(directory).items()
        if segment_path(directory, base).exists()
    )


def overwrite(
    directory: Path, writes: Sequence[tuple[Spot, bytes]], erased: dict[int, int]
) -> None:
    """Replace frames in place with same-length payloads (tombstones, or a record's kept
    messages padded), journalled; the caller holds `locked(directory)`. `erased` is the
    partition's tombstone count per segment once done."""
    # The journal holds no message bytes, so a record rewritten with the messages it keeps is
    # journalled by its place only: see `redo_pending`.
    journal = {
        "spots": [[*spot, is_tombstone(payload)] for spot, payload in writes],
        "erased": {str(base): count for base, count in erased.items()},
    }
    _write_atomically(directory / JOURNAL, json.dumps(journal).encode())
    _apply(directory, list(writes), erased)


def redo_pending(directory: Path) -> None:
    """Finish an erasure a crash interrupted: write its journalled tombstones again, and turn a
    rewritten record that was torn into a tombstone (a record left as it was before, intact, is
    found again by the erasure run again). Called by the log's recovery before it looks for a
    torn tail, and by every erasure before it starts."""
    path = directory / JOURNAL
    if not path.exists():
        return
    with locked(directory):
        try:
            journal = json.loads(path.read_bytes())
        except FileNotFoundError:  # finished meanwhile
            return
        writes: list[tuple[Spot, bytes]] = []
        for base, at, length, is_dead in journal["spots"]:
            if is_dead or _torn(directory, base, at, length):
                writes.append(((base, at, length), tombstone(length)))
        _apply(directory, writes, {int(b): int(n) for b, n in journal["erased"].items()})


def _apply(directory: Path, writes: Sequence[tuple[Spot, bytes]], erased: dict[int, int]) -> None:
    by_segment: dict[int, list[tuple[Spot, bytes]]] = {}
    for spot, payload in writes:
        by_segment.setdefault(spot[0], []).append((spot, payload))
    for base, spots in by_segment.items():
        try:
            fd = os.open(segment_path(directory, base), os.O_RDWR)
        except FileNotFoundError:  # expired by retention since: nothing left to erase
            continue
        try:
            for (_, at, _), payload in spots:
                # One pwrite per frame, header and payload together. Appends (O_APPEND, by a
                # collect worker in another process) land past these bytes, untouched.
                os.pwrite(fd, frame(payload), at)
            os.fsync(fd)
        finally:
            os.close(fd)
    _write_atomically(directory / COUNTS, json.dumps(erased).encode())
    with contextlib.suppress(FileNotFoundError):
        (directory / JOURNAL).unlink()
    sync_directory(directory)


def _torn(directory: Path, base: int, at: int, length: int) -> bool:
    try:
        with segment_path(directory, base).open("rb") as handle:
            data = os.pread(handle.fileno(), HEADER.size + length, at)
    except FileNotFoundError:
        return False
    if len(data) < HEADER.size + length:
        return False  # past the end: not this record any more
    stored_length, checksum = HEADER.unpack_from(data, 0)
    return bool(stored_length != length or zlib.crc32(data[HEADER.size :]) != checksum)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def sync_directory(directory: Path) -> None:
    """Make a directory's entries (a new, renamed or deleted file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

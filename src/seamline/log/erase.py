"""Erasing one person's messages from the log (a deletion regulation, docs/privacy.md).

`erase_from_log` scans every partition and removes the records whose envelopes `matches`
accepts. On the local log each such record is overwritten in place by a tombstone of the same
length (`log.tombstone`): offsets and file positions stay, so consumers and collect workers
appending meanwhile are undisturbed, and readers skip tombstones. A record holding several
envelopes of which only some match is rewritten with the others, padded to its length. On
JetStream the messages are deleted (`log.erase_nats`).

Only records whose bytes contain one of `needles` are decoded: the scan is then a read of the
log and a substring search. Measured on the 2-core machine, one person in 1 M events (483 MB,
4 partitions, page cache warm): 4.4-5.0 s; decoding every record instead: 14.7 s.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from seamline.log import tombstone
from seamline.log.frames import HEADER
from seamline.log.partitions import LocalPartitions
from seamline.spec.envelope import Envelope, envelope_decoder

if TYPE_CHECKING:
    from pathlib import Path

    from seamline.log.nats import NatsLog

Matches = Callable[[Envelope], bool]
Progress = Callable[[int, int], None]
"""Called with (bytes scanned, bytes to scan) as the scan goes."""

_CHUNK = 16 << 20  # bytes per read: large sequential reads keep the scan at disk speed
_raws = msgspec.json.Decoder(list[msgspec.Raw])


class ErasedMessage(msgspec.Struct, frozen=True):
    """A message removed from the log: where it came from and its id."""

    workspace_id: str
    source_id: str
    message_id: str
    rerun: int | None = None

    @property
    def dedup_key(self) -> tuple[str, str]:
        """The key the dedup store remembers it by (as `pipeline.dedup._key` makes it)."""
        message_id = self.message_id
        if self.rerun is not None:
            message_id = f"{message_id}#rerun-{self.rerun}"
        return self.source_id, message_id


@dataclass
class LogErasure:
    """What an erasure found and did."""

    records_scanned: int = 0
    bytes_scanned: int = 0
    records_decoded: int = 0  # the ones the byte prefilter let through
    records_erased: int = 0  # tombstoned (local) or deleted (JetStream)
    records_rewritten: int = 0  # kept some of their envelopes (see the module docstring)
    messages: list[ErasedMessage] = field(default_factory=list)

    @property
    def message_ids(self) -> dict[str, set[str]]:
        """Per workspace, the messageIds erased."""
        found: dict[str, set[str]] = {}
        for message in self.messages:
            found.setdefault(message.workspace_id, set()).add(message.message_id)
        return found

    @property
    def dedup_keys(self) -> list[tuple[str, str]]:
        """(source id, key) pairs for `forget_messages` of the dedup stores."""
        return sorted({message.dedup_key for message in self.messages})


def needles_of(values: Iterable[str]) -> list[bytes]:
    """Byte strings for the prefilter: each identifier value as it appears in a record's JSON
    (escaped), lowercased like the scan's view of the bytes (identity normalises emails to
    lowercase). A phone written with spaces or dashes is not found this way: the message's
    userId or anonymousId (one is always present) is, when it is among the person's ids."""
    needles: set[bytes] = set()
    for value in values:
        if value:
            needles.add(msgspec.json.encode(value)[1:-1].lower())
    return sorted(needles)


async def erase_from_log(
    log: LocalPartitions | NatsLog,
    matches: Matches,
    *,
    needles: Collection[bytes] | None,
    progress: Progress | None = None,
) -> LogErasure:
    """Remove every message `matches` accepts from every partition of `log`.

    Only records containing one of `needles` (lowercase, see `needles_of`) are decoded and
    offered to `matches`; None decodes every record. Run it while the pipeline is paused;
    collect workers may keep appending. Messages appended after the scan passed are not seen.
    """
    if isinstance(log, LocalPartitions):
        return await asyncio.to_thread(erase_local, log, matches, needles, progress)
    from seamline.log.erase_nats import erase_nats

    return await erase_nats(log, matches, needles, progress)


def erase_local(
    log: LocalPartitions,
    matches: Matches,
    needles: Collection[bytes] | None,
    progress: Progress | None = None,
) -> LogErasure:
    """`erase_from_log` for the local log, in the calling thread."""
    result = LogErasure()
    directories = [log.directory(p) for p in log.partitions_sync()]
    segments = [(d, base) for d in directories for base in _segments(d)]
    total = sum(_size(tombstone.segment_path(d, base)) for d, base in segments)
    for directory in directories:
        tombstone.redo_pending(directory)
        writes: list[tuple[tombstone.Spot, bytes]] = []
        for base in _segments(directory):
            writes += _scan_segment(directory, base, matches, needles, result, progress, total)
        if writes:
            with tombstone.locked(directory):
                erased = tombstone.erased_counts(directory)
                for (base, _, _), payload in writes:
                    if tombstone.is_tombstone(payload):
                        erased[base] = erased.get(base, 0) + 1
                tombstone.overwrite(directory, writes, erased)
    return result


def _segments(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.log") if p.stem.isdigit())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _scan_segment(
    directory: Path,
    base: int,
    matches: Matches,
    needles: Collection[bytes] | None,
    result: LogErasure,
    progress: Progress | None,
    total: int,
) -> list[tuple[tombstone.Spot, bytes]]:
    """The overwrites a segment needs; reads it up to its size now (appends go on past it)."""
    writes: list[tuple[tombstone.Spot, bytes]] = []
    try:
        fd = os.open(tombstone.segment_path(directory, base), os.O_RDONLY)
    except FileNotFoundError:
        return writes
    try:
        size = os.fstat(fd).st_size
        at = 0  # file position of the next frame
        while at < size:
            chunk = os.pread(fd, min(_CHUNK, size - at), at)
            used, stop = _scan_chunk(chunk, at, base, matches, needles, result, writes)
            if used == 0 and not stop:  # a frame longer than the chunk: read it whole
                length = HEADER.unpack_from(chunk, 0)[0] if len(chunk) >= HEADER.size else 0
                if HEADER.size + length > size - at:
                    break  # a torn tail (being written now, or cut by recovery later)
                chunk = os.pread(fd, HEADER.size + length, at)
                used, stop = _scan_chunk(chunk, at, base, matches, needles, result, writes)
            at += used
            result.bytes_scanned += used
            if progress is not None:
                progress(result.bytes_scanned, total)
            if stop or used == 0:
                break
    finally:
        os.close(fd)
    return writes


def _scan_chunk(
    chunk: bytes,
    at: int,
    base: int,
    matches: Matches,
    needles: Collection[bytes] | None,
    result: LogErasure,
    writes: list[tuple[tombstone.Spot, bytes]],
) -> tuple[int, bool]:
    """Scan the whole frames of `chunk` (read at file position `at`); the bytes they take, and
    whether a corrupt frame ends the segment (readers stop there too)."""
    hits = _hits(chunk, needles)
    position, end, header = 0, len(chunk), HEADER.size
    while position + header <= end:
        length, checksum = HEADER.unpack_from(chunk, position)
        body, after = position + header, position + header + length
        if after > end:
            break
        if hits is None or _any_between(hits, body, after):
            payload = chunk[body:after]
            if zlib.crc32(payload) != checksum:
                return position, True
            if not tombstone.is_tombstone(payload):
                replacement = erase_record(payload, matches, result)
                if replacement is not None:
                    writes.append(((base, at + position, length), replacement))
        result.records_scanned += 1
        position = after
    return position, False


def _hits(chunk: bytes, needles: Collection[bytes] | None) -> list[int] | None:
    """Sorted positions in `chunk` where a needle starts (None: every record is a candidate).
    One lowercase copy and a `find` per needle over 16 MB beats a test per record ~10x."""
    if needles is None:
        return None
    lowered = chunk.lower()
    hits: list[int] = []
    for needle in needles:
        start = lowered.find(needle)
        while start >= 0:
            hits.append(start)
            start = lowered.find(needle, start + 1)
    hits.sort()
    return hits


def _any_between(hits: list[int], start: int, end: int) -> bool:
    index = bisect.bisect_left(hits, start)
    return index < len(hits) and hits[index] < end


def erase_record(payload: bytes, matches: Matches, result: LogErasure) -> bytes | None:
    """The record's replacement (a tombstone, or the envelopes it keeps), or None to keep it."""
    result.records_decoded += 1
    try:
        raws = [bytes(raw) for raw in _raws.decode(payload)] if payload[:1] == b"[" else [payload]
        envelopes = [envelope_decoder.decode(raw) for raw in raws]
    except msgspec.DecodeError:
        return None  # the pipeline reports it as undecodable; nobody can tell whose it is
    kept: list[bytes] = []
    for raw, envelope in zip(raws, envelopes, strict=True):
        if matches(envelope):
            result.messages.append(_erased(envelope))
        else:
            kept.append(raw)
    if len(kept) == len(raws):
        return None
    if not kept:
        result.records_erased += 1
        return tombstone.tombstone(len(payload))
    # Fewer envelopes take fewer bytes: JSON allows the padding's trailing spaces. The kept
    # envelopes' index in the record (the last part of their position) may shift.
    result.records_rewritten += 1
    rest = b"[" + b",".join(kept) + b"]"
    return rest + b" " * (len(payload) - len(rest))


def _erased(envelope: Envelope) -> ErasedMessage:
    return ErasedMessage(
        envelope.workspace_id,
        envelope.source_id,
        envelope.message.message_id or "",
        envelope.rerun,
    )

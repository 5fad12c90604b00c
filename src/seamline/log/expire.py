"""Retention on the embedded log: the oldest segment files of a partition are deleted once
every record in them has expired and the pipeline has committed past them.

Only whole segments go, and only from the start of a partition, so what is left is one run of
records whose offsets do not change (a segment file is named by its first record's offset).
A reader asked for an offset before the first segment left reads on from that segment
(`LocalLog._locate`). The newest segment, the one being appended to, is never deleted: the
partition's end offset stays where it was even when everything has expired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import msgspec

from seamline.log import frames
from seamline.log.tombstone import sync_directory

_SUFFIX = ".log"
_CHUNK = 1 << 20

IsExpired = Callable[[str, datetime | None], bool]
"""Whether a message of a workspace (its id) received at a time (its `receivedAt`) expired."""


class _Received(msgspec.Struct, rename="camel"):
    received_at: datetime | None = None


class _Stamp(msgspec.Struct):
    """The two fields of an envelope retention needs; the rest is skipped, not decoded."""

    workspace_id: str
    message: _Received


_one = msgspec.json.Decoder(_Stamp)
_many = msgspec.json.Decoder(list[_Stamp])


class Dropped(NamedTuple):
    segments: int
    records: int


def expire_partition(directory: Path, committed: int, expired: IsExpired) -> Dropped:
    """Delete the partition's oldest segments that lie wholly before `committed` (the
    pipeline's committed offset) and whose every record has `expired`; what went."""
    bases = sorted(int(p.stem) for p in directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
    dropped = Dropped(0, 0)
    for base, following in pairwise(bases):
        if following > committed:
            break  # the pipeline has not processed all of it: kept, whatever its age
        path = directory / _segment_name(base)
        if not _all_expired(path, following - base, expired):
            break
        path.unlink()
        dropped = Dropped(dropped.segments + 1, dropped.records + following - base)
    if dropped.segments:
        sync_directory(directory)
    return dropped


def _all_expired(path: Path, count: int, expired: IsExpired) -> bool:
    """Whether the segment holds exactly `count` intact records, every one expired."""
    seen = 0
    for payload in _records(path):
        seen += 1
        if not record_expired(payload, expired):
            return False
    return seen == count


def record_expired(payload: bytes, expired: IsExpired) -> bool:
    """Whether every message of a log record has expired (a tombstone has: nothing is left of
    it; a record that cannot be read has not: it is not ours to judge)."""
    if payload[:1] == b"\x00":
        return True  # a tombstone (an erased record, log/tombstone.py)
    try:
        stamps = _many.decode(payload) if payload[:1] == b"[" else [_one.decode(payload)]
    except msgspec.DecodeError:
        return False
    return all(expired(s.workspace_id, s.message.received_at) for s in stamps)


def _records(path: Path) -> Iterator[bytes]:
    """The payloads of a segment file, read a chunk at a time."""
    data = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data += chunk
            payloads, used = frames.decode(data, 0, 1 << 62)
            yield from payloads
            data = data[used:]


def _segment_name(base: int) -> str:
    return f"{base:020d}{_SUFFIX}"

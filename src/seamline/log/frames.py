"""The on-disk record format of the local log: `[u32 length][u32 crc32][payload]`, little-endian.

The checksum lets recovery tell a complete record from one torn by a crash mid-write.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

HEADER = struct.Struct("<II")


def encode(payloads: Iterable[bytes]) -> bytes:
    """Frame payloads for appending to a segment file."""
    parts: list[bytes] = []
    for payload in payloads:
        parts.append(HEADER.pack(len(payload), zlib.crc32(payload)))
        parts.append(payload)
    return b"".join(parts)


def decode(
    buffer: bytes, start: int, max_records: int, *, keep: bool = True
) -> tuple[list[bytes], int]:
    """Decode complete, intact frames from `buffer[start:]`.

    Returns the payloads (empty strings when `keep` is False, to count without copying) and the
    position just after the last complete frame; decoding stops at a partial or corrupt frame.
    """
    payloads: list[bytes] = []
    position = start
    end = len(buffer)
    header_size = HEADER.size
    while len(payloads) < max_records and position + header_size <= end:
        length, checksum = HEADER.unpack_from(buffer, position)
        body_start = position + header_size
        body_end = body_start + length
        if body_end > end:
            break
        payload = buffer[body_start:body_end]
        if zlib.crc32(payload) != checksum:
            break
        payloads.append(payload if keep else b"")
        position = body_end
    return payloads, position


def needed(buffer: bytes, start: int) -> int:
    """Bytes needed from `start` to hold the next whole frame (header size if unknown yet)."""
    if len(buffer) - start < HEADER.size:
        return HEADER.size
    length, _ = HEADER.unpack_from(buffer, start)
    return int(HEADER.size + length)

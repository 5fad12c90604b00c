"""A Bloom filter of the profile ids in one event-store file, kept in the catalog.

`events_of` reads only the files whose filter may hold one of the profile's ids: at 10 M rows a
typical profile is in about 9 of 35 files, and each file read costs a row group's decoding.
The hash is DuckDB's `hash()`, computed where the rows are (no Python loop over 400 k ids per
merged file); because DuckDB may change it between versions, a filter carries the hash of a
fixed word, and one built with another hash is not used (its file is read, as if unfiltered).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import duckdb
import numpy as np

BITS_PER_ID = 10
HASHES = 7  # with 10 bits per id: about 1 % false positives
CHECK_WORD = "seamline profile filter"
_HEADER = struct.Struct("<Q")


def _spread(hashes: np.ndarray, bits: int) -> np.ndarray:
    """The bit positions of each hash (double hashing: h1 + i * h2)."""
    low = hashes & np.uint64(0xFFFFFFFF)
    high = (hashes >> np.uint64(32)) | np.uint64(1)
    steps = np.arange(HASHES, dtype=np.uint64)
    positions: np.ndarray = (low[:, None] + steps[None, :] * high[:, None]) % np.uint64(bits)
    return positions.ravel()


def check_of(connection: duckdb.DuckDBPyConnection) -> int:
    """What this DuckDB's `hash` makes of the check word (a filter built with another hash is
    not used)."""
    # fetchall, not fetchone: a result read only in part leaves the connection refusing
    # `register` (the lake's rewrites register the values they match on the same connection).
    found = connection.execute("SELECT hash(?)", [CHECK_WORD]).fetchall()
    return int(found[0][0])


def build(connection: duckdb.DuckDBPyConnection, source: str) -> bytes:
    """The filter of the profile ids of the rows of `source` (a FROM clause), as stored."""
    hashes = connection.execute(
        f"SELECT DISTINCT hash(profile_id) AS h FROM {source} WHERE profile_id IS NOT NULL"
    ).fetchnumpy()["h"]
    hashes = np.asarray(hashes, dtype=np.uint64)
    bits = max(1024, -(-len(hashes) * BITS_PER_ID // 8) * 8)
    flags = np.zeros(bits, dtype=np.bool_)
    if len(hashes):
        flags[_spread(hashes, bits)] = True
    return _HEADER.pack(check_of(connection)) + np.packbits(flags, bitorder="little").tobytes()


class ProfileHashes:
    """The hashes of the ids a query looks for, to test against files' filters."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, profile_ids: Sequence[str], check: int
    ) -> None:
        marks = ", ".join("(?::VARCHAR)" for _ in profile_ids)
        rows = connection.execute(
            f"SELECT hash(id) FROM (VALUES {marks}) AS ids(id)", list(profile_ids)
        ).fetchall()
        self._hashes = np.array([row[0] for row in rows], dtype=np.uint64)
        self._check = check

    def may_be_in(self, stored: bytes | None) -> bool:
        """Whether a file with this filter may hold one of the ids (always, without one)."""
        if stored is None or len(stored) <= _HEADER.size:
            return True
        if _HEADER.unpack_from(stored)[0] != self._check:
            return True  # built by a DuckDB whose hash differs: no answer from it
        bits = (len(stored) - _HEADER.size) * 8
        array = np.frombuffer(stored, dtype=np.uint8, offset=_HEADER.size)
        positions = _spread(self._hashes, bits).reshape(len(self._hashes), HASHES)
        held = (array[positions >> np.uint64(3)] >> (positions & np.uint64(7))) & 1
        return bool(held.all(axis=1).any())

"""Finding what changed since a subscription's last run: each row's record id (its primary
key's value as text) and checksum (of the whole row as JSON), compared with the snapshot.

Rows become JSON values once (`msgspec.to_builtins`: timestamps as ISO 8601, decimals and UUIDs
as text), which is what the checksum covers and what the mapping reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from seamline.errors import InvalidInput

MAX_RECORD_ID = 500
_encode = msgspec.json.Encoder(order="deterministic").encode


class BadRecords(InvalidInput):
    """The rows cannot be diffed: no primary key column, a missing or duplicate key."""

    code = "model_bad_records"


@dataclass
class Records:
    """The model's rows now: record id → (checksum, row as JSON values), in query order."""

    columns: list[str]
    rows: dict[str, tuple[str, dict[str, Any]]]


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def records_of(columns: list[str], rows: list[tuple[Any, ...]], key_column: str) -> Records:
    """The rows keyed by record id. BadRecords when the key column is missing, a key is null
    or too long, or two rows share one (nothing is sent then: the run fails)."""
    if key_column not in columns:
        raise BadRecords(
            f"the primary key column {key_column!r} is not in the query's columns "
            f"({', '.join(columns) or 'none'})"
        )
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise BadRecords(f"the query returns column {twice[0]!r} twice; name each column once")
    at = columns.index(key_column)
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in rows:
        values: dict[str, Any] = msgspec.to_builtins(dict(zip(columns, row, strict=True)))
        key = row[at]
        if key is None:
            raise BadRecords(f"a row has no value in the primary key column {key_column!r}")
        record_id = values[key_column] if isinstance(values[key_column], str) else _text(key)
        if len(record_id) > MAX_RECORD_ID:
            raise BadRecords(f"a primary key is over {MAX_RECORD_ID} characters")
        if record_id in found:
            raise BadRecords(
                f"the primary key {key_column!r} is not unique: {record_id[:100]!r} is in "
                "two rows (deduplicate the query)"
            )
        found[record_id] = (checksum(values), values)
    return Records(columns, found)


def checksum(values: Mapping[str, Any]) -> str:
    """32 hex digits over the row's JSON: equal rows, equal checksums."""
    return hashlib.blake2b(_encode(values), digest_size=16).hexdigest()


def diff(snapshot: Mapping[str, str], now: Records) -> Changes:
    """Ids added since the snapshot, updated (checksum changed) and deleted (gone)."""
    changes = Changes()
    for record_id, (sum_now, _) in now.rows.items():
        before = snapshot.get(record_id)
        if before is None:
            changes.added.append(record_id)
        elif before != sum_now:
            changes.updated.append(record_id)
    changes.deleted = [record_id for record_id in snapshot if record_id not in now.rows]
    return changes


def _text(value: Any) -> str:
    plain = msgspec.to_builtins(value)
    return plain if isinstance(plain, str) else _encode(plain).decode()

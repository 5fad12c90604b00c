"""The audit trail's entries and hash chain: what a stored entry is, its canonical JSON, and
the walk that checks the chain (seamline.access.audit re-exports these and explains them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

GENESIS = "0" * 64
"""The prev_hash of the first entry."""


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """Where a request came from, when it came over HTTP."""

    ip: str | None = None
    request_id: str | None = None


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    id: str
    name: str


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    id: str


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded action, as stored (its payload is this struct's canonical JSON)."""

    seq: int
    at: datetime
    workspace_id: str
    actor: Actor
    action: str
    resource: Resource
    before: Any = None
    after: Any = None
    origin: Origin = Origin()


class StoredEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the trail as the store holds it: what `verify_chain` checks."""

    seq: int
    payload: str
    prev_hash: str
    hash: str
    columns: dict[str, Any]
    """The filter columns, which must repeat what the payload says."""


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries to list; every field None matches everything."""

    actor: str | None = None  # an actor's id or name
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of walking the chain: `ok`, how many entries, else the first broken seq."""

    ok: bool
    count: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None


def payload_of(entry: AuditEntry) -> str:
    """The canonical JSON of an entry: keys sorted, no spaces, times in ISO 8601 UTC."""
    return msgspec.json.encode(msgspec.to_builtins(entry), order="sorted").decode()


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def filter_columns(entry: AuditEntry) -> dict[str, Any]:
    """The columns a store keeps beside the payload, for filtering."""
    return {
        "workspace_id": entry.workspace_id,
        "actor_kind": entry.actor.kind,
        "actor_id": entry.actor.id,
        "actor_name": entry.actor.name,
        "action": entry.action,
        "resource_type": entry.resource.type,
        "resource_id": entry.resource.id,
    }


def decode_entry(payload: str) -> AuditEntry:
    return msgspec.json.decode(payload, type=AuditEntry)


def verify_chain(rows: Iterable[StoredEntry], head: tuple[int, str] | None) -> Verdict:
    """Walk `rows` in seq order against the stored `head` (last seq, hash); the first broken
    entry and why, or ok with the count."""
    expected_seq, prev = 1, GENESIS
    for row in rows:
        if row.seq != expected_seq:
            return _broken(
                expected_seq - 1,
                prev,
                expected_seq,
                f"entry {expected_seq} is missing (the next stored entry is {row.seq})",
            )
        if row.prev_hash != prev:
            return _broken(
                row.seq - 1,
                prev,
                row.seq,
                f"entry {row.seq}'s prev_hash is not entry {row.seq - 1}'s hash",
            )
        if chain_hash(row.prev_hash, row.payload) != row.hash:
            return _broken(
                row.seq - 1, prev, row.seq, f"entry {row.seq}'s content does not match its hash"
            )
        problem = _disagreement(row)
        if problem is not None:
            return _broken(row.seq - 1, prev, row.seq, f"entry {row.seq}: {problem}")
        expected_seq, prev = row.seq + 1, row.hash
    last = expected_seq - 1
    if head is None:
        if last == 0:
            return Verdict(ok=True, count=0, head_hash=GENESIS)
        return _broken(last, prev, last + 1, "the chain's head row is missing")
    if head != (last, prev):
        return _broken(
            last,
            prev,
            last + 1,
            f"the chain ends at entry {last} but its head says {head[0]}: "
            "entries at the end were deleted or the head was changed",
        )
    return Verdict(ok=True, count=last, head_hash=prev)


def _disagreement(row: StoredEntry) -> str | None:
    try:
        entry = decode_entry(row.payload)
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        return f"the payload is not an audit entry ({error})"
    if entry.seq != row.seq:
        return f"the payload says seq {entry.seq}"
    for column, value in filter_columns(entry).items():
        if row.columns.get(column) != value:
            return f"column {column} disagrees with the payload"
    return None


def _broken(count: int, head_hash: str, seq: int, reason: str) -> Verdict:
    return Verdict(ok=False, count=count, head_hash=head_hash, broken_seq=seq, reason=reason)

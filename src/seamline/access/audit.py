"""The audit trail: who did what to which resource, when, with the before and after documents.

Recording, for every surface (API routes, CLI commands, the users and regulations code):

    record(trail, principal, "resource.update", "destination", "webhook",
           before=old_document, after=new_document, origin=Origin(ip=..., request_id=...))

`action` is `<thing>.<verb>`: `resource.create|update|delete` (`record_change` picks the verb
from the documents), `source.create`, `token.create|revoke|rotate`, `user.create|disable|login`,
`profile.read|unmerge`, `held.rerun`, `destination.replay|replay_dead`, `regulation.create` …
`resource_type`/`resource_id` name what was acted on: never a data subject's identifier (an
email, a user id), which would outlive their deletion here; name the profile id instead.
Secrets never reach the trail: sealed values and values under secret-sounding keys
(`redacted`) are replaced by `[secret]` before anything is written. Recording happens after
the change succeeded, in its own transaction; an audit write that fails raises (a change must
not go unrecorded silently).

Tamper evidence: every entry is stored as canonical JSON (`payload`) with
`hash = sha256(prev_hash + payload)`, `prev_hash` being the previous entry's hash (GENESIS for
the first); a one-row head holds the last seq and hash. `verify_chain` walks the rows: an edited
payload, a deleted row (a gap in seq, or rows missing at the end) or a reordered one breaks it.
Someone who can rewrite the whole table and its head can rebuild a valid chain: keep the head
hash `seamline audit verify` prints somewhere else to prove later rows grew from it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Protocol

from seamline.access.principal import Principal
from seamline.access.sealing import HIDDEN, is_sealed
from seamline.errors import InvalidInput
from seamline.store.audit_chain import (
    GENESIS,
    Actor,
    AuditEntry,
    AuditFilter,
    Origin,
    Resource,
    StoredEntry,
    Verdict,
    verify_chain,
)

__all__ = [
    "GENESIS",
    "Actor",
    "AuditEntry",
    "AuditFilter",
    "AuditTrail",
    "Origin",
    "Resource",
    "StoredEntry",
    "Verdict",
    "parse_filter",
    "record",
    "record_change",
    "redacted",
    "verify_chain",
]

# Keys that end like these hold secrets (`apiKey`, `client_secret`, `password_hash`), while
# `token_id` or `write_key` (a public client key, as in Segment) do not.
_SECRET_KEY = re.compile(
    r"(pass(word|phrase)(_?hash)?|secret(_?key)?|token|api_?key|private_?key|credentials?"
    r"|authorization)$",
    re.IGNORECASE,
)


class AuditTrail(Protocol):
    def append(self, entry: AuditEntry) -> AuditEntry:
        """Store `entry` as the next one of the chain (its seq is assigned here); returns it
        with the seq it got. Appends from every process form one chain."""
        ...

    def entries(
        self, workspace_id: str, where: AuditFilter, *, limit: int, before_seq: int | None
    ) -> list[AuditEntry]:
        """Matching entries, newest first, with seq below `before_seq` when given."""
        ...

    def verify(self) -> Verdict: ...


def record(
    trail: AuditTrail,
    actor: Principal,
    action: str,
    resource_type: str,
    resource_id: str,
    *,
    before: Any = None,
    after: Any = None,
    origin: Origin | None = None,
) -> AuditEntry:
    """Append one entry in `actor`'s name, secrets in `before`/`after` redacted."""
    return trail.append(
        AuditEntry(
            seq=0,
            at=datetime.now(UTC),
            workspace_id=actor.workspace_id,
            actor=Actor(kind=actor.kind, id=actor.id, name=actor.name),
            action=action,
            resource=Resource(type=resource_type, id=resource_id),
            before=redacted(before),
            after=redacted(after),
            origin=origin or Origin(),
        )
    )


def record_change(
    trail: AuditTrail,
    actor: Principal,
    resource_type: str,
    resource_id: str,
    before: Any,
    after: Any,
    *,
    origin: Origin | None = None,
) -> AuditEntry | None:
    """Record `resource.create|update|delete` from the documents before and after (None: did
    not exist / no longer exists); nothing when they are equal (an idempotent re-save)."""
    if before == after:
        return None
    verb = "create" if before is None else "delete" if after is None else "update"
    return record(
        trail,
        actor,
        f"resource.{verb}",
        resource_type,
        resource_id,
        before=before,
        after=after,
        origin=origin,
    )


def redacted(value: Any) -> Any:
    """`value` with sealed values and values under secret-sounding keys replaced by
    `[secret]` (the API's own placeholder), at any depth."""
    if is_sealed(value):
        return HIDDEN
    if isinstance(value, dict):
        return {
            key: HIDDEN
            if isinstance(key, str) and _SECRET_KEY.search(key) and value[key] not in (None, "")
            else redacted(value[key])
            for key in value
        }
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def parse_filter(
    *,
    actor: str | None = None,
    action: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    """The filter the API's query parameters and the CLI's options describe; InvalidInput
    (details.parameter names which) for a time that is not ISO 8601 or an empty value."""
    texts = {
        "actor": actor,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
    }
    for name, value in texts.items():
        if value is not None and not value.strip():
            raise InvalidInput(f"{name} must not be empty", details={"parameter": name})
    start, end = _time("since", since), _time("until", until)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("until must be later than since", details={"parameter": "until"})
    return AuditFilter(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=start,
        until=end,
    )


def _time(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time such as 2026-12-01 or 2026-12-01T10:00:00Z, "
            f"not {text!r}",
            details={"parameter": name},
        ) from None
    # A time without an offset is UTC, like every time Seamline shows.
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)

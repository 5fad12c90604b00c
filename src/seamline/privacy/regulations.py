"""Regulations: Segment's Privacy API requests (suppress, unsuppress, delete) and their states.

A regulation names a subject (`USER_ID`, `ANONYMOUS_ID`, or our `EMAIL`) and up to 5,000 ids.
Its status is kept per target — each Seamline store, then each destination instance — and the
overall status is derived from those, with Segment's values.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from seamline.errors import InvalidInput
from seamline.identity.identifiers import Identifier, normalise

MAX_SUBJECT_IDS = 5_000

SUPPRESS_ONLY = "SUPPRESS_ONLY"
UNSUPPRESS = "UNSUPPRESS"
SUPPRESS_WITH_DELETE = "SUPPRESS_WITH_DELETE"
DELETE_ONLY = "DELETE_ONLY"
DELETE_INTERNAL = "DELETE_INTERNAL"
SUPPRESS_WITH_DELETE_INTERNAL = "SUPPRESS_WITH_DELETE_INTERNAL"
TYPES = (
    SUPPRESS_ONLY,
    UNSUPPRESS,
    SUPPRESS_WITH_DELETE,
    DELETE_ONLY,
    DELETE_INTERNAL,
    SUPPRESS_WITH_DELETE_INTERNAL,
)
SUPPRESSING = frozenset({SUPPRESS_ONLY, SUPPRESS_WITH_DELETE, SUPPRESS_WITH_DELETE_INTERNAL})
DELETING = frozenset(
    {SUPPRESS_WITH_DELETE, DELETE_ONLY, DELETE_INTERNAL, SUPPRESS_WITH_DELETE_INTERNAL}
)
IN_DESTINATIONS = frozenset({SUPPRESS_WITH_DELETE, DELETE_ONLY})

SUBJECT_TYPES = {"USER_ID": "user_id", "ANONYMOUS_ID": "anonymous_id", "EMAIL": "email"}

INITIALIZED = "INITIALIZED"
INVALID = "INVALID"
NOT_SUPPORTED = "NOT_SUPPORTED"
RUNNING = "RUNNING"
PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
FAILED = "FAILED"
FINISHED = "FINISHED"
STATUSES = (INITIALIZED, INVALID, NOT_SUPPORTED, RUNNING, PARTIAL_SUCCESS, FAILED, FINISHED)
ENDED = frozenset({FINISHED, FAILED, PARTIAL_SUCCESS, INVALID, NOT_SUPPORTED})

STORES = ("log", "event-store", "state-store", "dedup")
"""The targets inside Seamline a deleting regulation reaches, in the order it reaches them."""


class TargetStatus(msgspec.Struct, kw_only=True, rename="camel"):
    """One target's status, in Segment's `destinationStatus` shape (stores are named
    `seamline:<store>`)."""

    id: str
    name: str
    status: str = INITIALIZED
    err_string: str = ""
    finished_at: str = ""
    attempts: int = 0
    detail: dict[str, Any] = {}


class Regulation(msgspec.Struct, kw_only=True):
    id: str
    workspace_id: str
    source_id: str | None
    regulation_type: str
    subject_type: str
    subject_ids: list[str]
    created_at: datetime
    overall_status: str = INITIALIZED
    finished_at: datetime | None = None
    targets: list[TargetStatus] = []
    actor: str = ""
    subject_count: int = 0
    person: dict[str, Any] | None = None
    """The resolved person (identifiers and profile ids) while the regulation runs: deletion in
    destinations may still need them after the identity graph forgot the person."""

    @property
    def deletes(self) -> bool:
        return self.regulation_type in DELETING

    @property
    def suppresses(self) -> bool:
        return self.regulation_type in SUPPRESSING

    @property
    def in_destinations(self) -> bool:
        return self.regulation_type in IN_DESTINATIONS

    def subject(self) -> list[Identifier]:
        """The subject ids as identifiers, normalised as the identity graph stores them."""
        id_type = SUBJECT_TYPES[self.subject_type]
        found: list[Identifier] = []
        for value in self.subject_ids:
            normal = normalise(id_type, value)
            if normal is not None:
                found.append(Identifier(id_type, normal))
        return found

    def to_segment(self) -> dict[str, Any]:
        """The regulation object as Segment's Public API returns it (plus our extensions:
        `regulationType`, `subjectType`, `subjectIds`, `sourceId`)."""
        return {
            "id": self.id,
            "workspaceId": self.workspace_id,
            "overallStatus": self.overall_status,
            "createdAt": _iso(self.created_at),
            "finishedAt": _iso(self.finished_at) if self.finished_at else None,
            "streamStatus": [
                {
                    "id": self.source_id or self.workspace_id,
                    "destinationStatus": [
                        {
                            "name": t.name,
                            "id": t.id,
                            "status": t.status,
                            "errString": t.err_string,
                            "finishedAt": t.finished_at,
                            **({"detail": t.detail} if t.detail else {}),
                        }
                        for t in self.targets
                    ],
                }
            ],
            "regulationType": self.regulation_type,
            "subjectType": self.subject_type,
            "subjectIds": self.subject_ids,
            "sourceId": self.source_id,
        }


def audit_document(regulation: Regulation) -> dict[str, Any]:
    """What the (append-only) audit trail keeps of a regulation: never the ids themselves."""
    return {
        "regulationType": regulation.regulation_type,
        "subjectType": regulation.subject_type,
        "subjectCount": regulation.subject_count,
        "sourceId": regulation.source_id,
        "overallStatus": regulation.overall_status,
    }


def to_row(regulation: Regulation) -> dict[str, Any]:
    """The regulation as the state store's row; an ended one keeps no plain subject id."""
    ended = regulation.overall_status in ENDED
    return {
        "id": regulation.id,
        "workspace_id": regulation.workspace_id,
        "source_id": regulation.source_id,
        "regulation_type": regulation.regulation_type,
        "subject_type": regulation.subject_type,
        "subject_ids": None if ended else regulation.subject_ids,
        "subject_count": regulation.subject_count,
        "person": None if ended else regulation.person,
        "overall_status": regulation.overall_status,
        "created_at": regulation.created_at,
        "finished_at": regulation.finished_at,
        "targets": msgspec.to_builtins(regulation.targets),
        "actor": regulation.actor,
    }


def from_row(row: Mapping[str, Any]) -> Regulation:
    return Regulation(
        id=row["id"],
        workspace_id=row["workspace_id"],
        source_id=row["source_id"],
        regulation_type=row["regulation_type"],
        subject_type=row["subject_type"],
        subject_ids=list(row["subject_ids"] or []),
        created_at=row["created_at"],
        overall_status=row["overall_status"],
        finished_at=row["finished_at"],
        targets=msgspec.convert(row["targets"], list[TargetStatus]),
        actor=row["actor"],
        subject_count=row["subject_count"],
        person=row["person"],
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_regulation(
    workspace_id: str,
    source_id: str | None,
    body: Mapping[str, Any],
    now: datetime,
    actor: str = "",
) -> Regulation:
    """A regulation from a create request's body; InvalidInput (nothing stored) when the body
    is not one Segment would take."""
    if not isinstance(body, Mapping):
        raise _bad(
            "invalid_body",
            "the body must be a JSON object: "
            '{"regulationType": …, "subjectType": …, "subjectIds": […]}',
        )
    unknown = sorted(set(body) - {"regulationType", "subjectType", "subjectIds"})
    if unknown:
        raise _bad("unknown_field", f"unknown field(s): {', '.join(unknown)}")
    kind = body.get("regulationType")
    if kind not in TYPES:
        raise _bad("invalid_regulation_type", f"regulationType must be one of {', '.join(TYPES)}")
    subject_type = body.get("subjectType")
    if subject_type not in SUBJECT_TYPES:
        raise _bad(
            "invalid_subject_type",
            f"subjectType must be one of {', '.join(SUBJECT_TYPES)}",
        )
    ids = body.get("subjectIds")
    if not isinstance(ids, list) or not ids:
        raise _bad("invalid_subject_ids", "subjectIds must be a non-empty list of strings")
    if len(ids) > MAX_SUBJECT_IDS:
        raise _bad(
            "too_many_subject_ids",
            f"subjectIds holds {len(ids)} ids; at most {MAX_SUBJECT_IDS:,} per regulation",
        )
    cleaned = _subject_ids(ids, SUBJECT_TYPES[subject_type])
    return Regulation(
        id="reg_" + secrets.token_hex(10),
        workspace_id=workspace_id,
        source_id=source_id,
        regulation_type=kind,
        subject_type=subject_type,
        subject_ids=cleaned,
        created_at=now,
        actor=actor,
        subject_count=len(cleaned),
    )


def _subject_ids(ids: list[Any], id_type: str) -> list[str]:
    cleaned: list[str] = []
    seen: set[str] = set()
    for position, value in enumerate(ids):
        if not isinstance(value, str) or not value.strip():
            raise _bad(
                "invalid_subject_ids",
                f"subjectIds[{position}] must be a non-empty string, got {value!r:.60}",
            )
        if len(value) > 1000:
            raise _bad("invalid_subject_ids", f"subjectIds[{position}] is over 1,000 characters")
        if normalise(id_type, value) is None:
            raise _bad(
                "invalid_subject_ids",
                f"subjectIds[{position}] is not a usable {id_type.replace('_', ' ')}: "
                f"{value!r:.60}",
            )
        if value not in seen:
            seen.add(value)
            cleaned.append(value)
    return cleaned


def _bad(code: str, message: str) -> InvalidInput:
    error = InvalidInput(message)
    error.code = code
    return error


def overall(targets: Iterable[TargetStatus]) -> str:
    """The regulation's status from its targets' (NOT_SUPPORTED targets do not count)."""
    statuses = [t.status for t in targets if t.status != NOT_SUPPORTED]
    if not statuses:
        return FINISHED
    if any(s in (INITIALIZED, RUNNING) for s in statuses):
        return RUNNING
    if all(s == FINISHED for s in statuses):
        return FINISHED
    if all(s == FAILED for s in statuses):
        return FAILED
    return PARTIAL_SUCCESS

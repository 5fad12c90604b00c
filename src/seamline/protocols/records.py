"""What the protocols stage leaves behind: violations and held messages, with their store."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

import msgspec

from seamline.spec.envelope import Item

# `error`: a pipeline stage raised on this message (see `pipeline.guard`).
HeldDisposition = Literal["block", "quarantine", "drop", "function_error", "error"]
_encode = msgspec.json.Encoder().encode


class ViolationRecord(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: str
    source_id: str
    log_offset: int
    message_id: str | None
    message_type: str | None
    event_name: str | None
    path: str
    rule: str
    expected: str
    actual: str
    recorded_at: datetime


class HeldMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message that did not go on: blocked or quarantined by schema controls, dropped by a
    transformation, failed by a custom function, or one a stage raised on. `message` is its
    JSON as it arrived."""

    id: int | None = None
    workspace_id: str
    source_id: str
    log_offset: int
    message_id: str | None
    disposition: HeldDisposition
    reason: str
    message: str
    held_at: datetime
    rerun_at: datetime | None = None


def hold(item: Item, disposition: HeldDisposition, reason: str, now: datetime) -> HeldMessage:
    """The held record of a log item: its message kept as it arrived, ready to re-run."""
    envelope = item.envelope
    return HeldMessage(
        workspace_id=envelope.workspace_id,
        source_id=envelope.source_id,
        log_offset=item.offset,
        message_id=envelope.message.message_id,
        disposition=disposition,
        reason=reason,
        message=_encode(envelope.message).decode(),
        held_at=now,
    )


class ViolationCount(msgspec.Struct, frozen=True, kw_only=True):
    source_id: str
    event_name: str | None
    rule: str
    count: int
    last_seen: datetime


class ProtocolsStore(Protocol):
    def record(self, violations: list[ViolationRecord], held: list[HeldMessage]) -> None: ...

    def truncate_from(self, start: int, end: int | None = None) -> None:
        """Forget what was recorded for log positions in [start, end) (they will be re-run)."""
        ...

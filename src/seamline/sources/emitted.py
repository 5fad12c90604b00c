"""What a source function emitted, turned into log items as the Tracking API would accept them.

Each emitted message is parsed and normalised by the Tracking API's own parser (same types,
limits and clock handling, receivedAt the webhook's). One that has no messageId gets one made
from the raw record's id and its index, so running the record again (replay, a rebuild, a
re-run of a held record) emits the same ids and dedup keeps every effect single.
"""

from __future__ import annotations

from typing import Any

import msgspec

from seamline.log.base import MAX_PER_RECORD
from seamline.spec import Limits, parse_request
from seamline.spec.envelope import Envelope, Item

MAX_EMITTED = 1000
"""Messages one request may emit (the function runtime bounds it too)."""


class InvalidEmitted(Exception):
    """What a function emitted cannot be accepted; the message says which and why."""


def emitted_id(raw_id: str, index: int) -> str:
    """The messageId of the `index`-th message emitted for a raw record without its own."""
    return f"{raw_id}-{index}"


def emitted_items(item: Item, emitted: list[Any], limits: Limits) -> list[Item]:
    """The log items of what `item`'s function emitted, at the positions after `item`'s own;
    `InvalidEmitted` when any one of them is not a valid message (the record is then held
    whole, so a re-run after the fix emits the same set)."""
    if len(emitted) > MAX_EMITTED:
        raise InvalidEmitted(
            f"the function emitted {len(emitted)} messages; the limit is {MAX_EMITTED}"
        )
    # Positions below the next record's: the raw record holds one envelope, at index 0.
    if (item.offset % MAX_PER_RECORD) + len(emitted) > MAX_PER_RECORD:
        raise InvalidEmitted("the function emitted more messages than a log record can place")
    raw = item.envelope.message
    raw_id = raw.message_id or str(item.offset)
    batch: list[Any] = []
    for index, message in enumerate(emitted):
        if not isinstance(message, dict):
            raise InvalidEmitted(f"message {index} is not an object: {type(message).__name__}")
        if not message.get("messageId"):
            message = {**message, "messageId": emitted_id(raw_id, index)}
        batch.append(message)
    if not batch:
        return []
    assert raw.received_at is not None
    try:
        body = msgspec.json.encode({"batch": batch})
    except (TypeError, msgspec.EncodeError) as error:
        raise InvalidEmitted(f"the emitted messages are not JSON: {error}") from None
    try:
        parsed = parse_request(
            body,
            message_type=None,
            received_at=raw.received_at,
            client_ip=None,
            limits=limits,
        )
    except Exception as error:  # TooLarge / InvalidInput: the whole batch is refused
        raise InvalidEmitted(f"the emitted messages were refused: {error}") from None
    if parsed.rejected:
        first = parsed.rejected[0]
        raise InvalidEmitted(
            f"message {first.index} is not a valid Segment message ({first.code}: "
            f"{first.message}); {len(parsed.rejected)} of {len(batch)} refused"
        )
    envelope = item.envelope
    return [
        Item(
            item.offset + index,
            Envelope(
                workspace_id=envelope.workspace_id,
                source_id=envelope.source_id,
                message=message,
                rerun=envelope.rerun,
            ),
        )
        for index, message in enumerate(parsed.messages)
    ]

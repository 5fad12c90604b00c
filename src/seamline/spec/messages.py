"""The Segment Spec message, as one msgspec Struct.

Free-form objects (`properties`, `traits`, `context`, `integrations`) stay as raw JSON bytes:
they are checked to be objects but never turned into Python dicts on the ingest path, which is
what keeps decoding close to the speed of a bare parse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

MESSAGE_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})

Id = str | int
"""Segment ids are strings; numbers are accepted and stored as their decimal text."""

T = TypeVar("T")

ABSENT = msgspec.Raw()
"""Default of a free-form field that was not sent (an empty Raw is omitted when encoding)."""


class Message(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """One Segment message of any type; fields follow the Spec's names on the wire."""

    type: str | None = None
    message_id: str | None = None
    user_id: Id | None = None
    anonymous_id: Id | None = None
    group_id: Id | None = None
    previous_id: Id | None = None
    event: str | None = None
    name: str | None = None
    category: str | None = None
    timestamp: datetime | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    received_at: datetime | None = None
    channel: str | None = None
    version: int | str | None = None
    write_key: str | None = None
    properties: msgspec.Raw = ABSENT
    traits: msgspec.Raw = ABSENT
    context: msgspec.Raw = ABSENT
    integrations: msgspec.Raw = ABSENT


def decode_part(decoder: msgspec.json.Decoder[T], raw: msgspec.Raw) -> T | None:
    """Decode a free-form part (`context`, `traits` …) into the shape a stage reads, or None
    when it is absent or not that shape (stages read what they understand, never fail on it)."""
    if not raw:
        return None
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        return None


class ContextProbe(msgspec.Struct):
    """The parts of `context` the collector reads; decoding into it also proves it is an object."""

    ip: Any = None


class AnyObject(msgspec.Struct):
    """Decoding into an empty Struct checks that a value is a JSON object without building it."""

"""A message as a plain dict with the Spec's wire names, and back.

Rules that users write (transformations, FQL, functions, tracking plans) see messages as
JSON-like dicts. Building the dict from the Struct's fields (decoding only the free-form parts)
and rebuilding the Struct by replacing only what changed is about twice as fast as a JSON
round trip of the whole message, which matters on the pipeline's hot path.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import msgspec

from seamline.spec.messages import Message

PARTS = ("properties", "traits", "context", "integrations")
_FIELDS = tuple((f.name, f.encode_name) for f in msgspec.structs.fields(Message))
_PART_AT = frozenset(i for i, (name, _) in enumerate(_FIELDS) if name in PARTS)
_TIMES = frozenset(("timestamp", "original_timestamp", "sent_at", "received_at"))
_IDS = frozenset(("user_id", "anonymous_id", "group_id", "previous_id", "version"))
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.Encoder().encode
_as_message = msgspec.json.Decoder(Message).decode


def to_plain(message: Message, parts: Collection[str] = PARTS) -> dict[str, Any]:
    """The message as a dict; times stay datetimes (encoders write them as ISO 8601). Only
    the free-form `parts` asked for are decoded (the others are left out)."""
    plain: dict[str, Any] = {}
    for (_, wire), value in zip(_FIELDS, msgspec.structs.astuple(message), strict=True):
        if value is None:
            continue
        if type(value) is msgspec.Raw:
            if value and wire in parts:
                plain[wire] = _as_dict(value)
        else:
            plain[wire] = value
    return plain


def from_plain(original: Message, plain: dict[str, Any], parts: Collection[str] = PARTS) -> Message:
    """The message `plain` describes, built by replacing what differs from `original`; of
    the free-form parts only `parts` (those `to_plain` decoded) are taken from `plain`.

    Raises msgspec.ValidationError when `plain` is not a valid message (a transformation set
    `userId` to an object, say).
    """
    changes: dict[str, Any] = {}
    before = msgspec.structs.astuple(original)
    for at, (name, wire) in enumerate(_FIELDS):
        value = plain.get(wire)
        if at in _PART_AT:
            if wire not in parts:
                if value is not None:
                    return _as_message(_encode(_merged(original, plain, parts)))
                continue
            if value is None:
                if before[at]:
                    changes[name] = msgspec.Raw()
            elif type(value) is dict:
                changes[name] = msgspec.Raw(_encode(value))
            else:
                return _as_message(_encode(plain))  # validates, and raises what is wrong
            continue
        if value is before[at]:
            continue
        if name in _TIMES:
            valid = value is None or isinstance(value, datetime)
        elif name in _IDS:
            valid = value is None or (isinstance(value, str | int) and not isinstance(value, bool))
        else:
            valid = value is None or isinstance(value, str)
        if not valid:
            return _as_message(_encode(plain))  # parses text times, or raises what is wrong
        changes[name] = value
    return msgspec.structs.replace(original, **changes)


def _merged(original: Message, plain: dict[str, Any], parts: Collection[str]) -> dict[str, Any]:
    """`plain` with the parts it did not decode put back; where a rule set keys in such a
    part anyway (`context.protocols`), those keys are laid over the original part's."""
    merged = to_plain(original)
    for key, value in plain.items():
        if key in PARTS and key not in parts and isinstance(value, dict):
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged

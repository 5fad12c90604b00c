"""Decode a Tracking API request body into normalised messages, one verdict per message.

A bad message never costs the good ones: each message in a batch is decoded and checked on its
own, and comes back either as a normalised `Message` or as a `Rejection` naming why.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.errors import InvalidInput, TooLarge
from seamline.spec.limits import Limits
from seamline.spec.messages import ABSENT, MESSAGE_TYPES, AnyObject, ContextProbe, Message


class Rejection(msgspec.Struct, rename="camel", omit_defaults=True):
    """Why one message of a request was not accepted; `index` is its position in the batch."""

    index: int
    code: str
    message: str
    message_id: str | None = None


class ParsedRequest(msgspec.Struct):
    """The accepted (normalised) messages of a request and the rejected ones."""

    write_key: str | None
    messages: list[Message]
    rejected: list[Rejection]


class _BatchBody(msgspec.Struct, rename="camel"):
    batch: list[msgspec.Raw]
    sent_at: datetime | None = None
    write_key: str | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_message_decoder = msgspec.json.Decoder(Message)
_batch_decoder = msgspec.json.Decoder(_BatchBody)
_context_decoder = msgspec.json.Decoder(ContextProbe)
_object_decoder = msgspec.json.Decoder(AnyObject)
_json_str = msgspec.json.Encoder()
_NULL = msgspec.Raw(b"null")


def parse_request(
    body: bytes,
    *,
    message_type: str | None,
    received_at: datetime,
    client_ip: str | None,
    limits: Limits,
) -> ParsedRequest:
    """Parse one request body: a single message of `message_type`, or a batch when it is None.

    Raises `TooLarge` for a body over the request limit and `InvalidInput` for a body that is
    not the documented shape; per-message problems come back as rejections instead.
    """
    if len(body) > limits.max_request_bytes:
        raise TooLarge(
            f"request body is {len(body)} bytes; the limit is {limits.max_request_bytes} bytes",
            details={"limit": limits.max_request_bytes, "size": len(body)},
        )
    if message_type is not None:
        return _parse_single(body, message_type, received_at, client_ip, limits)
    try:
        batch = _batch_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"body is not a valid batch: {exc}") from None
    messages: list[Message] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(batch.batch):
        try:
            if index >= limits.max_batch_messages:
                raise _Invalid(
                    "too_many_messages",
                    f"a batch holds at most {limits.max_batch_messages} messages",
                )
            message = _accept(bytes(raw), None, batch.sent_at, received_at, client_ip, limits)
        except _Invalid as exc:
            rejected.append(Rejection(index, exc.code, exc.message, _message_id_of(raw)))
            continue
        message.write_key = None  # the batch's key authenticates; never stored
        if batch.context:
            message.context = _merged(batch.context, message.context)
        if batch.integrations:
            message.integrations = _merged(batch.integrations, message.integrations)
        messages.append(message)
    return ParsedRequest(batch.write_key, messages, rejected)


def _merged(shared: dict[str, Any], own: msgspec.Raw) -> msgspec.Raw:
    """Batch-level context/integrations apply to every message; the message's own keys win."""
    merged = dict(shared)
    if own:
        merged.update(msgspec.json.decode(own))
    return msgspec.Raw(_json_str.encode(merged))


def _parse_single(
    body: bytes, message_type: str, received_at: datetime, client_ip: str | None, limits: Limits
) -> ParsedRequest:
    try:
        message = _accept(body, message_type, None, received_at, client_ip, limits)
    except _Invalid as exc:
        if exc.code == "invalid_json":
            raise InvalidInput(exc.message) from None
        write_key = _write_key_of(body)
        return ParsedRequest(write_key, [], [Rejection(0, exc.code, exc.message)])
    write_key, message.write_key = message.write_key, None
    return ParsedRequest(write_key, [message], [])


def _accept(
    raw: bytes,
    message_type: str | None,
    batch_sent_at: datetime | None,
    received_at: datetime,
    client_ip: str | None,
    limits: Limits,
) -> Message:
    if len(raw) > limits.max_message_bytes:
        raise _Invalid(
            "message_too_large",
            f"message is {len(raw)} bytes; the limit is {limits.max_message_bytes} bytes",
        )
    try:
        message = _message_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _Invalid("invalid_message", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _Invalid("invalid_json", f"body is not valid JSON: {exc}") from None
    if message_type is not None:
        message.type = message_type
    _check(message)
    _normalise(message, batch_sent_at, received_at, client_ip)
    return message


def _check(message: Message) -> None:
    kind = message.type
    if kind not in MESSAGE_TYPES:
        raise _Invalid(
            "unknown_type",
            f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}; got {kind!r}",
        )
    message.user_id = _id_text(message.user_id)
    message.anonymous_id = _id_text(message.anonymous_id)
    if kind == "alias":
        message.previous_id = _id_text(message.previous_id)
        _require(message.previous_id, "previousId", kind)
        _require(message.user_id, "userId", kind)
    elif message.user_id is None and message.anonymous_id is None:
        raise _Invalid("missing_identity", f"{kind} needs a userId or an anonymousId")
    if kind == "track":
        _require(message.event, "event", kind)
    elif kind == "group":
        message.group_id = _id_text(message.group_id)
        _require(message.group_id, "groupId", kind)
    for field in ("properties", "traits", "integrations"):
        value: msgspec.Raw = getattr(message, field)
        if value and not _is_object(value, field):
            setattr(message, field, ABSENT)
    # `context` is checked when its ip is read (one decode for both).


def _require(value: object, field: str, kind: str) -> None:
    if value is None or value == "":
        raise _Invalid("missing_field", f"{kind} needs a non-empty {field}")


def _id_text(value: str | int | None) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _is_object(value: msgspec.Raw, field: str) -> bool:
    """True for an object, False for null (dropped); anything else is rejected."""
    if value == _NULL:
        return False
    try:
        _object_decoder.decode(value)
    except msgspec.ValidationError:
        raise _Invalid("invalid_message", f"{field} must be an object") from None
    return True


def _normalise(
    message: Message,
    batch_sent_at: datetime | None,
    received_at: datetime,
    client_ip: str | None,
) -> None:
    if not message.message_id:
        message.message_id = "api-" + os.urandom(16).hex()
    message.received_at = received_at
    sent_at = _utc(message.sent_at or batch_sent_at)
    message.sent_at = sent_at
    original = _utc(message.timestamp)
    if original is None:
        message.timestamp = received_at
    else:
        if message.original_timestamp is None:
            message.original_timestamp = original
        # Segment's clock-skew correction: the client's clock is off by (sentAt - receivedAt),
        # so the event happened that much earlier than receivedAt as the client measured it.
        message.timestamp = received_at - (sent_at - original) if sent_at else original
    message.context = _context_with_ip(message.context, client_ip)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _context_with_ip(context: msgspec.Raw, client_ip: str | None) -> msgspec.Raw:
    """Check `context` is an object and add `ip` if it has none, splicing bytes, not re-encoding."""
    if context == _NULL:
        context = ABSENT
    if not context:
        if client_ip is None:
            return context
        return msgspec.Raw(b'{"ip":' + _json_str.encode(client_ip) + b"}")
    try:
        probe = _context_decoder.decode(context)
    except msgspec.ValidationError:
        raise _Invalid("invalid_message", "context must be an object") from None
    if probe.ip is not None or client_ip is None:
        return context
    rest = bytes(context).lstrip()[1:].lstrip()
    separator = b"" if rest.startswith(b"}") else b","
    return msgspec.Raw(b'{"ip":' + _json_str.encode(client_ip) + separator + rest)


class _Ids(msgspec.Struct, rename="camel"):
    message_id: str | None = None
    write_key: str | None = None


_ids_decoder = msgspec.json.Decoder(_Ids)


def _message_id_of(raw: msgspec.Raw) -> str | None:
    try:
        return _ids_decoder.decode(raw).message_id
    except msgspec.DecodeError:
        return None


def _write_key_of(body: bytes) -> str | None:
    try:
        return _ids_decoder.decode(body).write_key
    except msgspec.DecodeError:
        return None

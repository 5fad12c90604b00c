"""Decode a Tracking API request body into normalised messages, one verdict per message.

A bad message never costs the good ones: each message in a batch is decoded and checked on its
own, and comes back either as a normalised `Message` or as a `Rejection` naming why. What a
later stage could not decode or a store could not keep is refused here (see `representable`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.errors import InvalidInput, TooLarge
from seamline.spec.limits import Limits
from seamline.spec.messages import ABSENT, MESSAGE_TYPES, Message
from seamline.spec.representable import (
    MAX_ID_CHARS,
    MAX_MESSAGE_ID_CHARS,
    Invalid,
    check_depth,
    decode_part,
    flaws,
    mended,
    number_problem,
    too_deep,
    unreadable,
)


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


class RequestInvalid(InvalidInput):
    """The request as a whole cannot be read; `code` says why (`too_deep`, `invalid_unicode` …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _BatchBody(msgspec.Struct, rename="camel"):
    batch: list[msgspec.Raw]
    sent_at: datetime | None = None
    write_key: str | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


_message_decoder = msgspec.json.Decoder(Message)
_batch_decoder = msgspec.json.Decoder(_BatchBody)
_json_str = msgspec.json.Encoder()


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
    batch, broken = _decode_batch(body, limits)
    shared = _shared_parts(batch, limits)
    write_key = batch.write_key
    messages: list[Message] = []
    rejected: list[Rejection] = []
    seen: dict[bytes, dict[str, Any]] = {}
    for index, raw in enumerate(batch.batch):
        item = bytes(raw)
        try:
            if index >= limits.max_batch_messages:
                raise Invalid(
                    "too_many_messages",
                    f"a batch holds at most {limits.max_batch_messages} messages",
                )
            if index in broken:
                raise broken[index]
            message = _accept(item, None, shared, received_at, client_ip, limits, seen)
        except Invalid as exc:
            ids = _ids_of(item)
            write_key = write_key or ids.write_key
            rejected.append(Rejection(index, exc.code, exc.message, ids.message_id))
            continue
        # analytics.js puts the write key in every message, so a batch of its messages as they
        # are carries it there: the batch's own key wins, then the first message's.
        write_key = write_key or message.write_key
        message.write_key = None  # never stored
        messages.append(message)
    return ParsedRequest(write_key, messages, rejected)


class _Shared(msgspec.Struct):
    """What a batch gives each of its messages: sentAt, context and integrations."""

    sent_at: datetime | None
    context: dict[str, Any] | None
    integrations: dict[str, Any] | None


def _decode_batch(body: bytes, limits: Limits) -> tuple[_BatchBody, dict[int, Invalid]]:
    """The batch, and the rejection of each message that holds a flaw msgspec refuses a whole
    document for (a lone surrogate, NaN): each is replaced by a stand-in of the same length,
    the batch decoded again, and every message that held one refused alone; a flaw outside
    the messages refuses the request."""
    try:
        return _batch_decoder.decode(body), {}
    except RecursionError:
        raise _too_deep(limits) from None
    except msgspec.ValidationError as exc:
        if "out of range" in str(exc):
            reason = number_problem(str(exc))
            raise RequestInvalid("number_out_of_range", f"the batch: {reason}") from None
        raise InvalidInput(f"body is not a valid batch: {exc}") from None
    except msgspec.DecodeError as exc:
        found = flaws(body)
        error = exc
    text = mended(body, found)
    try:
        batch = _batch_decoder.decode(text) if found else None
    except (msgspec.DecodeError, RecursionError):
        batch = None
    if batch is None:
        problem = unreadable(body, error)
        if problem.code == "invalid_json":
            raise InvalidInput(f"body is not a valid batch: {error}") from None
        raise RequestInvalid(problem.code, problem.message) from None
    broken: dict[int, Invalid] = {}
    start = 0
    for index, raw in enumerate(batch.batch):
        # Messages follow each other with only separators between, so each is the first
        # occurrence of its own text after the previous one.
        item = bytes(raw)
        start = text.find(item, start)
        end = start + len(item)
        inside = [flaw for flaw in found if start <= flaw.offset < end]
        if inside:
            broken[index] = inside[0].problem(inside[0].offset - start)
            found = [flaw for flaw in found if flaw not in inside]
        start = end
    if found:
        problem = found[0].problem(found[0].offset)
        raise RequestInvalid(problem.code, problem.message)
    return batch, broken


def _shared_parts(batch: _BatchBody, limits: Limits) -> _Shared:
    """The batch-level parts, held to the same rules as each message's own."""
    for field, part in (("context", batch.context), ("integrations", batch.integrations)):
        if part:
            try:
                check_depth(_json_str.encode(part), limits.max_depth, inside=1)
            except Invalid as exc:
                raise RequestInvalid(exc.code, f"the batch's {field}: {exc.message}") from None
    return _Shared(batch.sent_at, batch.context or None, batch.integrations or None)


def _too_deep(limits: Limits) -> RequestInvalid:
    problem = too_deep(limits.max_depth)
    return RequestInvalid(problem.code, problem.message)


def _parse_single(
    body: bytes, message_type: str, received_at: datetime, client_ip: str | None, limits: Limits
) -> ParsedRequest:
    try:
        message = _accept(body, message_type, None, received_at, client_ip, limits)
    except Invalid as exc:
        if exc.code == "invalid_json":
            raise InvalidInput(exc.message) from None
        return ParsedRequest(_ids_of(body).write_key, [], [Rejection(0, exc.code, exc.message)])
    write_key, message.write_key = message.write_key, None
    return ParsedRequest(write_key, [message], [])


def _accept(
    raw: bytes,
    message_type: str | None,
    shared: _Shared | None,
    received_at: datetime,
    client_ip: str | None,
    limits: Limits,
    seen: dict[bytes, dict[str, Any]] | None = None,
) -> Message:
    if len(raw) > limits.max_message_bytes:
        raise Invalid(
            "message_too_large",
            f"message is {len(raw)} bytes; the limit is {limits.max_message_bytes} bytes",
        )
    check_depth(raw, limits.max_depth)
    try:
        message = _message_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if "out of range" in text:
            raise Invalid("number_out_of_range", f"{number_problem(text)} ({text})") from None
        raise Invalid("invalid_message", text) from None
    except msgspec.DecodeError as exc:
        raise unreadable(raw, exc) from None
    except RecursionError:  # only when the depth check was fooled by malformed JSON
        raise too_deep(limits.max_depth) from None
    if message_type is not None:
        message.type = message_type
    _check(message)
    context, integrations = _check_parts(message, seen)
    _normalise(message, shared.sent_at if shared else None, received_at)
    if shared is None or shared.context is None:
        message.context = _context_with_ip(message.context, context, client_ip)
    else:
        own = context or {}
        if client_ip is not None and own.get("ip") is None:
            own = {"ip": client_ip, **own}
        message.context = msgspec.Raw(_json_str.encode({**shared.context, **own}))
    if shared is not None and shared.integrations is not None:
        merged = {**shared.integrations, **(integrations or {})}
        message.integrations = msgspec.Raw(_json_str.encode(merged))
    return message


def _check(message: Message) -> None:
    kind = message.type
    if kind not in MESSAGE_TYPES:
        raise Invalid(
            "unknown_type",
            f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}; got {_as_json(kind)}",
        )
    message.user_id = _id_text(message.user_id, "userId")
    message.anonymous_id = _id_text(message.anonymous_id, "anonymousId")
    if message.group_id is not None:
        message.group_id = _id_text(message.group_id, "groupId")
    if message.previous_id is not None:
        message.previous_id = _id_text(message.previous_id, "previousId")
    if kind == "alias":
        _require(message.previous_id, "previousId", kind)
        _require(message.user_id, "userId", kind)
    elif message.user_id is None and message.anonymous_id is None:
        raise Invalid("missing_identity", f"{kind} needs a userId or an anonymousId")
    if kind == "track":
        _require(message.event, "event", kind)
    elif kind == "group":
        _require(message.group_id, "groupId", kind)
    if message.message_id is not None and len(message.message_id) > MAX_MESSAGE_ID_CHARS:
        raise Invalid("too_long", f"messageId is longer than {MAX_MESSAGE_ID_CHARS} characters")


def _check_parts(
    message: Message, seen: dict[bytes, dict[str, Any]] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Decode each free-form part once (as the stages will) and drop the ones that are null;
    returns the decoded context and integrations, which are read next. A batch's messages
    mostly share one context (the SDK's library, the page): `seen` keeps the contexts of a
    request already checked, by their text. (Spelled out field by field: this runs for every
    message.)"""
    if message.properties and decode_part(message.properties, "properties") is None:
        message.properties = ABSENT
    if message.traits and decode_part(message.traits, "traits") is None:
        message.traits = ABSENT
    context = integrations = None
    if message.context:
        if seen is None:
            context = decode_part(message.context, "context")
        else:
            text = bytes(message.context)
            context = seen.get(text)
            if context is None:
                context = decode_part(text, "context")
                if context is not None:
                    seen[text] = context
        if context is None:
            message.context = ABSENT
    if message.integrations:
        integrations = decode_part(message.integrations, "integrations")
        if integrations is None:
            message.integrations = ABSENT
    return context, integrations


def _require(value: object, field: str, kind: str) -> None:
    if value is None or value == "":
        raise Invalid("missing_field", f"{kind} needs a non-empty {field}")


def _id_text(value: str | int | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_ID_CHARS:
        raise Invalid("too_long", f"{field} is longer than {MAX_ID_CHARS} characters")
    return text


def _as_json(value: object) -> str:
    """A value as the sender wrote it (`null`, `"page"`), not as Python prints it."""
    return _json_str.encode(value).decode()


def _normalise(message: Message, batch_sent_at: datetime | None, received_at: datetime) -> None:
    if not message.message_id:
        message.message_id = "api-" + os.urandom(16).hex()
    message.received_at = received_at
    sent_at = _utc(message.sent_at or batch_sent_at)
    message.sent_at = sent_at
    original = _utc(message.timestamp)
    if original is None:
        message.timestamp = received_at
        return
    if message.original_timestamp is None:
        message.original_timestamp = original
    # Segment's clock-skew correction: the client's clock is off by (sentAt - receivedAt),
    # so the event happened that much earlier than receivedAt as the client measured it.
    try:
        message.timestamp = received_at - (sent_at - original) if sent_at else original
    except OverflowError:
        raise Invalid(
            "invalid_message",
            "timestamp and sentAt are so far apart that the corrected time is outside "
            "the years 1 to 9999",
        ) from None


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _context_with_ip(
    context: msgspec.Raw, decoded: dict[str, Any] | None, client_ip: str | None
) -> msgspec.Raw:
    """Add `ip` to the context if it has none, splicing bytes, not re-encoding."""
    if not context:
        if client_ip is None:
            return context
        return msgspec.Raw(b'{"ip":' + _json_str.encode(client_ip) + b"}")
    if client_ip is None or (decoded is not None and decoded.get("ip") is not None):
        return context
    rest = bytes(context).lstrip()[1:].lstrip()
    separator = b"" if rest.startswith(b"}") else b","
    return msgspec.Raw(b'{"ip":' + _json_str.encode(client_ip) + separator + rest)


class _Ids(msgspec.Struct, rename="camel"):
    message_id: str | None = None
    write_key: str | None = None


_ids_decoder = msgspec.json.Decoder(_Ids)
_NO_IDS = _Ids()


def _ids_of(raw: bytes) -> _Ids:
    """The messageId and writeKey of a message that was not accepted, as far as they read."""
    try:
        return _ids_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _NO_IDS

"""The log record of one webhook request: the raw request, kept as it came, for the pipeline's
source-function stage to turn into messages (and to run again on replay).

It travels as an ordinary envelope whose message has the type `webhook`, a type the Tracking
API never accepts, with the request in `properties`: the log, replay, erasure and held records
then work for it as they do for every message. Headers that carry credentials (authorization,
cookies, API keys) are never written; the URL token is written as `[token]`.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from seamline.spec.envelope import Envelope
from seamline.spec.messages import Message

RAW_TYPE = "webhook"
"""The message type of a raw webhook request in the log."""

DROPPED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-forwarded-for",  # the client's address is not the sender's data
    }
)
DROPPED_QUERY = frozenset({"writekey", "write_key"})


class RawRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A webhook request as the source function sees it (see `docs/sources/webhooks.md`)."""

    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    body: str


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(RawRequest).decode


def kept_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers by lower-case name, without credentials; repeated names joined
    with ", " as HTTP allows."""
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        if name in DROPPED_HEADERS:
            continue
        value = value_bytes.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def kept_query(query_string: bytes) -> dict[str, str]:
    """The query's parameters (the first of repeated ones), without a write key."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name.lower() not in DROPPED_QUERY:
            query.setdefault(name, value)
    return query


def raw_envelope(
    workspace_id: str, source_id: str, request: RawRequest, received_at: datetime
) -> Envelope:
    """The envelope that holds one webhook request in the log, under a new random id: the
    messages its function emits take their ids from it, so a replay emits the same ids."""
    message = Message(
        type=RAW_TYPE,
        message_id="wh-" + os.urandom(16).hex(),
        received_at=received_at,
        timestamp=received_at,
        properties=msgspec.Raw(_encode(request)),
    )
    return Envelope(workspace_id=workspace_id, source_id=source_id, message=message)


def is_raw(message: Message) -> bool:
    """Whether a log message is a raw webhook request."""
    return message.type == RAW_TYPE


def read_raw(message: Message) -> RawRequest:
    """The request a raw webhook message holds; `msgspec.DecodeError` when it holds none."""
    return _decode(message.properties)


def request_document(request: RawRequest) -> dict[str, Any]:
    """The request as plain data for the function runner."""
    document = msgspec.to_builtins(request)
    assert isinstance(document, dict)
    return document

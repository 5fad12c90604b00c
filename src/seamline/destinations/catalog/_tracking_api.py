"""Forwarding to another Segment-compatible Tracking API (Segment, RudderStack): what the two
share. Each message is sent as the Spec message it is, to `{endpoint}/v1/batch`, with the
source's write key as the Basic-auth user name and an empty password.

The message keeps its messageId, so the receiving side deduplicates a re-delivered batch. Its
`sentAt` is set when the batch is sent, as an SDK would; `writeKey` and Seamline's own
`_metadata` are left out. Messages over the receiver's per-message limit are refused one by one
(`InvalidPayload`), and a batch is split to stay under its per-request limit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seamline.destinations.definition import Action, Context, Field, Preset
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError

TYPES = ("track", "identify", "page", "screen", "group", "alias")
EVERY_MESSAGE = " or ".join(f'type = "{kind}"' for kind in TYPES)
PRESETS = (Preset("Forward every message", "send", EVERY_MESSAGE),)
"""The one default subscription: every message through the `send` action."""
_DROPPED = frozenset({"writeKey", "_metadata", "sentAt"})

MESSAGE_FIELD = {
    "message": Field(
        "Message",
        "The whole Spec message, forwarded as it is.",
        "object",
        required=True,
        default={"@path": "$."},
    )
}


@dataclass(frozen=True)
class Limits:
    """A receiver's documented limits, in bytes of JSON."""

    message: int
    request: int


def write_key(ctx: Context) -> str:
    key = ctx.settings.get("write_key")
    if not isinstance(key, str) or not key.strip():
        raise PermanentError("the write_key setting is missing")
    return key.strip()


def message_of(payload: Mapping[str, Any], limits: Limits) -> tuple[dict[str, Any], int]:
    """The message to forward and its size; InvalidPayload when it is not a Spec message or
    is over the receiver's per-message limit."""
    message = payload.get("message")
    if not isinstance(message, Mapping) or message.get("type") not in TYPES:
        raise InvalidPayload(f"the message must be a Spec message of type {', '.join(TYPES)}")
    forwarded = {k: v for k, v in message.items() if k not in _DROPPED}
    size = len(json.dumps(forwarded, separators=(",", ":"), default=str).encode())
    if size > limits.message:
        raise InvalidPayload(
            f"the message is {size:,} bytes; the receiver takes at most {limits.message:,}"
        )
    return forwarded, size


def forward(
    ctx: Context, endpoint: str, payloads: list[dict[str, Any]], limits: Limits
) -> list[DeliveryError | None]:
    """Send the payloads in as few `/v1/batch` requests as the request limit allows; one
    outcome per payload (None: accepted)."""
    outcomes: list[DeliveryError | None] = []
    chunk: list[dict[str, Any]] = []
    size = 0
    room = limits.request - 200  # the envelope: {"batch": [...], "sentAt": "..."}
    for payload in payloads:
        try:
            message, length = message_of(payload, limits)
        except InvalidPayload as error:
            outcomes.append(error)
            continue
        if chunk and size + length + 1 > room:
            _send(ctx, endpoint, chunk)
            chunk, size = [], 0
        chunk.append(message)
        size += length + 1
        outcomes.append(None)
    if chunk:
        _send(ctx, endpoint, chunk)
    return outcomes


def _send(ctx: Context, endpoint: str, batch: list[dict[str, Any]]) -> None:
    sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ctx.http.post(
        endpoint.rstrip("/") + "/v1/batch",
        json={"batch": batch, "sentAt": sent_at},
        headers={"Authorization": _basic(write_key(ctx))},
    )


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


def forward_action(
    tool: str,
    perform: Callable[[Context, dict[str, Any]], None],
    perform_batch: Callable[[Context, list[dict[str, Any]]], list[DeliveryError | None]],
) -> Action:
    """The `send` action: every message, unchanged, to the `tool` source, 2,500 a batch."""
    return Action(
        title="Forward messages",
        description=f"Send each message, unchanged, to the {tool} source.",
        fields=MESSAGE_FIELD,
        perform=perform,
        perform_batch=perform_batch,
        max_batch=2_500,
        default_trigger=EVERY_MESSAGE,
    )

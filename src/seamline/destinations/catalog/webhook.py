"""Webhook: the mapped data as JSON to any URL, by POST, PUT or PATCH, one event per request or
an array of events per request in batch mode (Segment's Webhooks (Actions): at most 4,000 per
batch, 1,000 by default).

With a shared secret, each request is signed over its exact body bytes: `X-Signature` carries
the hex HMAC-SHA1 that Segment's webhook documents (so receivers written for Segment keep
verifying) and `X-Signature-256` the hex HMAC-SHA256, for receivers that want a stronger MAC.

Deletion (a privacy regulation): a signed `POST` of a delete message, `{"type": "delete",
"messageId", "timestamp", "userId", "userIds", "anonymousIds", "emails", "context"}` (the Spec's
envelope, plus lists of every identifier the person was resolved to), to the `deletion_url`
setting, or else to each literal URL the subscriptions send to, with their literal headers.
With neither the destination reports NOT_SUPPORTED. The messageId is the same for every
attempt at deleting the same person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import CannotDelete, DeliveryError, InvalidPayload

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_BATCH = 4_000  # Segment's documented ceiling for Webhooks (Actions)
DEFAULT_BATCH_SIZE = 1_000
METHODS = ("POST", "PUT", "PATCH")
ALL_EVENTS = (
    'type = "track" or type = "identify" or type = "page" or type = "screen" '
    'or type = "group" or type = "alias"'
)


def signatures(secret: str, body: bytes) -> dict[str, str]:
    """The signature headers for `body`: hex HMAC-SHA1 (Segment's) and hex HMAC-SHA256."""
    key = secret.encode()
    return {
        "X-Signature": hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Signature-256": hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def _target(payload: Mapping[str, Any], where: str = "") -> tuple[str, str, dict[str, str]]:
    url = payload.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidPayload(f"a webhook needs a URL{where}")
    method = str(payload.get("method") or "POST").upper()
    if method not in METHODS:
        raise InvalidPayload(f"method must be one of {', '.join(METHODS)}, got {method!r}{where}")
    raw = payload.get("headers") or {}
    if not isinstance(raw, Mapping):
        raise InvalidPayload(f"headers must be an object{where}")
    headers = {str(name): str(value) for name, value in raw.items()}
    for name, value in headers.items():
        # HTTP headers are ASCII (as Segment's webhook says); httpx would fail later, less clearly.
        if not (name.isascii() and value.isascii()):
            raise InvalidPayload(f"header {name!r} must be ASCII{where}")
    return url.strip(), method, headers


def _batch_size(payload: Mapping[str, Any]) -> int:
    size = payload.get("batch_size")
    if size is None:
        return DEFAULT_BATCH_SIZE
    if not isinstance(size, int | float) or isinstance(size, bool) or size < 1:
        raise InvalidPayload(f"batch_size must be a number from 1 to {MAX_BATCH}, got {size!r}")
    return min(int(size), MAX_BATCH)


def _send(ctx: Context, url: str, method: str, headers: dict[str, str], data: Any) -> None:
    # Serialised here, not by httpx, so the signature covers exactly the bytes sent.
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    secret = ctx.settings.get("shared_secret")
    if secret:
        headers.update(signatures(str(secret), body))
    ctx.http.request(method, url, content=body, headers=headers)


def send(ctx: Context, payload: dict[str, Any]) -> None:
    """Deliver one event's data as a JSON object."""
    url, method, headers = _target(payload)
    _send(ctx, url, method, headers, payload.get("data"))


def send_batch(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Deliver events as JSON arrays, one request per (URL, method, headers) and at most
    `batch_size` events each; with batching off, one request per event. Every payload is
    checked before anything is sent, so InvalidPayload means nothing went out. Returns each
    payload's outcome (None: delivered), so one refused or failed request fails only its own
    events."""
    groups: dict[str, tuple[str, str, dict[str, str], list[int]]] = {}
    for index, payload in enumerate(payloads):
        url, method, headers = _target(payload, f" (payload {index} of the batch)")
        _batch_size(payload)
        key = json.dumps([url, method, headers], sort_keys=True)
        groups.setdefault(key, (url, method, headers, []))[3].append(index)
    outcomes: list[DeliveryError | None] = [None] * len(payloads)
    for url, method, headers, members in groups.values():
        batching = bool(payloads[members[0]].get("enable_batching"))
        size = _batch_size(payloads[members[0]]) if batching else 1
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            data = [payloads[i].get("data") for i in chunk]
            try:
                _send(ctx, url, method, headers, data if batching else data[0])
            except DeliveryError as error:
                for i in chunk:
                    outcomes[i] = error
    return outcomes


def delete_message(person: Person) -> dict[str, Any]:
    """The delete message for `person`; its messageId depends only on who is deleted."""
    identifiers = sorted(str(i) for i in person.identifiers)
    digest = hashlib.sha256("\n".join([person.workspace_id, *identifiers]).encode())
    return {
        "type": "delete",
        "messageId": f"delete-{digest.hexdigest()[:32]}",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "userId": person.user_ids[0] if person.user_ids else None,
        "userIds": person.user_ids,
        "anonymousIds": person.anonymous_ids,
        "emails": person.emails,
        "context": {"library": {"name": "seamline"}},
    }


def delete_person(ctx: Context, person: Person) -> None:
    """POST the delete message to the deletion URL, else to every literal URL subscribed."""
    targets: list[tuple[str, dict[str, str]]] = []
    if ctx.settings.get("deletion_url"):
        targets.append((str(ctx.settings["deletion_url"]).strip(), {}))
    else:
        for subscribed in ctx.subscriptions:
            url, raw = subscribed.mapping.get("url"), subscribed.mapping.get("headers") or {}
            if not isinstance(url, str) or not url.strip():
                continue  # mapped from the event: names no fixed receiver
            literal = isinstance(raw, Mapping) and not any(str(k).startswith("@") for k in raw)
            fixed = {k: v for k, v in raw.items() if isinstance(v, str)} if literal else {}
            headers = _target({"url": url, "headers": fixed})[2]
            if (url.strip(), headers) not in targets:
                targets.append((url.strip(), headers))
    if not targets:
        raise CannotDelete("no deletion_url and no subscription sends to a literal URL")
    message = delete_message(person)
    for url, headers in targets:
        _send(ctx, url, "POST", headers, message)


DESTINATION = Destination(
    slug="webhook",
    name="Webhook",
    description="Send events as JSON to any HTTP endpoint, one by one or in batches.",
    settings={
        "shared_secret": Setting(
            "Shared secret",
            "If set, every request is signed with it: X-Signature holds the hex HMAC-SHA1 of "
            "the request body (as Segment's webhook does) and X-Signature-256 the hex "
            "HMAC-SHA256 of the same body.",
            secret=True,
        ),
        "deletion_url": Setting(
            "Deletion URL",
            "Where a delete message is POSTed when a privacy regulation deletes a person; "
            "unset, it goes to every literal URL the subscriptions send to.",
            target=True,
        ),
    },
    actions={
        "send": Action(
            title="Send",
            description="Send an HTTP request with the event's data as JSON.",
            fields={
                "url": Field(
                    "URL",
                    "The URL to deliver data to (http or https, a public address unless "
                    "destinations_allow_private opens its range).",
                    "string",
                    required=True,
                    target=True,
                ),
                "method": Field(
                    "Method",
                    "The HTTP method.",
                    "string",
                    required=True,
                    default="POST",
                    choices=METHODS,
                ),
                "headers": Field(
                    "Headers", "HTTP headers sent with each request (ASCII only).", "object"
                ),
                "data": Field(
                    "Data",
                    "The JSON sent; the whole event by default. In batch mode the body is an "
                    "array of these.",
                    "object",
                    default={"@path": "$."},
                ),
                "enable_batching": Field(
                    "Batch data",
                    "Send events in batches: the body is a JSON array of each event's data.",
                    "boolean",
                    default=False,
                ),
                "batch_size": Field(
                    "Batch size",
                    f"The most events in one request, 1 to {MAX_BATCH:,} (batch mode only).",
                    "integer",
                    default=DEFAULT_BATCH_SIZE,
                ),
            },
            perform=send,
            perform_batch=send_batch,
            max_batch=MAX_BATCH,
            default_trigger=ALL_EVENTS,
        ),
    },
    test_authentication=None,  # any URL: there is nothing to check without sending an event
    delete=delete_person,
    presets=(Preset("Send all events", "send", ALL_EVENTS),),
)

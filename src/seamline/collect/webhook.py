"""Webhook sources' ingest routes: any JSON, form or text body, kept raw in the log.

- `POST /v1/sources/{source}/webhook`: authenticated by the source's write key (HTTP Basic
  user name), like the Tracking API;
- `POST /v1/webhooks/{token}`: the secret token in the path is the credential, for tools that
  cannot send an Authorization header (Stripe, Shopify, …). Only its SHA-256 is stored.

The answer is 200 only once the request is durable in the log as one record (see
`collect.webhook_record`); the pipeline's source-function stage turns it into messages later,
so a function that fails never loses a request: the record is held, to run again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from seamline.collect.auth import basic_user
from seamline.collect.body import ClientGone, decode_content, read_body
from seamline.collect.sources import WriteKeys, same_name
from seamline.collect.tracking import Receive, Scope, Send, send_json
from seamline.collect.webhook_record import (
    RawRequest,
    kept_headers,
    kept_query,
    raw_envelope,
)
from seamline.errors import (
    InvalidInput,
    NotFound,
    SeamlineError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from seamline.log.base import LogWriter
from seamline.metrics import Metrics
from seamline.spec.envelope import envelope_encoder
from seamline.store.webhooks_sql import WebhookSource

MAX_BODY_BYTES = 512 * 1024
"""A webhook body's limit once decompressed: 512 KiB, far above what Stripe or Shopify send
(Segment documents no figure for its source functions' requests)."""
MAX_RECORD_BYTES = 1024 * 1024
"""The raw request as one log record, headers and JSON escaping included (NATS's default
largest message is 1 MiB)."""
MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_QUERY_BYTES = 8 * 1024
WEBHOOKS_PREFIX = "/v1/webhooks/"
SOURCES_PREFIX = "/v1/sources/"
logger = logging.getLogger(__name__)


class BodyTooLarge(TooLarge):
    status = 413


class HeadersTooLarge(SeamlineError):
    code = "headers_too_large"
    status = 431


def token_hash(token: str) -> str:
    """What is stored of a webhook URL token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_route(path: str) -> tuple[str, str] | None:
    """("token", token) or ("source", id or name) for a webhook path; None for other paths."""
    if path.startswith(WEBHOOKS_PREFIX):
        token = path[len(WEBHOOKS_PREFIX) :].strip("/")
        return ("token", token) if token and "/" not in token else None
    if path.startswith(SOURCES_PREFIX) and path.rstrip("/").endswith("/webhook"):
        source = path[len(SOURCES_PREFIX) : -len("/webhook")].strip("/")
        return ("source", source) if source and "/" not in source else None
    return None


class WebhookLookup:
    """Webhook configurations by token digest or source id, cached briefly (a token rotated
    by another process stops working here within `ttl` seconds)."""

    def __init__(
        self,
        by_token_hash: Callable[[str], WebhookSource | None],
        by_source: Callable[[str], WebhookSource | None],
        ttl: float = 5.0,
    ) -> None:
        self._by_token_hash = by_token_hash
        self._by_source = by_source
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, WebhookSource | None]] = {}

    def token(self, token: str) -> WebhookSource | None:
        return self._get("token", token_hash(token), self._by_token_hash)

    def source(self, source_id: str) -> WebhookSource | None:
        return self._get("source", source_id, self._by_source)

    def forget(self) -> None:
        """Drop every cached answer (a change made in this process applies at once)."""
        self._cache.clear()

    def _get(
        self, kind: str, key: str, find: Callable[[str], WebhookSource | None]
    ) -> WebhookSource | None:
        now = time.monotonic()
        cached = self._cache.get((kind, key))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = find(key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[(kind, key)] = (now + self._ttl, found)
        return found


class WebhookAPI:
    """Handles one webhook request: auth, limits, one durable log record, 200."""

    def __init__(
        self,
        *,
        write_keys: WriteKeys,
        webhooks: WebhookLookup,
        log: LogWriter,
        metrics: Metrics,
        accepting: Callable[[], bool],
    ) -> None:
        self._write_keys = write_keys
        self._webhooks = webhooks
        self._log = log
        self._metrics = metrics
        self._accepting = accepting

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, route: tuple[str, str]
    ) -> None:
        try:
            if scope["method"] != "POST":
                error = InvalidInput(f"{scope['path']} takes POST")
                error.code, error.status = "method_not_allowed", 405
                raise error
            await self._accept(scope, receive, route)
            status, body = 200, b'{"success":true}'
        except ClientGone:
            return
        except SeamlineError as exc:
            status, body = exc.status, msgspec.json.encode(exc.to_json())
        self._metrics.requests.labels("webhook", str(status)).inc()
        await send_json(send, status, body)

    async def _accept(self, scope: Scope, receive: Receive, route: tuple[str, str]) -> None:
        if not self._accepting():
            raise Unavailable("Seamline is starting or stopping; retry shortly")
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        if len(raw_headers) > MAX_HEADERS or sum(len(n) + len(v) for n, v in raw_headers) > (
            MAX_HEADER_BYTES
        ):
            raise HeadersTooLarge(
                f"a webhook request may have at most {MAX_HEADERS} headers of "
                f"{MAX_HEADER_BYTES} bytes in all"
            )
        query_string: bytes = scope.get("query_string", b"")
        if len(query_string) > MAX_QUERY_BYTES:
            error = InvalidInput(f"the query string is over {MAX_QUERY_BYTES} bytes")
            error.code, error.status = "uri_too_long", 414
            raise error
        headers = dict(raw_headers)
        webhook, path = self._webhook(route, headers.get(b"authorization"))
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
            body = decode_content(body, headers.get(b"content-encoding", b""), MAX_BODY_BYTES)
        except TooLarge:
            raise BodyTooLarge(
                f"a webhook body is at most {MAX_BODY_BYTES} bytes (512 KiB); send less "
                "per request",
                details={"limit": MAX_BODY_BYTES},
            ) from None
        kept = kept_headers(raw_headers)
        kept.pop("content-encoding", None)  # the body is kept decoded
        host = kept.get("host", "localhost")
        request = RawRequest(
            method="POST",
            url=f"{scope.get('scheme', 'http')}://{host}{path}",
            headers=kept,
            query=kept_query(query_string),
            body=body.decode("utf-8", "replace"),
        )
        envelope = raw_envelope(webhook.workspace_id, webhook.source_id, request, datetime.now(UTC))
        record = envelope_encoder.encode(envelope)
        if len(record) > MAX_RECORD_BYTES:  # a body of control characters escapes to 6x
            raise BodyTooLarge(
                f"this request takes {len(record)} bytes as a log record (the limit is "
                f"{MAX_RECORD_BYTES}); send less per request",
                details={"limit": MAX_RECORD_BYTES},
            )
        message_id = envelope.message.message_id or ""
        try:
            await self._log.append_request([record], message_id, webhook.source_id)
        except (OSError, RuntimeError) as exc:
            logger.error("log append failed: %s", exc)
            raise Unavailable("the log could not store the request; retry later") from None

    def _webhook(
        self, route: tuple[str, str], authorization: bytes | None
    ) -> tuple[WebhookSource, str]:
        """The webhook source a request is for, and its path as recorded (no token in it)."""
        kind, value = route
        if kind == "token":
            found = self._webhooks.token(value)
            if found is None or not found.enabled:
                raise NotFound(
                    "no enabled webhook source has this URL: the token may have been rotated "
                    "or the source disabled; copy the source's current webhook URL "
                    "(`seamline sources rotate-webhook-token` makes a new one)",
                    details={"code": "unknown_webhook_token"},
                )
            return found, WEBHOOKS_PREFIX + "[token]"
        key = basic_user(authorization)
        if key is None:
            raise Unauthorized(
                "send the source's write key as the Basic auth user name, or post to the "
                "source's secret webhook URL (/v1/webhooks/<token>) instead"
            )
        source = self._write_keys.resolve(key)
        if source is None:
            raise Unauthorized("unknown or disabled write key; check the source's write key")
        if value != source.id and not same_name(value, source.name):
            raise Unauthorized(
                f"this write key belongs to source {source.name!r}, not {value!r}; "
                "use that source's path or its own write key"
            )
        webhook = self._webhooks.source(source.id)
        if webhook is None:
            raise NotFound(
                f"source {source.name!r} is not a webhook source; create one with "
                "`seamline sources create NAME --type webhook`"
            )
        return webhook, f"{SOURCES_PREFIX}{value}/webhook"

"""The Tracking API: Segment's `/v1/*` ingest routes as a lean ASGI handler.

Kept off the framework's request machinery because it is the hottest path in Seamline: a
request is read, parsed in one msgspec pass, appended to the log (group commit) and answered.
The answer is 200 only once every accepted message of the request is durable.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.collect.auth import basic_user
from seamline.collect.body import (
    ClientGone,
    check_content_type,
    decode_content,
    read_body,
)
from seamline.collect.client_ip import ClientAddress
from seamline.collect.sources import Source, WriteKeys
from seamline.errors import InvalidInput, SeamlineError, Unauthorized, Unavailable
from seamline.log.base import LogWriter
from seamline.metrics import Metrics
from seamline.spec import Limits, Rejection, parse_request
from seamline.spec.envelope import Envelope, envelope_encoder
from seamline.spec.messages import Message

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

BATCH = "batch"
INGEST_PATHS: dict[str, str] = {
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
    "/v1/alias": "alias",
    "/v1/batch": BATCH,
    "/v1/import": BATCH,
    # analytics-next posts to the first letter of the type, and batches to /b.
    "/v1/i": "identify",
    "/v1/t": "track",
    "/v1/p": "page",
    "/v1/s": "screen",
    "/v1/g": "group",
    "/v1/a": "alias",
    "/v1/b": BATCH,
}

CORS_HEADERS = [(b"access-control-allow-origin", b"*")]
_PREFLIGHT_HEADERS = [
    *CORS_HEADERS,
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-max-age", b"86400"),
]
_DEFAULT_ALLOWED = b"authorization, content-type, content-encoding, x-retry-count"
_SUCCESS = b'{"success":true}'
logger = logging.getLogger(__name__)


class _Result(msgspec.Struct, omit_defaults=True):
    success: bool
    rejected: list[Rejection] = []


_result_encoder = msgspec.json.Encoder()


class TrackingAPI:
    """Handles one Tracking API request: auth, parse, append, answer."""

    def __init__(
        self,
        *,
        write_keys: WriteKeys,
        log: LogWriter,
        limits: Limits,
        client_address: ClientAddress,
        metrics: Metrics,
        accepting: Callable[[], bool],
        suppressed: Callable[[str, str, list[Message]], list[Message]] | None = None,
    ) -> None:
        self._write_keys = write_keys
        self._log = log
        self._limits = limits
        self._client_address = client_address
        self._metrics = metrics
        self._accepting = accepting
        # A suppressed person's messages are answered 200 and never written anywhere.
        self._suppressed = suppressed
        self._request_counters: dict[tuple[str, int], Any] = {}
        self.last_accepted = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await preflight(scope, send)
            return
        if method != "POST":
            error = InvalidInput(f"{scope['path']} takes POST")
            error.code, error.status = "method_not_allowed", 405
            await self._answer(send, kind, error.status, _error_body(error))
            return
        try:
            status, body = await self._ingest(scope, receive, kind)
        except ClientGone:
            return
        except SeamlineError as exc:
            status, body = exc.status, _error_body(exc)
        await self._answer(send, kind, status, body)

    async def _answer(self, send: Send, kind: str, status: int, body: bytes) -> None:
        counter = self._request_counters.get((kind, status))
        if counter is None:
            counter = self._metrics.requests.labels(kind, str(status))
            self._request_counters[(kind, status)] = counter
        counter.inc()
        await send_json(send, status, body)

    async def ingest(self, scope: Scope, receive: Receive, kind: str) -> tuple[int, bytes]:
        """Accept one request's messages: (status, JSON answer); SeamlineError when refused
        (the Pixel API hands its message in here)."""
        return await self._ingest(scope, receive, kind)

    async def _ingest(self, scope: Scope, receive: Receive, kind: str) -> tuple[int, bytes]:
        if not self._accepting():
            raise Unavailable("Seamline is starting or stopping; retry shortly")
        headers = dict(scope["headers"])
        check_content_type(headers.get(b"content-type", b""))
        header_key = basic_user(headers.get(b"authorization"))
        source = self._source(header_key) if header_key is not None else None
        limit = self._limits.max_request_bytes
        raw = await read_body(receive, limit)
        body = decode_content(raw, headers.get(b"content-encoding", b""), limit)
        peer = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        client_ip = self._client_address.of(
            peer[0] if peer else None, forwarded.decode("latin-1") if forwarded else None
        )
        parsed = parse_request(
            body,
            message_type=None if kind == BATCH else kind,
            received_at=datetime.now(UTC),
            client_ip=client_ip,
            limits=self._limits,
        )
        if source is None:
            if not parsed.write_key:
                raise Unauthorized(
                    "no write key: send it as the Basic auth user name or as writeKey in the body"
                )
            source = self._source(parsed.write_key)
        if parsed.rejected:
            self._metrics.rejected.inc(len(parsed.rejected))
        if not parsed.messages:
            return 400, _rejected_body(parsed.rejected)
        messages = parsed.messages
        if self._suppressed is not None:
            messages = self._suppressed(source.workspace_id, source.id, messages)
            if len(messages) < len(parsed.messages):
                self._metrics.suppressed.inc(len(parsed.messages) - len(messages))
            if not messages:
                return 200, _SUCCESS
        envelopes = [
            envelope_encoder.encode(
                Envelope(workspace_id=source.workspace_id, source_id=source.id, message=m)
            )
            for m in messages
        ]
        first = messages[0]
        try:
            with self._metrics.append_seconds.time():
                await self._log.append_request(
                    envelopes,
                    request_id(source.id, messages),
                    str(first.user_id or first.anonymous_id or first.message_id or ""),
                )
        except (OSError, RuntimeError) as exc:
            logger.error("log append failed: %s", exc)
            raise Unavailable("the log could not store the messages; retry later") from None
        self._metrics.accepted.inc(len(envelopes))
        self.last_accepted = time.monotonic()
        if parsed.rejected:
            return 200, _result_encoder.encode(_Result(True, parsed.rejected))
        return 200, _SUCCESS

    def _source(self, write_key: str) -> Source:
        source = self._write_keys.resolve(write_key)
        if source is None:
            raise Unauthorized("unknown or disabled write key; check the source's write key")
        return source


def _error_body(error: SeamlineError) -> bytes:
    return msgspec.json.encode(error.to_json())


def _rejected_body(rejected: list[Rejection]) -> bytes:
    if len(rejected) == 1:
        first = rejected[0]
        error = {"code": first.code, "message": first.message, "details": {"rejected": rejected}}
    else:
        error = {
            "code": "all_rejected",
            "message": f"all {len(rejected)} messages were rejected; see details",
            "details": {"rejected": rejected},
        }
    return msgspec.json.encode(error)


async def send_json(send: Send, status: int, body: bytes, extra: list[Any] | None = None) -> None:
    """Send a complete JSON response with CORS headers."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *CORS_HEADERS,
    ]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def preflight(scope: Scope, send: Send) -> None:
    """Answer a CORS preflight so browser pages on any origin may send."""
    requested = dict(scope["headers"]).get(b"access-control-request-headers")
    headers = [
        *_PREFLIGHT_HEADERS,
        (b"access-control-allow-headers", requested or _DEFAULT_ALLOWED),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def request_id(source_id: str, messages: list[Message]) -> str:
    """The same for a retried request: its source and its messages' ids (receivedAt differs)."""
    digest = hashlib.blake2b(source_id.encode(), digest_size=16)
    for message in messages:
        digest.update(b"\n" + (message.message_id or "").encode())
    return digest.hexdigest()

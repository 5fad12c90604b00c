"""The Pixel API: `GET /v1/pixel/{type}?data=<base64 JSON>` answers a 1x1 transparent GIF.

As Segment's Tracking Pixel API: for email opens and other places that can show an image but
not run code; the write key travels inside the JSON (`writeKey`); `data` is base64 (standard
or URL-safe, padding optional) or, as Segment allows, plain JSON; without `data`, the query's
own parameters are the message (`event=…&properties.subject=…&writeKey=…`). It always answers
200 with the GIF, as Segment does, even on errors, since an image tag cannot show one: a
refused request says why in the `X-Seamline-Error` header and is counted in
`seamline_ingest_requests{kind="pixel", status=<the status it would have had>}`.

A message goes through the Tracking API's own path (write key, limits, suppression, durable
append before answering), so the pixel is exactly as safe as `POST /v1/{type}`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from seamline.collect.body import ClientGone
from seamline.collect.tracking import Receive, Scope, Send
from seamline.errors import InvalidInput, SeamlineError
from seamline.metrics import Metrics

PIXEL_PREFIX = "/v1/pixel/"
PIXEL_TYPES = frozenset({"identify", "group", "alias", "page", "screen", "track"})
MAX_QUERY_BYTES = 16 * 1024  # a data URL's practical limit in mail clients is far below

# The smallest transparent GIF: 1x1, one transparent colour.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(GIF)).encode()),
    (b"cache-control", b"no-store, max-age=0"),
    (b"access-control-allow-origin", b"*"),
]

Ingest = Callable[[Scope, Receive, str], Awaitable[tuple[int, bytes]]]
"""The Tracking API's ingest of one request: (status, JSON answer), or a SeamlineError."""


def pixel_type(path: str) -> str | None:
    """The message type a pixel path names ("" for an unknown one); None for other paths."""
    if not path.startswith(PIXEL_PREFIX):
        return None
    kind = path[len(PIXEL_PREFIX) :].strip("/")
    return kind if kind in PIXEL_TYPES else ""


def decode_data(query_string: bytes) -> bytes:
    """The JSON message a pixel URL carries: `data` (base64 or plain JSON) or, without it, the
    query's parameters with dotted names nested (`properties.subject`)."""
    if len(query_string) > MAX_QUERY_BYTES:
        raise InvalidInput(f"the pixel's query is over {MAX_QUERY_BYTES} bytes")
    params = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    data = next((value for name, value in params if name == "data"), None)
    if data is None:
        return msgspec.json.encode(_nested(params))
    text = data.strip()
    if text.startswith("{"):
        return text.encode()
    padded = text + "=" * (-len(text) % 4)
    try:
        # Standard and URL-safe alphabets both: "+"/"/" and "-"/"_" never collide.
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("data is neither base64 nor JSON") from None


def _nested(params: list[tuple[str, str]]) -> dict[str, Any]:
    message: dict[str, Any] = {}
    for name, value in params:
        parts = name.split(".")
        into = message
        for part in parts[:-1]:
            child = into.get(part)
            if not isinstance(child, dict):
                child = into[part] = {}
            into = child
        into.setdefault(parts[-1], value)
    return message


class PixelAPI:
    """Answers pixel requests with the GIF, after handing their message to `ingest`."""

    def __init__(self, ingest: Ingest, metrics: Metrics) -> None:
        self._ingest = ingest
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        failure: SeamlineError | None = None
        status = 200
        if scope["method"] not in ("GET", "HEAD"):
            failure = InvalidInput("the pixel takes GET")
        elif not kind:
            failure = InvalidInput(f"pixel types are {', '.join(sorted(PIXEL_TYPES))}")
        elif scope["method"] == "GET":  # HEAD (link prefetchers) records nothing
            try:
                status, failure = await self._store(scope, kind)
            except ClientGone:
                return
        if failure is not None:
            status = failure.status if status == 200 else status
        self._metrics.requests.labels("pixel", str(status)).inc()
        headers = list(_HEADERS)
        if failure is not None:
            headers.append((b"x-seamline-error", failure.code.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = GIF if scope["method"] != "HEAD" else b""
        await send({"type": "http.response.body", "body": body})

    async def _store(self, scope: Scope, kind: str) -> tuple[int, SeamlineError | None]:
        try:
            body = decode_data(scope.get("query_string", b""))
        except SeamlineError as error:
            return error.status, error
        # The Tracking API's path, with the JSON as its body and no Authorization header: the
        # write key is the JSON's `writeKey` (the client address stays the request's).
        forwarded = [(n, v) for n, v in scope["headers"] if n == b"x-forwarded-for"]
        inner: MutableMapping[str, Any] = {
            **scope,
            "method": "POST",
            "headers": [(b"content-type", b"application/json"), *forwarded],
        }
        sent = False

        async def receive() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            status, answer = await self._ingest(inner, receive, kind)
        except SeamlineError as error:
            return error.status, error
        if status != 200:
            code = msgspec.json.decode(answer).get("code", "rejected")
            rejected = InvalidInput("the message was rejected")
            rejected.code = str(code)
            return status, rejected
        return 200, None

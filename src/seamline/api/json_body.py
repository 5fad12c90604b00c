"""The management API reads every request body as JSON, whatever its label.

FastAPI parses a body as JSON only when it is labelled `application/json`; anything else reached
the route as bytes and was refused with `body: Input should be a valid dictionary`, which says
nothing about the missing header. `curl -d '{…}'` labels its body
`application/x-www-form-urlencoded`, and a hand-written client often sends no label at all.
No management route takes a form, so this middleware relabels those bodies as JSON, as the
Tracking API reads any label as JSON. `multipart/form-data` (an upload) is refused with 415
and a message that says what to send.

Relabelling is safe from cross-site requests because every `/api/` route needs an
`Authorization` header, which a browser never adds on its own (there are no cookies).
"""

from __future__ import annotations

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from seamline.errors import UnsupportedMediaType

_JSON = b"application/json"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class JsonBodies:
    """ASGI middleware: bodies of requests under `prefix` are JSON, labelled so or not."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self._app = app
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or not scope["path"].startswith(self._prefix)
        ):
            await self._app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        label = next((value for name, value in headers if name == b"content-type"), b"")
        media = label.split(b";", 1)[0].strip().lower()
        if media == _JSON or media.endswith(b"+json"):
            await self._app(scope, receive, send)
            return
        if media == b"multipart/form-data":
            await _refuse(send, label.decode("latin-1"))
            return
        relabelled = [(name, value) for name, value in headers if name != b"content-type"]
        relabelled.append((b"content-type", _JSON))
        await self._app({**scope, "headers": relabelled}, receive, send)


async def _refuse(send: Send, label: str) -> None:
    error = UnsupportedMediaType(
        f"the management API takes a JSON body (Content-Type: application/json), not {label}"
    )
    body = msgspec.json.encode(error.to_json())
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", _JSON),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

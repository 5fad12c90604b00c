"""The ceiling Seamline's ingest is measured against: a raw ASGI app that only reads and parses.

It is served exactly as `seamline serve` serves Seamline (`seamline.server.http_config`: uvicorn,
uvloop, httptools with the slow-client timers, log level warning, no access log), reads the
whole body, decodes it fully with `msgspec.json.decode` and answers `{"success":true}` — no
auth, no validation, no log, no fsync.

    .venv/bin/python benchmarks/bare_parse.py --port 8099
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import uvicorn

from seamline.config import Settings
from seamline.server import http_config

Message = MutableMapping[str, Any]
_SUCCESS = b'{"success":true}'
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_SUCCESS)).encode()),
]


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Read and parse the body (an empty one, e.g. a readiness GET, is not parsed); answer 200."""
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    status = 200
    if body:
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError:
            status = 400
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _SUCCESS})


def main() -> None:
    """Serve `app` on 127.0.0.1 with the same uvicorn settings as `seamline serve`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(host="127.0.0.1", port=args.port)
    uvicorn.Server(http_config(app, settings, lifespan="off")).run()


if __name__ == "__main__":
    main()

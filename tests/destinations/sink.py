"""A local HTTP server standing in for a SaaS tool: it records every request and answers
from a script, so destination tests check the documented request shape and the error paths."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a hanging tool)


@dataclass
class Sink:
    url: str
    received: list[Received]
    replies: list[Reply]
    """Answers used in order for the next requests; when empty, `default` answers."""
    default: Reply
    check: Callable[[Received], Reply | None] | None = None
    """Validates a request against the tool's documented shape; a Reply it returns is sent
    instead (e.g. 400 for a missing field)."""


@contextmanager
def sink(default: Reply | None = None) -> Iterator[Sink]:
    state = Sink("", [], [], default or Reply())
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            got = Received(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            with lock:
                state.received.append(got)
                reply = state.replies.pop(0) if state.replies else state.default
            if state.check is not None:
                reply = state.check(got) or reply
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def webhook_to(url: str) -> str:
    """Workspace YAML: a webhook destination `hook` that gets every track event, whole, at
    `url`/events (for `seamline apply`)."""
    return f"""
destinations:
  hook: {{type: webhook}}
subscriptions:
  hook-all:
    destination: hook
    action: send
    trigger: 'type = "track"'
    mapping: {{url: "{url}/events", method: POST, data: {{"@path": "$."}}}}
"""

"""The HTTP server: uvicorn with Seamline's settings, and the limits on slow clients it lacks.

uvicorn (0.55) never times out a client that sends its request slowly: a connection that
trickles its headers, or its body, one byte every few seconds stays open for good, and enough
of them exhaust a worker. `SlowClientLimits` is uvicorn's httptools protocol with two deadlines:

- headers: from the connection's opening (or from the first byte of a later request on a
  kept-alive connection) until its headers are complete, at most `http_header_timeout`;
  past it the connection is closed, with a 408 if part of a request had arrived;
- body: from the end of the headers until the body is complete, at most `http_body_timeout`;
  past it the server answers 408 JSON (unless the application already answered) and closes.

A request only writes its deadline down (a clock read and an attribute); one timer per server
sweeps the open connections a few times per timeout. Measured on bare_parse (/v1/track, 32
connections), a timer per phase per request instead cost about 9% of requests per second.
`http_max_connections` is uvicorn's `limit_concurrency`; past it a request is answered 503 JSON,
which SDKs retry.

uvicorn's graceful shutdown waits (up to 30 s) for every response in progress to finish, and a
server-sent event stream never does by itself: each request's scope carries an `asyncio.Event`
under `SERVER_STOPPING`, set when the shutdown begins, which such a stream ends on.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
import weakref
from typing import Any, ClassVar

import msgspec
import uvicorn
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from seamline.config import Settings

Receive = Any
Send = Any

SERVER_STOPPING = "seamline.server_stopping"
"""The scope key of the event set when the server begins to shut down (see the module)."""


def http_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration `seamline serve` runs `app` with."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "lifespan": "on",
        "log_level": "warning",
        "access_log": False,
        "loop": "uvloop",
        "http": protocol_class(settings.http_header_timeout, settings.http_body_timeout),
        "timeout_graceful_shutdown": 30,
        # uvicorn refuses a request once `len(connections) >= limit`, the asking one counted.
        "limit_concurrency": settings.http_max_connections + 1,
        # Seamline reads X-Forwarded-For itself (trusted_proxies), only where it matters.
        "proxy_headers": False,
        "server_header": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def run(app: Any, settings: Settings, sockets: list[socket.socket] | None = None) -> None:
    """Serve `app` until SIGTERM or SIGINT, then shut down gracefully."""
    uvicorn.Server(http_config(app, settings)).run(sockets=sockets)


def protocol_class(header_timeout: float, body_timeout: float) -> type[HttpToolsProtocol]:
    """`SlowClientLimits` with these timeouts (uvicorn builds the protocol from the class)."""
    return type(
        "SlowClientLimits",
        (SlowClientLimits,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


def _answer(status: bytes, code: str, message: str) -> bytes:
    body = msgspec.json.encode({"code": code, "message": message})
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


_HEADERS_TOO_SLOW = _answer(
    b"408 Request Timeout", "request_timeout", "the request headers took too long to arrive"
)
_BODY_TOO_SLOW = _answer(
    b"408 Request Timeout", "request_timeout", "the request body took too long to arrive"
)
_FULL = msgspec.json.encode(
    {
        "code": "unavailable",
        "message": "this server has as many connections open as it takes; retry shortly",
    }
)


async def _too_many_connections(_scope: Any, _receive: Receive, send: Send) -> None:
    """uvicorn's answer past `limit_concurrency`, in JSON like every other error."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_FULL)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _FULL})


class SlowClientLimits(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read deadlines (see the module)."""

    header_timeout = 10.0
    body_timeout = 30.0
    deadline = math.inf
    """When the headers or the body now awaited are late (`inf`: nothing is awaited)."""
    awaiting_body = False
    request_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.deadline = time.monotonic() + self.header_timeout
        _Sweeper.of(self).ensure_running()
        self.stopping = _stopping_of(self.server_state)

    def shutdown(self) -> None:
        super().shutdown()
        self.stopping.set()  # open event streams end (see the module)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True
        if self.deadline == math.inf:  # a later request on a kept-alive connection (the
            self.deadline = time.monotonic() + self.header_timeout  # first: since opening)

    def on_headers_complete(self) -> None:
        self.request_begun = False
        self.awaiting_body = True
        self.deadline = time.monotonic() + self.body_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.awaiting_body = False
        self.deadline = math.inf
        super().on_message_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        cycle.scope[SERVER_STOPPING] = self.stopping  # type: ignore[literal-required]
        super()._start_asgi_task(
            cycle, _too_many_connections if app is service_unavailable else app
        )

    def expire(self) -> None:
        """The deadline passed: answer 408 where a request can still be answered, and close."""
        self.deadline = math.inf
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self.awaiting_body and cycle is not None and not cycle.response_started:
            self.transport.write(_BODY_TOO_SLOW)
            # The application waiting for the rest of the body hears a disconnect, and
            # whatever it sends now is dropped: the answer above is the only one.
            cycle.disconnected = True
            cycle.message_event.set()
        elif not self.awaiting_body and self.request_begun:  # an idle one closes silently
            self.transport.write(_HEADERS_TOO_SLOW)
        self.transport.close()


_STOPPING: weakref.WeakKeyDictionary[ServerState, asyncio.Event] = weakref.WeakKeyDictionary()


def _stopping_of(server: ServerState) -> asyncio.Event:
    """The one event of a server that says it is shutting down."""
    found = _STOPPING.get(server)
    if found is None:
        found = _STOPPING[server] = asyncio.Event()
    return found


class _Sweeper:
    """The one timer of a server that expires its late connections."""

    _by_server: ClassVar[weakref.WeakKeyDictionary[ServerState, _Sweeper]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, protocol: SlowClientLimits) -> None:
        self._connections = protocol.connections
        self._loop = protocol.loop
        # Often enough that a deadline is met within a fifth of the shorter timeout.
        self._every = min(protocol.header_timeout, protocol.body_timeout, 5.0) / 5
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, protocol: SlowClientLimits) -> _Sweeper:
        found = cls._by_server.get(protocol.server_state)
        if found is None:
            found = cls._by_server[protocol.server_state] = cls(protocol)
        return found

    def ensure_running(self) -> None:
        if self._timer is None:
            self._timer = self._loop.call_later(self._every, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for connection in list(self._connections):
            if isinstance(connection, SlowClientLimits) and connection.deadline <= now:
                connection.expire()
        # Idle servers sleep: the next connection starts the timer again.
        self._timer = self._loop.call_later(self._every, self._sweep) if self._connections else None

"""`GET /api/v1/live`: the console's live debugger, as a server-sent event stream.

Each stream tails the log from its end (`ops.live_tail`) and sends:
- `message` events: a message that matched the filters, sampled to at most `rate` a second,
  masked for callers without PII access;
- a `stats` event every second: `{"seen", "shown", "dropped"}` since the stream began;
- a comment every 15 s, so proxies keep an idle stream open.

A stream ends when the client goes away (Starlette hears the disconnect and cancels it) or when
the server stops: uvicorn's graceful shutdown waits for open responses, so the server's protocol
sets the event it puts in the scope (`seamline.server.SERVER_STOPPING`) and the stream ends
within a second instead of holding the shutdown for its 30 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from seamline.access.permissions import SOURCES_READ
from seamline.api.auth import needs, workspace_of
from seamline.api.pii_view import PiiView
from seamline.errors import NotFound, SeamlineError
from seamline.ops.live_tail import LiveFilter, LiveTail, Sampler, TailSource
from seamline.privacy.masking import Masker
from seamline.server import SERVER_STOPPING

STATS_EVERY = 1.0
HEARTBEAT_EVERY = 15.0
DEFAULT_RATE, MAX_RATE = 20, 100


class TooManyStreams(SeamlineError):
    """This process has as many live streams open as it allows; close one or retry later."""

    code = "too_many_streams"
    status = 429


class LiveAPI:
    """What the live debugger needs: its own readers of the log, source names, PII masking,
    and how many streams one process serves at once."""

    def __init__(
        self,
        *,
        open_source: Callable[[], TailSource],
        source_id_of: Callable[[str, str], str | None],
        pii: PiiView,
        max_streams: int = 20,
    ) -> None:
        self.open_source = open_source
        self.source_id_of = source_id_of
        self.pii = pii
        self.max_streams = max_streams
        self.open = 0
        """Streams open now (each holds readers of the log until it ends)."""


class EventStream(StreamingResponse):
    """A streaming response that runs `finished` however it ends (sent out, cancelled by a
    disconnect, or never started), so a stream's slot and its readers are always given back."""

    def __init__(self, body: AsyncIterator[bytes], finished: Callable[[], Any]) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
        self._finished = finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._finished()


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


def router(api: LiveAPI) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["Live debugger"])

    @routes.get(
        "/live",
        summary="Messages arriving in the log, as server-sent events (sampled)",
        dependencies=[Depends(needs(SOURCES_READ, "source"))],
        response_class=StreamingResponse,
    )
    async def live(
        request: Request,
        source: str | None = None,
        type: str | None = None,
        event: str | None = None,
        id: str | None = None,
        rate: Annotated[int, Query(ge=1, le=MAX_RATE)] = DEFAULT_RATE,
    ) -> StreamingResponse:
        workspace_id = workspace_of(request)
        source_id = None
        if source is not None:
            source_id = await asyncio.to_thread(api.source_id_of, workspace_id, source)
            if source_id is None:
                raise NotFound(f"no source {source!r} (give its id or its name)")
        if api.open >= api.max_streams:
            raise TooManyStreams(
                f"this server process has {api.max_streams} live streams open already; "
                "close one (another console tab?) or retry later",
                details={"limit": api.max_streams},
            )
        masker = api.pii.masker(request)
        tail = LiveTail(
            api.open_source(),
            LiveFilter(
                workspace_id=workspace_id, source_id=source_id, type=type, event=event, id=id
            ),
            Sampler(rate),
        )
        api.open += 1  # given back by `finished`, however the response ends

        async def finished() -> None:
            api.open -= 1
            await tail.close()

        stopping: asyncio.Event | None = request.scope.get(SERVER_STOPPING)
        return EventStream(_stream(tail, masker, stopping), finished)

    return routes


async def _stream(
    tail: LiveTail, masker: Masker | None, stopping: asyncio.Event | None
) -> AsyncIterator[bytes]:
    """The stream's bytes: a first comment and stats once the tail stands at the log's end
    (so a client knows that what it sends from then on will be seen), then messages as they
    come, stats each second and a heartbeat comment."""
    await tail.start()
    yield b": ready\n\n"
    yield _event("stats", _stats(tail))
    loop = asyncio.get_running_loop()
    next_stats = loop.time() + STATS_EVERY
    next_beat = loop.time() + HEARTBEAT_EVERY
    while stopping is None or not stopping.is_set():
        shown = await tail.poll(max(0.0, next_stats - loop.time()))
        for message in shown:
            yield _event("message", masker.message(message) if masker is not None else message)
        now = loop.time()
        if now >= next_stats:
            yield _event("stats", _stats(tail))
            next_stats = now + STATS_EVERY
        if now >= next_beat:
            yield b": heartbeat\n\n"
            next_beat = now + HEARTBEAT_EVERY


def _stats(tail: LiveTail) -> dict[str, int]:
    return {"seen": tail.seen, "shown": tail.shown, "dropped": tail.seen - tail.shown}

"""The live debugger's stream (`GET /api/v1/live`) from a real server on loopback: messages sent
through the Tracking API appear on it, read from the log (local files and JetStream); filters,
sampling with its counter, masking, the per-process limit, and streams that end cleanly when
the client leaves or the server stops."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from seamline.access.permissions import parse_grant
from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.collect.sources import Source, new_source
from seamline.config import Settings
from seamline.server import http_config
from tests.log.conftest import drop_stream
from tests.nats_server import nats_server_url

__all__ = ["nats_server_url"]
pytestmark = pytest.mark.anyio
PATIENCE = 20.0  # seconds a step may take before the test fails instead of hanging


@pytest.fixture(autouse=True)
def _both_state_stores() -> None:
    """The stream reads the log, not the state store: SQLite only (overrides tests/api's)."""


@dataclass
class Served:
    app: Seamline
    source: Source
    client: httpx.AsyncClient
    server: uvicorn.Server
    task: asyncio.Task[None]
    owner: dict[str, str] = field(default_factory=dict)

    def token(self, *roles: str, pii_access: bool = False) -> dict[str, str]:
        grants = tuple(parse_grant(r) for r in roles)
        _, secret = create_token(self.app.tokens, "default", "t", grants, pii_access=pii_access)
        return {"Authorization": f"Bearer {secret}"}

    async def send(self, batch: list[dict[str, Any]], key: str | None = None) -> None:
        body = {"batch": batch, "writeKey": key or self.source.write_key}
        answer = await self.client.post("/v1/batch", json=body)
        assert answer.status_code == 200, answer.text

    def stream(
        self, query: str = "", headers: dict[str, str] | None = None
    ) -> AbstractAsyncContextManager[Events]:
        return _open(self.client, f"/api/v1/live{query}", headers or self.owner)


class Events:
    """The events of an open stream, read one at a time (comments skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.messages: list[dict[str, Any]] = []
        self.stats: list[dict[str, int]] = []

    async def next(self) -> tuple[str, Any]:
        async def read() -> tuple[str, Any]:
            name, data = "", ""
            async for line in self._lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and name:
                    return name, json.loads(data)
            raise EOFError("the stream ended")

        name, data = await asyncio.wait_for(read(), PATIENCE)
        (self.messages if name == "message" else self.stats).append(data)
        return name, data

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            await self.next()

    async def message(self, message_id: str) -> dict[str, Any]:
        await self.until(lambda: any(m.get("messageId") == message_id for m in self.messages))
        return next(m for m in self.messages if m.get("messageId") == message_id)


@asynccontextmanager
async def _open(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> AsyncIterator[Events]:
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        # The first stats come once the stream stands at the log's end: sent from now on is seen.
        assert await events.next() == ("stats", {"seen": 0, "shown": 0, "dropped": 0})
        yield events


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    """Seamline under uvicorn as `serve` configures it, on a loopback port of its own."""
    source = bootstrap(settings)
    app = Seamline(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(http_config(app, settings, host="127.0.0.1", port=port))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(int(PATIENCE / 0.02)):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "the server did not start"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as c:
            served = Served(app, source, c, server, task)
            served.owner = served.token()
            yield served
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 40)
        sock.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(Settings(data_dir=tmp_path / "data", live_max_streams=2)) as running:
        yield running


def track(message_id: str, event: str = "Clicked", **more: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": "u1", "messageId": message_id, **more}


async def test_a_message_sent_appears_on_an_open_stream(served: Served) -> None:
    async with served.stream() as events:
        await served.send([track("live-1")])
        shown = await events.message("live-1")
    assert shown["type"] == "track" and shown["event"] == "Clicked"
    assert shown["source_id"] == served.source.id
    assert shown["receivedAt"]
    assert shown["partition"] == 0 and isinstance(shown["offset"], int)


async def test_filters_by_source_type_event_and_id(served: Served) -> None:
    other = served.app.sources.create(new_source("App", "default"))
    sent = [
        track("f1", "Signed Up"),
        track("f2", "Clicked"),
        {"type": "identify", "userId": "u1", "messageId": "f3"},
        track("f4", "Signed Up", userId="ann"),
        {"type": "page", "anonymousId": "anon-9", "messageId": "f5"},
    ]
    cases = {
        "?type=track&event=Signed%20Up&rate=100": {"f1", "f4"},
        "?type=identify&rate=100": {"f3"},
        "?id=ann&rate=100": {"f4"},
        "?id=anon-9&rate=100": {"f5"},
        "?id=f2&rate=100": {"f2"},
        f"?source={served.source.name}&rate=100": {"f1", "f2", "f3", "f4", "f5"},
    }
    for query, wanted in cases.items():
        async with served.stream(query) as events:
            # From another source: only the source filter tells it apart (no other matches it).
            screen = {"type": "screen", "anonymousId": "other", "messageId": "x-" + query}
            await served.send([screen], other.write_key)
            await served.send(sent)
            await events.until(lambda w=wanted: _seen(events) >= len(w))  # type: ignore[misc]
            # One more second's stats: anything matched by mistake would be counted by then.
            settled = len(events.stats) + 1
            await events.until(lambda n=settled: len(events.stats) > n)  # type: ignore[misc]
        assert {m["messageId"] for m in events.messages} == wanted, query
        assert events.stats[-1] == {"seen": len(wanted), "shown": len(wanted), "dropped": 0}


def _seen(events: Events) -> int:
    return events.stats[-1]["seen"] if events.stats else 0

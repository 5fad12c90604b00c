"""The live debugger's stream (`GET /api/v1/live`) from a real server on loopback: messages sent
through the Tracking API appear on it, read from the log (local files and JetStream); filters,
sampling with its counter, masking, the per-process limit, and streams that end cleanly when
the client leaves or the server stops."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
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
        name = f"t{len(self.app.tokens.in_workspace('default'))}"
        _, secret = create_token(self.app.tokens, "default", name, grants, pii_access=pii_access)
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
async def _open(
    client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> AsyncIterator[Events]:
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
            await events.until(lambda w=wanted: _seen(events) >= len(w))
            # One more second's stats: anything matched by mistake would be counted by then.
            settled = len(events.stats) + 1
            await events.until(lambda n=settled: len(events.stats) > n)
        assert {m["messageId"] for m in events.messages} == wanted, query
        assert events.stats[-1] == {"seen": len(wanted), "shown": len(wanted), "dropped": 0}


def _seen(events: Events) -> int:
    return events.stats[-1]["seen"] if events.stats else 0


async def test_sampling_caps_what_is_shown_while_stats_count_everything(served: Served) -> None:
    rate = 5
    async with served.stream(f"?rate={rate}") as events:
        for start in range(0, 2000, 100):
            await served.send([track(f"s{i}") for i in range(start, start + 100)])
        await events.until(lambda: _seen(events) >= 2000)
    last = events.stats[-1]
    assert last["seen"] == 2000
    assert last["shown"] == len(events.messages)
    assert last["dropped"] == 2000 - last["shown"]
    # At most `rate` a second (one stats event a second), plus the half second the bucket holds.
    assert 0 < len(events.messages) <= rate * len(events.stats) + rate / 2
    assert len({m["messageId"] for m in events.messages}) == len(events.messages)


def _log_files_open(served: Served) -> int:
    """File descriptors of this process open on the log's segment files."""
    log = str(served.app.paths.log)
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        found += target.startswith(log) and target.endswith(".log")
    return found


async def test_a_disconnect_frees_the_stream_and_its_readers(served: Served) -> None:
    await served.send([track("before")])
    for _ in range(int(PATIENCE / 0.05)):  # the pipeline has its reader open by then
        if served.app.caught_up():
            break
        await asyncio.sleep(0.05)
    idle = _log_files_open(served)
    async with served.stream() as events:
        await served.send([track("d1")])
        await events.message("d1")
        assert _log_files_open(served) > idle  # the stream's own reader of the segment
    for _ in range(int(PATIENCE / 0.05)):
        if _log_files_open(served) == idle:
            break
        await asyncio.sleep(0.05)
    assert _log_files_open(served) == idle
    # Both slots (live_max_streams=2) are free again.
    async with served.stream(), served.stream():
        pass


async def test_streams_past_the_limit_get_429(served: Served) -> None:
    async with served.stream(), served.stream():
        refused = await served.client.get("/api/v1/live", headers=served.owner)
        assert refused.status_code == 429
        assert refused.json()["code"] == "too_many_streams"
        assert refused.json()["details"] == {"limit": 2}


async def test_without_pii_access_fields_are_masked(served: Served) -> None:
    identify = {
        "type": "identify",
        "userId": "u1",
        "messageId": "p1",
        "traits": {"email": "jane@example.com", "plan": "pro"},
    }
    reader = served.token("source-read-only")
    seer = served.token("source-read-only", pii_access=True)
    async with served.stream(headers=reader) as masked, served.stream(headers=seer) as clear:
        await served.send([identify])
        hidden = await masked.message("p1")
        shown = await clear.message("p1")
    assert shown["traits"] == {"email": "jane@example.com", "plan": "pro"}
    assert hidden["traits"]["email"] != "jane@example.com"
    assert hidden["traits"]["email"].endswith("@example.com")
    assert hidden["traits"]["plan"] == "pro"


async def test_roles_without_source_read_get_403(served: Served) -> None:
    refused = await served.client.get(
        "/api/v1/live", headers=served.token("tracking-plan-read-only")
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    unknown = await served.client.get("/api/v1/live?source=nope", headers=served.owner)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


async def test_stopping_the_server_ends_open_streams(tmp_path: Path) -> None:
    async with serving(Settings(data_dir=tmp_path / "data")) as running, running.stream() as events:
        running.server.should_exit = True
        # uvicorn waits up to 30 s for open responses; the stream ends well before.
        with pytest.raises(EOFError):
            while True:
                await events.next()
        await asyncio.wait_for(asyncio.shield(running.task), PATIENCE)


async def test_on_the_jetstream_log(tmp_path: Path, nats_server_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", log_url=nats_server_url, log_partitions=2)
    try:
        async with serving(settings) as running, running.stream("?rate=100") as events:
            await running.send([track("n1"), track("n2", userId="other")])
            first = await events.message("n1")
            await events.message("n2")
            assert first["partition"] in (0, 1) and first["offset"] >= 1
            assert first["source_id"] == running.source.id
    finally:
        await drop_stream([nats_server_url], "SEAMLINE")

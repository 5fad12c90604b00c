"""Through the running app: a record a stage raises on is held (disposition `error`) and can be
re-run once fixed; an outage keeps /readyz at 503 while events are still accepted; a pipeline
that really stops fails /healthz so that an orchestrator restarts the process."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.pipeline.batch import Batch
from seamline.pipeline.profiles_stage import UpdateTraits
from seamline.roles.pipeline import PipelineRole
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


def identify(message_id: str, user: str = "u1", **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": message_id, "userId": user, "traits": traits}


async def test_a_record_the_pipeline_cannot_take_is_held_and_the_rest_go_on(
    workspace: Workspace,
) -> None:
    # What an older collect accepted, or a record from another writer: 1e999 is valid JSON
    # that no store can keep. It reaches the pipeline straight from the log.
    raw = (
        b'{"workspace_id":"default","source_id":"' + workspace.source.id.encode() + b'",'
        b'"message":{"type":"track","messageId":"poison","userId":"u1","event":"E",'
        b'"properties":{"x":1e999},"timestamp":"2026-06-01T00:00:00Z"}}'
    )
    await workspace.app.log.append([raw])
    await workspace.send([{"type": "track", "messageId": "after", "userId": "u1", "event": "E"}])

    held = (await workspace.get("held"))["data"]
    assert [(h["message_id"], h["disposition"]) for h in held] == [("poison", "error")]
    assert "ControlPersonalData" in held[0]["reason"]
    assert "Number out of range" in held[0]["reason"]
    assert set(workspace.stored()) == {"after"}
    assert (await workspace.client.get("/readyz")).status_code == 200
    assert (await workspace.client.get("/healthz")).status_code == 200


async def test_a_held_error_is_rerun_once_its_cause_is_fixed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = UpdateTraits.__call__

    def broken(self: UpdateTraits, batch: Batch) -> Batch:
        if any(i.envelope.message.message_id == "m2" for i in batch):
            raise KeyError("a bug in the traits stage")
        return original(self, batch)

    monkeypatch.setattr(UpdateTraits, "__call__", broken)
    await workspace.send([identify("m1", plan="free"), identify("m2", plan="pro")])
    held = (await workspace.get("held"))["data"]
    assert [(h["message_id"], h["disposition"]) for h in held] == [("m2", "error")]
    assert "UpdateTraits" in held[0]["reason"] and "KeyError" in held[0]["reason"]

    monkeypatch.setattr(UpdateTraits, "__call__", original)  # the fix ships
    answer = await workspace.client.post(
        "/api/v1/held/rerun", json={"ids": [held[0]["id"]]}, headers=workspace.headers
    )
    assert answer.json() == {"rerun": 1}
    await workspace.settle()
    traits = await workspace.client.get(
        "/v1/spaces/default/collections/users/profiles/user_id:u1/traits",
        auth=(workspace.token, ""),
    )
    assert traits.json()["traits"]["plan"] == "pro"
    assert (await workspace.get("held"))["data"] == []


async def test_an_outage_keeps_readyz_at_503_accepts_events_and_loses_nothing(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = asyncio.Event()
    down.set()
    original = UpdateTraits.__call__

    def flaky(self: UpdateTraits, batch: Batch) -> Batch:
        if down.is_set():
            raise sqlite3.OperationalError("unable to open database file")
        return original(self, batch)

    monkeypatch.setattr(UpdateTraits, "__call__", flaky)
    workspace.app.guard.backoff.first = workspace.app.guard.backoff.longest = 0.05
    answer = await workspace.client.post(
        "/v1/identify",
        json={"userId": "u1", "messageId": "during", "traits": {"plan": "pro"}},
        auth=(workspace.source.write_key, ""),
    )
    assert answer.status_code == 200
    for _ in range(200):
        ready = await workspace.client.get("/readyz")
        if ready.status_code == 503:
            break
        await asyncio.sleep(0.01)
    assert ready.status_code == 503
    assert ready.json()["code"] == "unavailable"
    assert "UpdateTraits" in ready.json()["message"]
    assert (await workspace.client.get("/healthz")).status_code == 200

    down.clear()  # the database is back
    await workspace.settle()
    assert (await workspace.client.get("/readyz")).status_code == 200
    assert set(workspace.stored()) == {"during"}
    assert (await workspace.get("held"))["data"] == []


async def test_a_pipeline_that_stops_fails_healthz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(self: PipelineRole, partition: int, offset: int, processed: int) -> None:
        raise RuntimeError("a bug in the runner's bookkeeping")

    monkeypatch.setattr(PipelineRole, "_committed", bug)
    settings = Settings(data_dir=tmp_path / "data")
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    message = Message(type="track", message_id="x", user_id="u", event="E")
    await app.log.append(
        [
            envelope_encoder.encode(
                Envelope(workspace_id="default", source_id=source.id, message=message)
            )
        ]
    )
    for _ in range(200):
        if app.failure is not None:
            break
        await asyncio.sleep(0.01)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        health = await client.get("/healthz")
    await app.stop()
    assert health.status_code == 503
    assert health.json()["code"] == "unhealthy"
    assert "bookkeeping" in health.json()["message"]

"""GET /api/v1/messages/{messageId}: what happened to one message at every stage, through the
public API of a running app (state on SQLite and PostgreSQL), delivered to a local webhook."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.store.traces_sql import TRACE_FILE, trace_store
from tests.destinations.sink import Reply, Sink, sink
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio

CARD = "4111 1111 1111 1111"
EMAIL = "ada@example.org"


@pytest.fixture
def tool() -> Iterator[Sink]:
    with sink() as running:
        yield running


async def start(tmp_path: Path, state_url: str, trace_hours: float) -> Workspace:
    settings = Settings(
        data_dir=tmp_path / "data",
        delivery_poll=0.05,
        delivery_timeout=2.0,
        database_url=state_url,
        destinations_allow_private=["127.0.0.0/8"],
        trace_retention_hours=trace_hours,
    )
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    _, token = create_token(app.tokens, "default", "owner")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return Workspace(app, source, client, token, {})


@pytest.fixture
async def workspace(tmp_path: Path, state_url: str) -> AsyncIterator[Workspace]:
    running = await start(tmp_path, state_url, 72)
    yield running
    await running.client.aclose()
    if running.app.accepting:
        await running.app.stop()


async def configure(workspace: Workspace, tool: Sink) -> None:
    """A plan, two transformations, a PII control, an audience and a webhook with two
    subscriptions: one for orders, one for sign-ups."""
    plan = {"events": {"Order Completed": {"properties": {"total": {"type": "number"}}}}}
    await workspace.put("tracking-plans", "Shop", plan)
    await workspace.put("source-connections", workspace.source.id, {"tracking_plan": "Shop"})
    await workspace.put(
        "transformations",
        "fix-name",
        {"kind": "rename_event", "events": ["order_completed"], "to": "Order Completed"},
    )
    await workspace.put(
        "transformations", "drop-debug", {"kind": "drop_event", "events": ["Debug"]}
    )
    await workspace.put("pii-controls", "no-cards", {"classification": "red", "control": "drop"})
    await workspace.put("destinations", "hook", {"type": "webhook", "settings": {}})
    for name, event in (("hook-orders", "Order Completed"), ("hook-signups", "Signed Up")):
        await workspace.put(
            "subscriptions",
            name,
            {
                "destination": "hook",
                "action": "send",
                "trigger": f'event = "{event}"',
                "mapping": {"url": f"{tool.url}/in", "method": "POST", "data": {"@path": "$."}},
            },
        )
    definition = {"condition": {"performed": {"event": "Order Completed"}}}
    answer = await workspace.client.post(
        "/api/v1/audiences",
        json={"key": "buyers", "definition": definition},
        headers=workspace.headers,
    )
    assert answer.status_code == 201, answer.text


async def send(workspace: Workspace, *messages: dict[str, Any]) -> None:
    basic = base64.b64encode(f"{workspace.source.write_key}:".encode()).decode()
    for message in messages:  # one request each: their order decides who founds a profile
        answer = await workspace.client.post(
            "/v1/batch", json={"batch": [message]}, headers={"Authorization": f"Basic {basic}"}
        )
        assert answer.status_code == 200, answer.text
        await workspace.settle()


async def trace(workspace: Workspace, message_id: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token or workspace.token}"}
    answer = await workspace.client.get(f"/api/v1/messages/{message_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def until_delivered(workspace: Workspace, message_id: str) -> Any:
    for _ in range(300):
        found = await trace(workspace, message_id)
        if any(d["outcome"] == "delivered" for d in found["deliveries"]):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not delivered: {found['deliveries']}")


ORDER = {
    "type": "track",
    "userId": "ada",
    "anonymousId": "anon-1",
    "event": "order_completed",
    "properties": {"total": "30", "card": CARD},
    "context": {"traits": {"email": EMAIL, "plan": "pro"}},
    "messageId": "order-1",
    "sentAt": "2026-12-01T10:00:05Z",
    "timestamp": "2026-12-01T10:00:00Z",
}


async def test_a_message_trace_shows_every_stage(workspace: Workspace, tool: Sink) -> None:
    await configure(workspace, tool)
    tool.replies.append(Reply(500))  # the first attempt fails, the retry is delivered
    # Two profiles first (an anonymous visitor, a known user), which the order then merges.
    await send(
        workspace,
        {"type": "page", "anonymousId": "anon-1", "name": "Home", "messageId": "page-1"},
        {"type": "identify", "userId": "ada", "traits": {"name": "Ada"}, "messageId": "id-1"},
        ORDER,
    )
    found = await until_delivered(workspace, "order-1")
    assert found["messageId"] == "order-1"
    assert found["message"]["event"] == "order_completed"  # as accepted, before transforms
    [arrival] = found["arrivals"]
    accepted = arrival["accepted"]
    assert accepted["source"] == {"id": workspace.source.id, "name": workspace.source.name}
    assert accepted["receivedAt"] and accepted["sentAt"] == "2026-12-01T10:00:05Z"
    # Segment's clock-skew correction: timestamp moved by receivedAt - sentAt.
    received = datetime.fromisoformat(accepted["receivedAt"])
    skew = (received - datetime.fromisoformat(accepted["sentAt"])).total_seconds() * 1000
    assert accepted["skewCorrectionMs"] == pytest.approx(skew, abs=1)
    assert accepted["partition"] == 0 and accepted["offset"] >= 0
    assert arrival["dedup"] == {"firstSeen": True}
    assert {"name": "fix-name", "kind": "rename_event", "did": "changed"} in arrival[
        "transformations"
    ]
    assert arrival["violations"][0]["path"] == "properties.total"
    assert arrival["held"] is None
    assert [(p["path"], p["control"]) for p in arrival["pii"]] == [("properties.card", "drop")]
    assert arrival["pii"][0]["classification"] == "red"
    profile = arrival["profile"]
    assert profile["profileId"]
    assert len(profile["merges"]) == 1 and profile["merges"][0]["mergeId"] > 0
    traits = {t["name"]: t["value"] for t in arrival["traits"]}
    assert traits["plan"] == "pro" and traits["email"] == EMAIL  # an owner sees PII
    assert {"key": "buyers", "moved": "entered"} in arrival["audiences"]
    subscriptions = {s["subscription"]: s for s in arrival["subscriptions"]}
    assert subscriptions["hook-orders"]["outcome"] == "queued"
    assert subscriptions["hook-signups"] == {
        "destination": "hook",
        "subscription": "hook-signups",
        "outcome": "filtered",
        "reason": "trigger false",
    }
    assert arrival["stopped"] is None
    attempts = [(d["attempt"], d["outcome"], d["status"]) for d in found["deliveries"]]
    assert attempts == [(1, "retry", 500), (2, "delivered", None)]
    assert all(d["subscription"] == "hook-orders" for d in found["deliveries"])
    assert found["deadLetters"] == []


async def test_a_dropped_message_stops_at_the_transformation(
    workspace: Workspace, tool: Sink
) -> None:
    await configure(workspace, tool)
    await send(workspace, {"type": "track", "userId": "u", "event": "Debug", "messageId": "d-1"})
    [arrival] = (await trace(workspace, "d-1"))["arrivals"]
    assert arrival["stopped"] == "dropped by transformation 'drop-debug'"
    assert arrival["held"]["disposition"] == "drop"
    assert {"name": "drop-debug", "kind": "drop_event", "did": "dropped"} in arrival[
        "transformations"
    ]
    for later in ("pii", "profile", "traits", "audiences", "subscriptions"):
        assert later not in arrival


async def test_a_duplicate_says_so(workspace: Workspace) -> None:
    message = {"type": "track", "userId": "u", "event": "A", "messageId": "twice"}
    await send(workspace, message, message)
    first, second = (await trace(workspace, "twice"))["arrivals"]
    assert first["dedup"] == {"firstSeen": True} and first["stopped"] is None
    assert second["dedup"]["duplicateOf"]["offset"] == first["accepted"]["offset"]
    assert second["stopped"].startswith("duplicate of partition 0 offset ")
    assert set(second) == {"accepted", "dedup", "stopped"}


async def test_an_unknown_message_is_a_404(workspace: Workspace) -> None:
    answer = await workspace.client.get("/api/v1/messages/nope", headers=workspace.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    # The console says how long traces are kept: the workspace's setting, not a guess.
    assert answer.json()["details"] == {"retentionHours": 72}


async def test_a_caller_without_pii_access_sees_masked_fields(workspace: Workspace) -> None:
    await send(workspace, {**ORDER, "event": "Order Completed"})
    grants = (Grant(role="unify-read-only"),)
    _, reader = create_token(workspace.app.tokens, "default", "reader", grants)
    found = await trace(workspace, "order-1", reader)
    assert found["message"]["context"]["traits"]["email"] != EMAIL
    assert found["message"]["properties"]["card"] != CARD
    traits = {t["name"]: t["value"] for t in found["arrivals"][0]["traits"]}
    assert traits["email"] != EMAIL and traits["plan"] == "pro"
    owner = await trace(workspace, "order-1")
    assert owner["message"]["context"]["traits"]["email"] == EMAIL


async def test_tracing_off_records_nothing(tmp_path: Path, state_url: str) -> None:
    running = await start(tmp_path, state_url, 0)
    try:
        await send(running, {"type": "track", "userId": "u", "event": "A", "messageId": "off"})
        answer = await running.client.get("/api/v1/messages/off", headers=running.headers)
        assert answer.status_code == 404
        assert answer.json()["details"] == {"retentionHours": 0}
        parts = running.app.parts
        traces = trace_store(parts.state, parts.paths.root / TRACE_FILE)
        assert traces.count() == 0
        traces.close()
    finally:
        await running.client.aclose()
        await running.app.stop()

"""Destinations end to end, in process: configured through the management API, fed through
the Tracking API, delivered to a local server — with retries, dead letters, consent, PII
controls, sealed secrets, the event tester and replays."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import select

from seamline.store.state import resources
from tests.destinations.sink import Reply, Sink
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


def track(message_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "ada",
        "event": "Order Completed",
        "properties": properties,
        "messageId": message_id,
        "timestamp": "2026-11-29T10:00:00Z",
    }


async def hook(workspace: Workspace, tool: Sink, name: str = "hook", **settings: Any) -> None:
    await workspace.put("destinations", name, {"type": "webhook", "settings": settings})
    await workspace.put(
        "subscriptions",
        f"{name}-orders",
        {
            "destination": name,
            "action": "send",
            "trigger": 'event = "Order Completed"',
            "mapping": {"url": f"{tool.url}/{name}", "method": "POST", "data": {"@path": "$."}},
        },
    )


async def delivered(tool: Sink, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    for _ in range(int(timeout / 0.05)):
        ok = [r for r in tool.received if r.method == "POST"]
        if len(ok) >= count:
            return [r.json() for r in ok]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(tool.received)} requests arrived, expected {count}")


async def test_events_reach_the_webhook_as_sent(
    workspace: Workspace, tool: Sink, state_url: str
) -> None:
    await hook(workspace, tool)
    await workspace.send(
        [track("m1", total=10), track("m2", total=20), {**track("m3"), "event": "Other"}]
    )
    bodies = await delivered(tool, 2)
    assert sorted(b["messageId"] for b in bodies) == ["m1", "m2"]
    assert {b["properties"]["total"] for b in bodies} == {10, 20}
    await asyncio.sleep(0.2)
    status = await workspace.get("destinations/hook/status")
    counts = {(c["outcome"], c["reason"]): c["count"] for c in status["counts"]}
    assert counts[("received", "")] == 3
    assert counts[("mapped", "")] == 2
    assert counts[("delivered", "")] == 2
    assert status["pending"] == 0 and status["dead_letters"] == 0


async def test_retryable_failures_are_retried_and_permanent_ones_dead_lettered(
    workspace: Workspace, tool: Sink, state_url: str
) -> None:
    tool.replies.extend([Reply(500), Reply(429, headers={"Retry-After": "1"})])
    await hook(workspace, tool)
    await workspace.send([track("r1")])
    bodies = await delivered(tool, 3)  # 500, 429, then the default 200
    assert [b["messageId"] for b in bodies] == ["r1", "r1", "r1"]
    tool.replies.append(Reply(400, body={"error": "bad field"}))
    await workspace.send([track("p1")])
    for _ in range(100):
        letters = (await workspace.get("destinations/hook/dead-letters"))["data"]
        if letters:
            break
        await asyncio.sleep(0.05)
    (letter,) = letters
    assert (letter["message_id"], letter["status"]) == ("p1", 400)
    assert "bad field" in letter["response"] and "POST" in letter["request"]
    status = await workspace.get("destinations/hook/status")
    outcomes = {c["outcome"] for c in status["counts"]}
    assert {"retried", "failed", "delivered"} <= outcomes
    replayed = await workspace.client.post(
        "/api/v1/destinations/hook/dead-letters/replay", headers=workspace.headers
    )
    assert replayed.json() == {"queued": 1}
    bodies = await delivered(tool, 5)
    assert bodies[-1]["messageId"] == "p1"


async def test_consent_and_pii_controls_shape_what_the_tool_receives(
    workspace: Workspace, tool: Sink
) -> None:
    await hook(workspace, tool, "ads")
    await hook(workspace, tool, "crm")
    await workspace.put("consent-categories", "Advertising", {"destinations": ["ads"]})
    await workspace.put(
        "pii-controls",
        "ads-hash",
        {"kind": "email", "control": "hash_plain", "destinations": ["ads"]},
    )
    consent = {"consent": {"categoryPreferences": {"Advertising": False}}}
    await workspace.send(
        [
            track("c1", email="Ada@Example.com"),
            {**track("c2", email="Ada@Example.com"), "context": consent},
        ]
    )
    await delivered(tool, 3)
    await asyncio.sleep(0.3)
    by_path: dict[str, list[dict[str, Any]]] = {}
    for request in tool.received:
        by_path.setdefault(request.path, []).append(request.json())
    assert sorted(b["messageId"] for b in by_path["/ads"]) == ["c1"]
    assert sorted(b["messageId"] for b in by_path["/crm"]) == ["c1", "c2"]
    assert (
        by_path["/ads"][0]["properties"]["email"] == hashlib.sha256(b"ada@example.com").hexdigest()
    )
    assert {b["properties"]["email"] for b in by_path["/crm"]} == {"Ada@Example.com"}
    status = await workspace.get("destinations/ads/status")
    assert {(c["outcome"], c["reason"]) for c in status["counts"]} >= {("filtered", "consent")}


async def test_secrets_are_sealed_never_shown_and_used_to_sign(
    workspace: Workspace, tool: Sink
) -> None:
    await hook(workspace, tool, shared_secret="s3cret")
    shown = await workspace.get("destinations/hook")
    assert shown["document"]["settings"]["shared_secret"] == "[secret]"
    with workspace.app.state.connect() as conn:
        stored = conn.execute(
            select(resources.c.document).where(resources.c.name == "hook")
        ).scalar_one()
    assert "s3cret" not in json.dumps(stored)
    again = await workspace.put(
        "destinations", "hook", {"type": "webhook", "settings": {"shared_secret": "[secret]"}}
    )
    assert again["version"] == 1  # sending the placeholder back keeps the secret: no change
    await workspace.send([track("s1")])
    await delivered(tool, 1)
    request = next(r for r in tool.received if r.method == "POST")
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature-256"] == expected


async def test_the_event_tester_and_a_replay(workspace: Workspace, tool: Sink) -> None:
    await hook(workspace, tool)
    answer = await workspace.client.post(
        "/api/v1/destinations/hook/test",
        json={"event": track("t1", total=5)},
        headers=workspace.headers,
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["data"]
    assert result["triggered"] and result["delivered"]
    (exchange,) = result["requests"]
    assert exchange["status"] == 200 and json.loads(exchange["body"])["messageId"] == "t1"
    await workspace.send([track("e1"), track("e2")])
    await delivered(tool, 3)
    replay = await workspace.client.post(
        "/api/v1/destinations/hook/replay",
        json={"from": "2026-11-29T00:00:00Z", "to": "2026-11-30T00:00:00Z"},
        headers=workspace.headers,
    )
    assert replay.json() == {"queued": 2}
    bodies = await delivered(tool, 5)
    assert sorted(b["messageId"] for b in bodies[3:]) == ["e1", "e2"]


@pytest.mark.parametrize(
    ("kind", "name", "document", "code", "fragment"),
    [
        ("destinations", "x", {"type": "nope"}, "invalid_input", "no destination 'nope'"),
        (
            "destinations",
            "x",
            {"type": "webhook", "settings": {"colour": "red"}},
            "invalid_input",
            "no setting 'colour'",
        ),
        ("destinations", "x", {"type": "slack", "settings": {}}, "invalid_input", "webhook_url"),
        (
            "subscriptions",
            "s",
            {"destination": "ghost", "action": "send"},
            "invalid_input",
            "no destination named 'ghost'",
        ),
        (
            "subscriptions",
            "s",
            {"destination": "hook", "action": "explode"},
            "invalid_input",
            "no action 'explode'",
        ),
        (
            "subscriptions",
            "s",
            {"destination": "hook", "action": "send", "trigger": "event ="},
            "invalid_fql",
            "column",
        ),
        (
            "subscriptions",
            "s",
            {"destination": "hook", "action": "send", "mapping": {"url": {"@pathh": "$.x"}}},
            "invalid_mapping",
            "url",
        ),
    ],
)
async def test_bad_configuration_is_refused(
    workspace: Workspace,
    tool: Sink,
    kind: str,
    name: str,
    document: dict[str, Any],
    code: str,
    fragment: str,
) -> None:
    await hook(workspace, tool)
    answer = await workspace.client.put(
        f"/api/v1/{kind}/{name}", json=document, headers=workspace.headers
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    assert fragment in answer.json()["message"]

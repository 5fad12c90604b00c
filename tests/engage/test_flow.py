"""Engage in process: audiences and computed traits created through the management API,
evaluated as events arrive, announced to a webhook, and exited by the sweep."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.destinations.sink import Sink
from tests.destinations.test_delivery_flow import delivered
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


def order(message_id: str, at: datetime, user: str = "ada") -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": "Order Completed",
        "properties": {"total": 12.5},
        "messageId": message_id,
        "timestamp": at.isoformat(),
    }


async def audience_hook(workspace: Workspace, tool: Sink) -> None:
    await workspace.put("destinations", "hook", {"type": "webhook", "settings": {}})
    await workspace.put(
        "subscriptions",
        "hook-audiences",
        {
            "destination": "hook",
            "action": "send",
            "trigger": 'event = "Audience Entered" or event = "Audience Exited"',
            "mapping": {"url": f"{tool.url}/hook", "method": "POST", "data": {"@path": "$."}},
        },
    )


async def post(workspace: Workspace, path: str, body: dict[str, Any], status: int = 200) -> Any:
    answer = await workspace.client.post(f"/api/v1/{path}", json=body, headers=workspace.headers)
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_members_enter_in_real_time_and_exit_when_their_events_age_out(
    workspace: Workspace, tool: Sink
) -> None:
    await audience_hook(workspace, tool)
    definition = {"condition": {"performed": {"event": "Order Completed", "within": "1h"}}}
    created = await post(workspace, "audiences", {"key": "buyers", "definition": definition}, 201)
    assert (created["key"], created["size"]) == ("buyers", 0)
    almost_an_hour_ago = datetime.now(UTC) - timedelta(hours=1) + timedelta(seconds=3)
    await workspace.send([order("o1", almost_an_hour_ago), order("o2", almost_an_hour_ago, "bob")])
    await workspace.settle()
    entered = await delivered(tool, 2)
    assert {b["userId"] for b in entered} == {"ada", "bob"}
    for body in entered:
        assert body["event"] == "Audience Entered"
        assert body["properties"] == {"audience_key": "buyers", "buyers": True}
        assert body["context"]["personas"]["computation_key"] == "buyers"
        assert body["context"]["personas"]["computation_class"] == "audience"
    members = await workspace.get("audiences/buyers/members")
    assert len(members["members"]) == 2
    listing = await workspace.get("audiences")
    assert listing["data"][0]["size"] == 2
    basic = {"Authorization": "Basic " + base64.b64encode(f"{workspace.token}:".encode()).decode()}
    traits_url = "/v1/spaces/default/collections/users/profiles/user_id:ada/traits"
    answer = await workspace.client.get(traits_url, params={"class": "audience"}, headers=basic)
    assert answer.json()["traits"] == {"buyers": True}
    answer = await workspace.client.get(traits_url, params={"class": "custom_trait"}, headers=basic)
    assert "buyers" not in answer.json()["traits"]
    assert "performed" in listing["data"][0]["text"]

    await asyncio.sleep(3.5)
    changed = await asyncio.to_thread(workspace.app.sweep_engage)
    assert changed == 2
    bodies = await delivered(tool, 4)
    assert [b["event"] for b in bodies] == ["Audience Entered"] * 2 + ["Audience Exited"] * 2
    assert all(b["properties"]["buyers"] is False for b in bodies[2:])
    assert (await workspace.get("audiences/buyers/members"))["members"] == []


async def test_a_new_audience_is_backfilled_from_history_and_estimated_before_saving(
    workspace: Workspace, tool: Sink
) -> None:
    now = datetime.now(UTC)
    await workspace.send(
        [order(f"h{i}", now - timedelta(days=i)) for i in range(1, 4)]
        + [order("b1", now - timedelta(days=1), "bob")]
    )
    await workspace.settle()
    definition = {"condition": {"performed": {"event": "Order Completed", "at_least": 2}}}
    estimate = await post(
        workspace, "audiences/estimate", {"key": "repeat", "definition": definition}
    )
    assert estimate["size"] == 1 and len(estimate["sample"]) == 1
    assert estimate["text"] == 'repeat: performed "Order Completed" at least 2 times'
    assert await workspace.get("audiences") == {"data": []}  # an estimate saves nothing

    await audience_hook(workspace, tool)
    created = await post(workspace, "audiences", {"key": "repeat", "definition": definition}, 201)
    assert (created["size"], created["changed"]) == (1, 1)
    (body,) = await delivered(tool, 1)
    assert (body["event"], body["userId"]) == ("Audience Entered", "ada")

    trait = {
        "kind": "aggregation",
        "event": "Order Completed",
        "property": "total",
        "function": "sum",
    }
    made = await post(workspace, "computed-traits", {"key": "spend", "definition": trait}, 201)
    assert made["changed"] == 2
    await workspace.settle()
    await asyncio.sleep(0.3)
    await workspace.settle()
    (ada,) = (await workspace.get("audiences/repeat/members"))["members"]
    assert workspace.app.traits.traits_of(ada)["spend"] == 37.5


async def test_bad_definitions_are_refused_with_the_path_of_the_problem(
    workspace: Workspace,
) -> None:
    bad = {"condition": {"performed": {"event": "X", "at_least": -1}}}
    answer = await workspace.client.post(
        "/api/v1/audiences", json={"key": "x", "definition": bad}, headers=workspace.headers
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_input"
    assert "condition.performed.at_least" in answer.json()["message"]
    loop = {"condition": {"audience": "nope"}}
    answer = await workspace.client.post(
        "/api/v1/audiences", json={"key": "y", "definition": loop}, headers=workspace.headers
    )
    assert answer.status_code == 400 and "nope" in answer.json()["message"]
    assert await workspace.get("audiences") == {"data": []}

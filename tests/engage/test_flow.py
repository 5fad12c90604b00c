"""Engage in process: audiences and computed traits created through the management API,
evaluated as events arrive, announced to a webhook, and exited by the sweep."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
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


async def test_audience_and_trait_announcements_land_in_the_lake(
    workspace: Workspace, tmp_path: Any
) -> None:
    lake = tmp_path / "lake"
    await workspace.put(
        "destinations", "lake", {"type": "parquet-lake", "settings": {"path": str(lake)}}
    )
    await workspace.put(
        "subscriptions",
        "lake-engage",
        {
            "destination": "lake",
            "action": "write_events",
            "trigger": 'context.personas.computation_key = "buyers" or context.personas.computation_key = "orders"',
        },
    )
    definition = {"condition": {"performed": {"event": "Order Completed"}}}
    await post(workspace, "audiences", {"key": "buyers", "definition": definition}, 201)
    trait = {"kind": "event_counter", "event": "Order Completed"}
    await post(workspace, "computed-traits", {"key": "orders", "definition": trait}, 201)
    await workspace.send([order("l1", datetime.now(UTC)), order("l2", datetime.now(UTC))])
    await workspace.settle()
    query = (
        f"SELECT type, event_text, user_id, traits FROM read_parquet('{lake}/**/*.parquet',"
        " hive_partitioning = true, union_by_name = true) ORDER BY received_at, type"
    )
    rows: list[Any] = []
    for _ in range(200):
        if lake.exists() and any(lake.rglob("*.parquet")):
            rows = duckdb.sql(query).fetchall()
            if len(rows) >= 4:
                break
        await asyncio.sleep(0.05)
    kinds = sorted((kind, event or "") for kind, event, _, _ in rows)
    assert ("track", "Audience Entered") in kinds
    identify_traits = [json.loads(t) for kind, _, _, t in rows if kind == "identify"]
    assert {"buyers": True} in [
        {k: v for k, v in t.items() if k == "buyers"} for t in identify_traits
    ]
    assert max(t.get("orders", 0) for t in identify_traits) == 2
    assert {user for _, _, user, _ in rows} == {"ada"}

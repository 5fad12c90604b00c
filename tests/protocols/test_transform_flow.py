"""Transformations and custom functions through the Tracking API, as configured by the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio

FUNCTION = """
def transform(event):
    props = event.setdefault("properties", {})
    if props.get("boom"):
        raise ValueError("cannot handle boom")
    if props.get("hang"):
        while True:
            pass
    if props.get("skip"):
        return None
    props["enriched"] = True
    return event
"""


def track(message_id: str, event: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "u1",
        "event": event,
        "properties": properties,
        "messageId": message_id,
    }


async def test_declarative_transformations_run_in_order(workspace: Workspace) -> None:
    await workspace.put(
        "transformations",
        "1-merge-names",
        {
            "kind": "merge_events",
            "events": ["order_completed", "Order Complete"],
            "to": "Order Completed",
            "order": 1,
        },
    )
    await workspace.put(
        "transformations",
        "2-cast-total",
        {
            "kind": "cast",
            "property": "properties.total",
            "cast": "number",
            "events": ["Order Completed"],
            "order": 2,
        },
    )
    await workspace.put(
        "transformations",
        "3-currency",
        {"kind": "map_value", "property": "properties.currency", "map": {"usd": "USD"}, "order": 3},
    )
    await workspace.put(
        "transformations",
        "4-drop-debug",
        {"kind": "drop_event", "events": ["Debug"], "order": 4},
    )
    await workspace.put(
        "transformations",
        "5-big",
        {
            "kind": "derive",
            "property": "properties.big",
            "template": "yes",
            "where": "properties.total > 100",
            "order": 5,
        },
    )
    await workspace.send(
        [
            track("a", "order_completed", total="150", currency="usd"),
            track("b", "Order Complete", total="12.5"),
            track("c", "Debug", x=1),
            track("d", "Page Shown", total="999"),
        ]
    )
    stored = workspace.stored()
    assert stored["a"]["event"] == "Order Completed"
    assert stored["a"]["properties"] == {"total": 150, "currency": "USD", "big": "yes"}
    assert stored["b"]["properties"] == {"total": 12.5}
    assert stored["d"]["properties"] == {"total": "999"}  # cast is scoped to Order Completed
    assert "c" not in stored
    held = (await workspace.get("held"))["data"]
    assert [(row["message_id"], row["disposition"]) for row in held] == [("c", "drop")]
    assert "4-drop-debug" in held[0]["reason"]


async def test_a_function_that_raises_or_hangs_holds_that_event_only(workspace: Workspace) -> None:
    await workspace.put("functions", "enrich", {"code": FUNCTION, "time_limit": 0.5})
    await workspace.put("transformations", "run-enrich", {"kind": "function", "function": "enrich"})
    await workspace.send(
        [
            track("ok-1", "A"),
            track("boom", "A", boom=True),
            track("ok-2", "A"),
            track("hang", "A", hang=True),
            track("skip", "A", skip=True),
            track("ok-3", "A"),
        ]
    )
    stored = workspace.stored()
    assert set(stored) == {"ok-1", "ok-2", "ok-3"}
    assert all(row["properties"] == {"enriched": True} for row in stored.values())
    held = {row["message_id"]: row for row in (await workspace.get("held"))["data"]}
    assert held["boom"]["disposition"] == "function_error"
    assert "ValueError: cannot handle boom" in held["boom"]["reason"]
    assert "line 5" in held["boom"]["reason"]
    assert held["hang"]["disposition"] == "function_error"
    assert "longer than 0.5 s" in held["hang"]["reason"]
    assert held["skip"]["disposition"] == "drop"
    assert workspace.app.accepting  # the pipeline carries on
    await workspace.send([track("after", "A")])
    assert workspace.stored()["after"]["properties"] == {"enriched": True}


async def test_bad_definitions_are_refused_and_change_nothing(workspace: Workspace) -> None:
    for kind, document, code in [
        ("transformations", {"kind": "drop_event", "where": "event = "}, "invalid_fql"),
        ("transformations", {"kind": "teleport"}, "invalid_input"),
        ("functions", {"code": "def transform(event) return event"}, "invalid_input"),
        ("tracking-plans", {"events": {"A": {"properties": {"x": "numbr"}}}}, "invalid_input"),
        (
            "source-connections",
            {"schema_controls": {"unplanned_events": "explode"}},
            "invalid_input",
        ),
        ("pii-controls", {"control": "shred", "kind": "email"}, "invalid_input"),
    ]:
        answer = await workspace.client.put(
            f"/api/v1/{kind}/bad", json=document, headers=workspace.headers
        )
        assert answer.status_code == 400, (kind, answer.text)
        assert answer.json()["code"] == code, answer.text
        assert answer.json()["message"]
    assert (await workspace.get("resources"))["data"] == []
    unauthorised = await workspace.client.get("/api/v1/resources")
    assert unauthorised.status_code == 401
    assert unauthorised.json()["code"] == "unauthorized"
    missing = await workspace.client.get("/api/v1/functions/nope", headers=workspace.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_naming_conventions_fix_and_report(workspace: Workspace) -> None:
    await workspace.put(
        "source-connections",
        workspace.source.id,
        {"naming": {"events": "object_action", "properties": "snake_case", "mode": "fix"}},
    )
    await workspace.send([track("n1", "order completed", OrderId="o1", total=3)])
    stored = workspace.stored()["n1"]
    assert stored["event"] == "Order Completed"
    assert stored["properties"] == {"order_id": "o1", "total": 3}
    found = (await workspace.get("violations", rule="naming"))["data"]
    assert {row["path"] for row in found} == {"event", "properties.OrderId"}


async def test_transformations_run_before_validation_so_they_can_fix_events(
    workspace: Workspace,
) -> None:
    plan = {"events": {"Order Completed": {"properties": {"total": {"type": "number"}}}}}
    await workspace.put("tracking-plans", "Shop", plan)
    await workspace.put(
        "source-connections",
        workspace.source.id,
        {
            "tracking_plan": "Shop",
            "schema_controls": {"unplanned_events": "quarantine", "violations": "block"},
        },
    )
    await workspace.put(
        "transformations",
        "rename",
        {"kind": "rename_event", "events": ["order_completed"], "to": "Order Completed"},
    )
    await workspace.put(
        "transformations",
        "cast",
        {"kind": "cast", "property": "properties.total", "cast": "number", "order": 1},
    )
    await workspace.send([track("fixed", "order_completed", total="12")])
    assert workspace.stored()["fixed"]["properties"] == {"total": 12}
    assert (await workspace.get("held"))["data"] == []
    assert (await workspace.get("violations"))["data"] == []


async def test_the_management_api_is_in_the_openapi_document(workspace: Workspace) -> None:
    document = (await workspace.client.get("/openapi.json")).json()
    paths = set(document["paths"])
    for kind in (
        "tracking-plans",
        "source-connections",
        "transformations",
        "functions",
        "pii-matchers",
        "pii-controls",
        "consent-categories",
    ):
        assert f"/api/v1/{kind}/{{name}}" in paths
        assert set(document["paths"][f"/api/v1/{kind}/{{name}}"]) == {"get", "put", "delete"}
    assert {
        "/api/v1/violations",
        "/api/v1/violations/summary",
        "/api/v1/held/rerun",
        "/api/v1/inventory",
    } <= paths

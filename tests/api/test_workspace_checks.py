"""What the console's editors ask of the management API: a resource checked without being saved
(`PUT …?dry_run=true`), and a function run on a sample event (`POST /functions/{name}/test`)."""

from __future__ import annotations

import pytest

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from tests.protocols.conftest import Workspace, workspace

__all__ = ["workspace"]
pytestmark = pytest.mark.anyio

PLAN = {"events": {"Order Completed": {"properties": {"total": {"type": "number"}}}}}
CENTS = """def transform(event):
    event["properties"]["cents"] = round(event["properties"]["total"] * 100)
    return event
"""
ORDER = {"type": "track", "event": "Order Completed", "properties": {"total": 12.5}}


async def test_a_dry_run_answers_the_canonical_document_and_stores_nothing(
    workspace: Workspace,
) -> None:
    client, headers = workspace.client, workspace.headers
    answer = await client.put(
        "/api/v1/tracking-plans/Shop", params={"dry_run": "true"}, json=PLAN, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["kind"] == "tracking_plan"
    rule = body["document"]["rules"][0]
    assert rule["key"] == "Order Completed" and rule["type"] == "TRACK"
    assert (await client.get("/api/v1/tracking-plans/Shop", headers=headers)).status_code == 404
    trail = await client.get("/api/v1/audit-trail", headers=headers)
    assert not [e for e in trail.json()["data"] if e["resource_id"] == "Shop"]

    # Saved for real, it is the same document.
    saved = await workspace.put("tracking-plans", "Shop", PLAN)
    assert saved["document"] == body["document"]


async def test_a_dry_run_refuses_what_a_save_refuses_with_the_same_message(
    workspace: Workspace,
) -> None:
    client, headers = workspace.client, workspace.headers
    bad = {"events": {"Order Completed": {"properties": {"total": {"type": "numbr"}}}}}
    checked = await client.put(
        "/api/v1/tracking-plans/Shop", params={"dry_run": "true"}, json=bad, headers=headers
    )
    saved = await client.put("/api/v1/tracking-plans/Shop", json=bad, headers=headers)
    assert checked.status_code == saved.status_code == 400
    assert checked.json() == saved.json()
    assert checked.json()["code"] == "invalid_input"
    assert 'did you mean "number"' in checked.json()["message"]


async def test_a_function_test_run_shows_what_the_function_makes_of_the_event(
    workspace: Workspace,
) -> None:
    client, headers = workspace.client, workspace.headers
    # An edit not saved yet is tried as written.
    tried = await client.post(
        "/api/v1/functions/cents/test", json={"code": CENTS, "event": ORDER}, headers=headers
    )
    assert tried.status_code == 200, tried.text
    assert tried.json()["kind"] == "ok"
    assert tried.json()["event"]["properties"] == {"total": 12.5, "cents": 1250}
    missing = await client.post(
        "/api/v1/functions/cents/test", json={"event": ORDER}, headers=headers
    )
    assert missing.status_code == 404

    # The saved code when none is given; the function's error comes back as its outcome.
    await workspace.put("functions", "cents", {"code": CENTS})
    broken = await client.post(
        "/api/v1/functions/cents/test", json={"event": {"type": "track"}}, headers=headers
    )
    assert broken.status_code == 200
    assert broken.json()["kind"] == "error" and "KeyError" in broken.json()["error"]
    dropped = await client.post(
        "/api/v1/functions/cents/test",
        json={"code": "def transform(event):\n    return None\n", "event": ORDER},
        headers=headers,
    )
    assert dropped.json()["kind"] == "dropped"


async def test_a_function_test_run_refuses_bad_code_and_read_only_callers(
    workspace: Workspace,
) -> None:
    client, headers = workspace.client, workspace.headers
    bad = await client.post(
        "/api/v1/functions/cents/test",
        json={"code": "def transform(event)\n", "event": ORDER},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_input"
    assert "syntax error on line 1" in bad.json()["message"]
    no_event = await client.post(
        "/api/v1/functions/cents/test", json={"code": CENTS}, headers=headers
    )
    assert no_event.status_code == 400 and "event" in no_event.json()["message"]

    _, reader = create_token(
        workspace.app.tokens, "default", "reader", (Grant(role="function-read-only"),)
    )
    refused = await client.post(
        "/api/v1/functions/cents/test",
        json={"code": CENTS, "event": ORDER},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert refused.status_code == 403


async def test_a_transformation_test_run_applies_it_to_the_sample_event(
    workspace: Workspace,
) -> None:
    client, headers = workspace.client, workspace.headers
    rename = {"kind": "merge_events", "events": ["order_completed"], "to": "Order Completed"}
    sample = {"type": "track", "event": "order_completed", "properties": {"total": 3}}
    tried = await client.post(
        "/api/v1/transformations/fix-name/test",
        json={"transformation": rename, "event": sample},
        headers=headers,
    )
    assert tried.status_code == 200, tried.text
    assert tried.json()["applies"] is True and tried.json()["kind"] == "ok"
    assert tried.json()["event"]["event"] == "Order Completed"

    # Out of its scope the event is answered unchanged; the saved document when none is given.
    await workspace.put("transformations", "fix-name", rename)
    other = {"type": "track", "event": "Cart Viewed"}
    skipped = await client.post(
        "/api/v1/transformations/fix-name/test", json={"event": other}, headers=headers
    )
    assert skipped.json() == {"applies": False, "kind": "ok", "event": other, "error": None}

    dropped = await client.post(
        "/api/v1/transformations/x/test",
        json={"transformation": {"kind": "drop_event"}, "event": sample},
        headers=headers,
    )
    assert dropped.json()["kind"] == "dropped"

    await workspace.put("functions", "cents", {"code": CENTS})
    through = await client.post(
        "/api/v1/transformations/x/test",
        json={"transformation": {"kind": "function", "function": "cents"}, "event": ORDER},
        headers=headers,
    )
    assert through.json()["event"]["properties"]["cents"] == 1250

    invalid = await client.post(
        "/api/v1/transformations/x/test",
        json={"transformation": {"kind": "cast"}, "event": sample},
        headers=headers,
    )
    assert invalid.status_code == 400
    assert invalid.json()["message"] == "transformation 'x': kind cast needs property, cast"

    _, reader = create_token(
        workspace.app.tokens, "default", "planner", (Grant(role="tracking-plan-admin"),)
    )
    # A tracking-plan admin tries transformations, but running a function needs functions:write.
    refused = await client.post(
        "/api/v1/transformations/x/test",
        json={"transformation": {"kind": "function", "function": "cents"}, "event": ORDER},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert refused.status_code == 403

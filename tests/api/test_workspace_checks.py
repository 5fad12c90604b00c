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

"""The Protocols and Privacy pages in Chromium: a violation seen, the plan fixed in its editor
(an invalid edit shows the apply error as it is typed), held messages re-run and stored; a
function's test run; a PII control created; a deletion regulation run to FINISHED; and a
read-only user who sees no edit controls and whose forced requests get 403."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import ConsoleRun, console_run, create_user

pytestmark = pytest.mark.slow

PLAN = {
    "events": {"Order Completed": {"properties": {"total": {"type": "number", "required": True}}}}
}
BAD_ORDER = {
    "userId": "buyer-1",
    "event": "Order Completed",
    "messageId": "m-bad-1",
    "properties": {"total": "12.50", "email": "buyer@example.com"},
}
INVALID_YAML = """events:
  Order Completed:
    properties:
      total: {type: numbr, required: true}
"""
VALID_YAML = INVALID_YAML.replace("numbr", "number")
CENTS = """def transform(event):
    event["properties"]["cents"] = round(float(event["properties"]["total"]) * 100)
    return event
"""


def session(run: ConsoleRun, page: Page) -> httpx.Client:
    """An API client with `page`'s signed-in session (cookie and CSRF header), as the console."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    me = httpx.get(run.url + "/api/v1/auth/me", cookies=cookies).json()
    return httpx.Client(
        base_url=run.url, cookies=cookies, headers={"x-csrf-token": me["csrfToken"]}, timeout=30
    )


def until(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not in {seconds} s: {what}")


def replace_code(page: Page, label: str, text: str) -> None:
    editor = page.get_by_label(label)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def test_fix_a_violation_rerun_held_test_a_function_and_run_a_regulation(tmp_path: Any) -> None:
    with console_run(tmp_path) as run, ExitStack() as clients:
        page = run.sign_in()
        page.on("dialog", lambda dialog: dialog.accept())
        api = clients.enter_context(session(run, page))
        source = api.get("/api/v1/sources").json()["data"][0]
        assert api.put("/api/v1/tracking-plans/Shop", json=PLAN).status_code == 200
        connection = {"tracking_plan": "Shop", "schema_controls": {"violations": "quarantine"}}
        answer = api.put(f"/api/v1/source-connections/{source['id']}", json=connection)
        assert answer.status_code == 200, answer.text

        # A function tried on a sample event before it is saved, then saved.
        run.open("/protocols?tab=functions")
        page.get_by_label("New function name").fill("cents")
        page.get_by_role("button", name="New function").click()
        replace_code(page, "Python code of function cents", CENTS)
        page.get_by_role("button", name="Run test").click()
        result = page.get_by_role("region", name="Test result")
        expect(result).to_contain_text("Returned this event")
        expect(result).to_contain_text('"cents": 1250')
        assert run.axe() == []
        run.screenshot("protocols-functions")
        page.get_by_role("button", name="Save function").click()
        expect(page.get_by_text("Saved: version 1")).to_be_visible()
        assert "cents" in api.get("/api/v1/functions/cents").json()["document"]["code"]

        # A transformation made with its form and tried on a sample event.
        run.open("/protocols?tab=transformations")
        page.get_by_label("New transformation name").fill("fix-name")
        page.get_by_role("button", name="New transformation").click()
        page.get_by_role("combobox", name="Kind", exact=True).select_option("merge_events")
        page.get_by_label("Event names to merge (comma-separated)").fill("order_completed")
        page.get_by_label("New event name").fill("Order Completed")
        page.get_by_label("Sample event (JSON)").fill(
            '{"type": "track", "event": "order_completed"}'
        )
        page.get_by_role("button", name="Run test").click()
        expect(page.get_by_role("region", name="Test result")).to_contain_text(
            '"event": "Order Completed"'
        )
        assert run.axe() == []
        run.screenshot("protocols-transformations")
        page.get_by_role("button", name="Save transformation").click()
        expect(page.get_by_text("Saved: version 1")).to_be_visible()
        saved = api.get("/api/v1/transformations/fix-name").json()["document"]
        assert saved["events"] == ["order_completed"] and saved["to"] == "Order Completed"

        # An order whose total is text breaks the plan and is quarantined.
        sent = httpx.post(run.url + "/v1/track", json=BAD_ORDER, auth=(source["write_key"], ""))
        assert sent.status_code == 200
        until("the order is held", lambda: api.get("/api/v1/held").json()["data"])

        run.open("/protocols?tab=violations")
        show = page.get_by_role("button", name="Show the 1 type violations of Order Completed")
        show.click()
        expect(
            page.get_by_role("heading", name="Violations: Order Completed, type")
        ).to_be_visible()
        assert run.axe() == []
        run.screenshot("protocols-violations")
        page.get_by_role("link", name="m-bad-1").first.click()
        page.wait_for_url("**/messages/m-bad-1")

        # The plan editor: an invalid edit shows the error a save gives, as it is typed.
        run.open("/protocols?tab=plans")
        page.get_by_role("button", name="Shop").click()
        replace_code(page, "YAML of plan Shop", INVALID_YAML)
        alert = page.locator(".plan-check[role=alert]")
        expect(alert).to_contain_text('unknown type "numbr" (did you mean "number"?)')
        expect(page.get_by_role("button", name="Save plan")).to_be_disabled()
        replace_code(page, "YAML of plan Shop", VALID_YAML)
        expect(page.get_by_text("Valid: ready to save")).to_be_visible()
        # Fixed in the form: the total may be text; the YAML view follows.
        page.get_by_label("Type of total in Order Completed").select_option("string")
        expect(page.get_by_label("YAML of plan Shop")).to_contain_text("type: string")
        expect(page.get_by_text("Valid: ready to save")).to_be_visible()
        assert run.axe() == []
        run.screenshot("protocols")
        page.get_by_role("button", name="Save plan").click()
        expect(page.get_by_text("Saved: version 2")).to_be_visible()
        stored = api.get("/api/v1/tracking-plans/Shop").json()["document"]["rules"][0]
        total = stored["jsonSchema"]["properties"]["properties"]["properties"]["total"]
        assert total["type"] == "string"

        # Re-run what was held: it is stored now, and not held again.
        run.open("/protocols?tab=held")
        expect(page.get_by_text("quarantined")).to_be_visible()
        assert run.axe() == []
        run.screenshot("protocols-held")
        time.sleep(1)  # the pipeline reads the new plan within 0.5 s
        page.get_by_role("button", name="Re-run all held").click()
        expect(page.get_by_text("1 message sent through the pipeline again.")).to_be_visible()
        events = "/v1/spaces/default/collections/users/profiles/user_id:buyer-1/events"
        until(
            "the re-run order is stored",
            lambda: any(
                e["message_id"] == "m-bad-1" for e in api.get(events).json().get("data", [])
            ),
        )
        assert api.get("/api/v1/held").json()["data"] == []

        # Privacy: the inventory, a PII control made with the form.
        run.open("/privacy?tab=inventory")
        expect(page.get_by_role("cell", name="properties.email", exact=True)).to_be_visible()
        assert run.axe() == []
        run.screenshot("privacy")
        run.open("/privacy?tab=pii")
        page.get_by_role("button", name="New control").click()
        form = page.get_by_role("form", name="New control")
        form.get_by_label("Name of the control").fill("mask-emails")
        form.get_by_label("Kind of data", exact=True).fill("email")
        form.get_by_role("combobox", name="Control", exact=True).select_option("mask")
        form.get_by_role("button", name="Save control").click()
        expect(page.get_by_role("cell", name="mask-emails", exact=True)).to_be_visible()
        assert api.get("/api/v1/pii-controls/mask-emails").json()["document"] == {
            "control": "mask",
            "kind": "email",
            "classification": None,
            "destinations": [],
        }
        assert run.axe() == []
        run.screenshot("privacy-pii")

        # A deletion regulation, followed to FINISHED on the page.
        run.open("/privacy?tab=regulations")
        page.get_by_label("User ids, one per line").fill("buyer-1")
        page.get_by_role("button", name="Create regulation").click()
        detail = page.locator(".card", has=page.get_by_role("heading", name="Regulation reg_"))
        expect(detail.get_by_role("status")).to_contain_text("FINISHED", timeout=60_000)
        expect(detail.get_by_text("Seamline event store")).to_be_visible()
        assert run.axe() == []
        run.screenshot("privacy-regulations")
        regulations = api.get("/api/v1/regulations").json()["data"]["regulations"]
        assert [r["overallStatus"] for r in regulations] == ["FINISHED"]

        # A read-only user: no edit controls, and forced changes are refused.
        create_user(
            run.server.data_dir,
            "viewer@example.com",
            "source-read-only",
            "tracking-plan-read-only",
            "function-read-only",
        )
        viewer = run.sign_in("viewer@example.com", run.new_page())
        run.open("/protocols?tab=plans", viewer)
        viewer.get_by_role("button", name="Shop").click()
        expect(viewer.get_by_label("YAML of plan Shop")).to_be_visible()
        assert viewer.get_by_label("YAML of plan Shop").get_attribute("contenteditable") == "false"
        for hidden in ("Save plan", "New plan", "Add event", "Remove event Order Completed"):
            assert viewer.get_by_role("button", name=hidden).count() == 0, hidden
        assert viewer.get_by_label("Type of total in Order Completed").count() == 0
        run.open("/protocols?tab=held", viewer)
        expect(viewer.get_by_role("heading", name="Held messages")).to_be_visible()
        assert viewer.get_by_role("button", name="Re-run all held").count() == 0
        run.open("/protocols?tab=connections", viewer)
        expect(viewer.get_by_label(f"Tracking plan of {source['name']}")).to_be_disabled()
        assert (
            viewer.get_by_role("button", name=f"Save connection of {source['name']}").count() == 0
        )
        run.open("/protocols?tab=functions", viewer)
        viewer.get_by_role("button", name="cents").click()
        expect(viewer.get_by_label("Python code of function cents")).to_be_visible()
        for hidden in ("Save function", "Run test", "New function"):
            assert viewer.get_by_role("button", name=hidden).count() == 0, hidden
        run.open("/protocols?tab=transformations", viewer)
        viewer.get_by_role("button", name="fix-name").click()
        expect(viewer.get_by_role("combobox", name="Kind", exact=True)).to_be_disabled()
        for hidden in ("Save transformation", "Run test", "Delete transformation"):
            assert viewer.get_by_role("button", name=hidden).count() == 0, hidden
        assert run.axe(viewer) == []
        # Privacy is not among their roles at all.
        nav = viewer.get_by_role("navigation", name="Main")
        assert nav.get_by_role("link", name="Privacy").count() == 0

        forced = clients.enter_context(session(run, viewer))
        refused = [
            forced.put("/api/v1/tracking-plans/Shop", json=PLAN),
            forced.put("/api/v1/tracking-plans/Shop", params={"dry_run": "true"}, json=PLAN),
            forced.post("/api/v1/held/rerun", json={}),
            forced.post("/api/v1/functions/cents/test", json={"event": BAD_ORDER}),
            forced.put("/api/v1/pii-controls/x", json={"control": "drop", "kind": "email"}),
            forced.post(
                "/api/v1/regulations",
                json={
                    "regulationType": "SUPPRESS_ONLY",
                    "subjectType": "USER_ID",
                    "subjectIds": ["x"],
                },
            ),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)

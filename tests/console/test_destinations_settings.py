"""The Destinations and Settings pages in Chromium, against a real `seamline serve`.

An owner adds a webhook destination (to a local HTTP server) and a subscription through the
forms, runs the event tester, sends an event and sees it delivered in the funnel; then creates a
user and a token in Settings, finds both in the audit trail and changes retention. The user they
created (read-only) sees no edit controls, and a forced request with their session gets 403.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import OWNER, PASSWORD, ConsoleRun, console_run
from tests.destinations.sink import Sink, sink

pytestmark = pytest.mark.slow

VIEWER = "viewer@example.com"
SECRET = "s3cret-shared-value"


def test_an_owner_configures_a_webhook_and_the_workspace(tmp_path: Path) -> None:
    with sink() as target, console_run(tmp_path, SEAMLINE_DELIVERY_POLL="0.05") as run:
        page = run.sign_in()
        _add_webhook(run, page)
        _subscribe(run, page, target)
        _test_and_deliver(run, page, target)
        _dead_letters_and_replay(run, page, target)
        _users_tokens_audit_retention(run, page)
        _read_only(run)


def _add_webhook(run: ConsoleRun, page: Page) -> None:
    run.open("/destinations")
    expect(page.get_by_text("No destinations yet")).to_be_visible()
    expect(page.get_by_role("heading", name="Webhook")).to_be_visible()
    assert run.axe() == []
    search = page.get_by_label("Search the catalog")
    search.fill("warehouse")
    expect(page.get_by_role("heading", name="Snowflake")).to_be_visible()
    expect(page.get_by_role("heading", name="Slack")).to_have_count(0)
    search.fill("no such tool")
    expect(page.get_by_text("No destination matches")).to_be_visible()
    search.fill("")
    page.get_by_role("button", name="Add Webhook").click()
    page.locator("input[name=destination-name]").fill("hook")
    secret = page.get_by_label("Shared secret")
    assert secret.get_attribute("type") == "password"
    secret.fill(SECRET)
    page.get_by_role("button", name="Save destination").click()
    page.wait_for_url("**/destinations/hook")
    expect(page.get_by_role("heading", name="hook", exact=True)).to_be_visible()
    stored = _api(run, page, "/api/v1/destinations/hook")
    assert stored["document"]["type"] == "webhook"
    assert stored["document"]["settings"]["shared_secret"] == "[secret]"

    # The secret is write-only: not prefilled, and saving with it blank keeps the stored one.
    page.get_by_role("tab", name="Settings").click()
    secret = page.get_by_label("Shared secret")
    assert secret.input_value() == ""
    assert SECRET not in page.content()
    expect(page.get_by_text("A value is stored")).to_be_visible()
    page.get_by_label("Deletion URL").fill("https://example.com/deletions")
    page.get_by_role("button", name="Save settings").click()
    _until(
        lambda: (
            "deletion_url" in _api(run, page, "/api/v1/destinations/hook")["document"]["settings"]
        )
    )
    settings = _api(run, page, "/api/v1/destinations/hook")["document"]["settings"]
    assert settings == {
        "shared_secret": "[secret]",
        "deletion_url": "https://example.com/deletions",
    }


def _subscribe(run: ConsoleRun, page: Page, target: Sink) -> None:
    page.get_by_role("tab", name="Subscriptions (0)").click()
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()
    page.get_by_role("button", name="Add subscription").click()
    page.locator("input[name=subscription-name]").fill("all-tracks")
    page.get_by_label("URL: mapped from").select_option("literal")
    page.get_by_label("URL: value").fill(target.url + "/hook")
    expect(page.get_by_text("none — the action's default trigger applies")).to_be_visible()

    # FQL typed by hand that does not parse: the server's error, with the column marked.
    page.get_by_role("tab", name="FQL").click()
    page.locator("textarea[name=trigger]").fill("type = ")
    page.get_by_role("button", name="Save subscription").click()
    alert = page.locator(".fql-error")
    expect(alert).to_contain_text("not valid FQL")
    expect(alert).to_contain_text("column 8")
    assert alert.locator("pre").inner_text().splitlines()[1] == " " * 7 + "^"

    page.get_by_role("tab", name="Builder").click()
    page.get_by_role("button", name="Add condition").click()
    expect(page.get_by_test_id("trigger-fql")).to_have_text('type = "track"')
    assert run.axe() == []
    run.screenshot("destination-subscription")
    page.get_by_role("button", name="Save subscription").click()
    expect(page.get_by_role("tab", name="Subscriptions (1)")).to_be_visible()
    expect(page.get_by_role("cell", name="all-tracks", exact=True)).to_be_visible()
    stored = _api(run, page, "/api/v1/subscriptions/all-tracks")["document"]
    assert stored["trigger"] == 'type = "track"'
    assert stored["mapping"]["url"] == target.url + "/hook"
    assert stored["mapping"]["data"] == {"@path": "$."}  # the default mapping kept


def _test_and_deliver(run: ConsoleRun, page: Page, target: Sink) -> None:
    page.get_by_role("tab", name="Event tester").click()
    page.get_by_role("button", name="Send test event").click()
    result = page.locator(".test-result").first
    expect(result.locator(".badge").first).to_have_text("delivered", timeout=20_000)
    expect(result.locator(".exchange")).to_contain_text(f"POST {target.url}/hook")
    expect(result.locator(".exchange")).to_contain_text("x-signature")
    expect(result.get_by_role("heading", name="Response 200")).to_be_visible()
    assert [r.path for r in target.received] == ["/hook"]
    assert target.received[0].json()["event"] == "Order Completed"
    assert run.axe() == []
    run.screenshot("destination-tester")

    # A real event goes through the pipeline and the outbox, and the funnel counts it.
    key = run.server.write_key
    sent = httpx.post(
        run.url + "/v1/track",
        auth=(key, ""),
        json={"userId": "u1", "event": "Signed Up", "messageId": "console-dest-1"},
    )
    assert sent.status_code == 200
    _until(lambda: [r for r in target.received if r.json().get("messageId") == "console-dest-1"])
    page.get_by_role("tab", name="Delivery").click()
    expect(page.locator("li[data-outcome=delivered] .funnel-count")).to_have_text(
        "1", timeout=20_000
    )
    expect(page.locator("li[data-outcome=received] .funnel-count")).to_have_text("1")
    assert run.axe() == []
    run.screenshot("destination")


def _dead_letters_and_replay(run: ConsoleRun, page: Page, target: Sink) -> None:
    page.get_by_role("tab", name="Dead letters and replay").click()
    expect(page.get_by_text("No dead letters")).to_be_visible()
    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Queued")
    assert run.axe() == []

    # Disable keeps the stored secret ("[secret]" sent back); enable again.
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    stored = _api(run, page, "/api/v1/destinations/hook")["document"]
    assert stored["enabled"] is False and stored["settings"]["shared_secret"] == "[secret]"
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()

    # Editing opens the stored trigger as text and the stored mapping in the pickers.
    page.get_by_role("tab", name="Subscriptions (1)").click()
    page.get_by_role("button", name="Edit all-tracks").click()
    trigger = page.locator("textarea[name=trigger]")
    expect(trigger).to_have_value('type = "track"')
    expect(page.get_by_label("URL: mapped from")).to_have_value("literal")
    expect(page.get_by_label("URL: value")).to_have_value(target.url + "/hook")
    expect(page.get_by_label("Data: mapped from", exact=True)).to_have_value("default")
    trigger.fill('type = "track" and event != "Internal"')
    page.get_by_role("button", name="Save subscription").click()
    expect(trigger).to_have_count(0)  # the editor closed
    expect(page.locator("td code").first).to_have_text('type = "track" and event != "Internal"')
    stored = _api(run, page, "/api/v1/subscriptions/all-tracks")["document"]
    assert stored["trigger"] == 'type = "track" and event != "Internal"'
    assert stored["mapping"]["url"] == target.url + "/hook"

    run.open("/destinations")
    row = page.get_by_role("row", name="hook")
    expect(row).to_contain_text("Webhook")
    expect(row).to_contain_text("enabled")
    run.screenshot("destinations")


def _users_tokens_audit_retention(run: ConsoleRun, page: Page) -> None:
    run.open("/settings")
    tabs = page.get_by_role("tablist", name="Settings").get_by_role("tab")
    expect(tabs).to_have_text(["Users and roles", "Access tokens", "Audit trail", "Data retention"])
    page.get_by_role("button", name="Add user").click()
    page.locator("input[name=new-user-email]").fill(VIEWER)
    page.locator("input[name=new-user-password]").fill(PASSWORD)
    page.get_by_label("Source read-only").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("row", name=VIEWER)).to_contain_text("source-read-only")
    users = {u["email"]: u for u in _api(run, page, "/api/v1/users")["data"]}
    assert users[VIEWER]["roles"] == ["source-read-only"]
    assert run.axe() == []
    run.screenshot("settings")

    page.get_by_role("tab", name="Access tokens").click()
    expect(page.get_by_text("No tokens yet")).to_be_visible()
    page.get_by_role("button", name="Create token").click()
    page.locator("input[name=token-name]").fill("ci")
    page.get_by_label("Source read-only").check()
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").inner_text()
    expect(page.get_by_text("it is not shown again")).to_be_visible()
    assert run.axe() == []
    run.screenshot("settings-tokens")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(run.url + "/api/v1/destinations", headers=bearer).status_code == 200
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("row", name="ci")).to_contain_text("active")
    assert token not in page.content()  # shown once

    page.get_by_role("tab", name="Audit trail").click()
    audit = page.locator("table.audit tbody tr")
    expect(audit.first).to_be_visible()
    page.locator("input[name=audit-action]").fill("user.create")
    page.get_by_role("button", name="Filter").click()
    # The owner (created by the CLI) and the viewer, newest first.
    expect(audit).to_have_count(2)
    expect(audit.first).to_contain_text(VIEWER)
    expect(audit.last).to_contain_text(OWNER)
    assert all("user.create" in row for row in audit.all_inner_texts())
    page.locator("input[name=audit-action]").fill("token.create")
    page.get_by_role("button", name="Filter").click()
    expect(audit).to_have_count(1)
    expect(audit.first).to_contain_text("token.create")
    assert run.axe() == []
    run.screenshot("settings-audit")

    page.get_by_role("tab", name="Data retention").click()
    expect(page.get_by_test_id("retention-current")).to_have_text("Keep everything (unlimited)")
    page.locator("select[name=retention]").select_option("90d")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Save retention").click()
    expect(page.get_by_test_id("retention-current")).to_have_text("90 days")
    assert _api(run, page, "/api/v1/retention")["retention"] == "90d"
    assert run.axe() == []


def _read_only(run: ConsoleRun) -> None:
    page = run.sign_in(VIEWER, run.new_page())
    run.open("/destinations", page)
    expect(page.get_by_role("row", name="hook")).to_be_visible()
    expect(page.get_by_role("heading", name="Webhook")).to_be_visible()
    expect(page.get_by_role("button", name="Add Webhook")).to_have_count(0)
    assert run.axe(page) == []

    run.open("/destinations/hook", page)
    expect(page.get_by_role("tab", name="Delivery")).to_be_visible()
    expect(page.get_by_role("tab", name="Event tester")).to_have_count(0)
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    page.get_by_role("tab", name="Subscriptions (1)").click()
    expect(page.get_by_role("cell", name="all-tracks", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add subscription")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit all-tracks")).to_have_count(0)
    page.get_by_role("tab", name="Settings").click()
    expect(page.get_by_role("cell", name="[secret]")).to_be_visible()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    page.get_by_role("tab", name="Dead letters and replay").click()
    expect(page.get_by_text("No dead letters")).to_be_visible()
    expect(page.get_by_role("button", name="Replay", exact=True)).to_have_count(0)
    assert run.axe(page) == []

    run.open("/settings", page)
    expect(page.get_by_text("Your roles include no workspace settings")).to_be_visible()
    expect(page.get_by_role("tab")).to_have_count(0)
    assert run.axe(page) == []

    # The server refuses what the page hides.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csrf = httpx.get(run.url + "/api/v1/auth/me", cookies=cookies).json()["csrfToken"]
    forced = [
        ("POST", "/api/v1/destinations/hook/dead-letters/replay", {}),
        ("PUT", "/api/v1/destinations/hook", {"type": "webhook", "enabled": False}),
        ("PUT", "/api/v1/retention", {"retention": "30d"}),
        ("POST", "/api/v1/tokens", {"name": "mine", "roles": ["workspace-owner"]}),
    ]
    for method, path, body in forced:
        answer = httpx.request(
            method, run.url + path, json=body, cookies=cookies, headers={"x-csrf-token": csrf}
        )
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["code"] == "forbidden"


def _api(run: ConsoleRun, page: Page, path: str) -> Any:
    """GET `path` with the page's session (as the console itself would)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx.get(run.url + path, cookies=cookies)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _until(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {probe}")

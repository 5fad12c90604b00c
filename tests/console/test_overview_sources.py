"""The console's Overview and Sources pages in Chromium: a first-event hint on an empty
workspace; create, rename, rotate and disable a source through the forms; its install snippets
hold this server's origin and the key; events sent with analytics-python show in the overview
and in the source's schema; a read-only user sees no edit controls and is refused if they try."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import segment.analytics as segment_analytics
from playwright.sync_api import Page, expect

from tests.console.browser import ConsoleRun, console_run, create_user
from tests.destinations.sink import sink

pytestmark = pytest.mark.slow

VIEWER = "viewer@example.com"
SCOPED = "dev-admin@example.com"


def session_api(run: ConsoleRun, page: Page) -> httpx.Client:
    """An HTTP client with the page's session cookie and CSRF header: what the console sends."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    client = httpx.Client(base_url=run.url, cookies=cookies, timeout=10)
    csrf = client.get("/api/v1/auth/me").json()["csrfToken"]
    client.headers["x-csrf-token"] = csrf
    return client


def track_status(run: ConsoleRun, key: str) -> int:
    basic = base64.b64encode(f"{key}:".encode()).decode()
    message = {"userId": "probe", "event": "Probe"}
    answer = httpx.post(
        run.url + "/v1/track", json=message, headers={"authorization": f"Basic {basic}"}
    )
    return answer.status_code


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    """`check()`'s first truthy answer; the pipeline stores events a moment after 200."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def send_with_python_sdk(run: ConsoleRun, key: str) -> None:
    errors: list[str] = []
    client = segment_analytics.Client(
        key, host=run.url, max_retries=0, on_error=lambda error, _batch: errors.append(str(error))
    )
    for n in range(3):
        client.track(f"buyer-{n}", "Order Completed", {"total": 10 + n, "currency": "EUR"})
    client.track("buyer-0", "Signed Up", {"plan": "pro"})
    client.identify("buyer-0", {"email": "buyer@example.com"})
    client.flush()
    client.shutdown()
    assert errors == []


def test_overview_and_sources_through_the_console(tmp_path: Path) -> None:
    with sink() as tool, console_run(tmp_path) as run, ExitStack() as clients:
        page = run.sign_in()
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=run.url)
        api = session_api(run, page)
        clients.callback(api.close)
        default = api.get("/api/v1/sources").json()["data"][0]

        # An empty workspace: the overview says how to send a first event, key and host filled in.
        run.open("/")
        hint = page.get_by_label("First event with curl")
        expect(hint).to_contain_text(f"{run.url}/v1/track")
        expect(hint).to_contain_text(f"-u '{default['write_key']}:'")
        assert run.axe() == []

        # Create a source through the form; its page opens with the key and the snippets.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sources").click()
        page.get_by_label("New source name").fill("Website")
        page.get_by_role("button", name="Create source").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Website")
        key = page.get_by_label("Write key").inner_text()
        created = api.get("/api/v1/sources/Website").json()["data"]
        assert created["write_key"] == key and created["enabled"] is True

        page.get_by_role("tab", name="Python").click()
        python = page.get_by_label("Python snippet").inner_text()
        assert f'analytics.write_key = "{key}"' in python
        assert f'analytics.host = "{run.url}"' in python
        page.get_by_role("button", name="Copy Python snippet").click()
        expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == python
        page.get_by_role("tab", name="Node").click()
        node = page.get_by_label("Node snippet").inner_text()
        assert f'new Analytics({{ writeKey: "{key}", host: "{run.url}" }})' in node
        page.get_by_role("tab", name="Website (npm)").click()
        browser = page.get_by_label("Website (npm) snippet").inner_text()
        assert f'AnalyticsBrowser.load({{ writeKey: "{key}", cdnURL: "{run.url}" }})' in browser
        page.get_by_role("tab", name="Website (script tag)").click()
        classic = page.get_by_label("Website (script tag) snippet").inner_text()
        assert f'analytics.load("{key}")' in classic and f'a._cdn="{run.url}"' in classic

        # A webhook that gets every track call, then events from the Python SDK.
        hook = {"type": "webhook", "settings": {}}
        assert api.put("/api/v1/destinations/hook", json=hook).status_code in (200, 201)
        subscription = {
            "destination": "hook",
            "action": "send",
            "trigger": 'type = "track"',
            "mapping": {"url": f"{tool.url}/in", "method": "POST", "data": {"@path": "$."}},
        }
        answer = api.put("/api/v1/subscriptions/hook-tracks", json=subscription)
        assert answer.status_code in (200, 201), answer.text
        send_with_python_sdk(run, key)
        assert eventually(lambda: len(tool.received) >= 4), "the webhook got the track calls"

        # The schema lists the events and their properties with counts.
        def schema_shows_orders() -> bool:
            page.reload()
            page.get_by_role("heading", name="Schema").wait_for()
            expect(page.get_by_text("Reading the schema")).to_have_count(0)
            row = page.get_by_role("row").filter(has_text="Order Completed")
            return row.count() == 1 and "total (3)" in row.inner_text()

        schema = f"/api/v1/sources/{created['id']}/schema"
        assert eventually(schema_shows_orders, 60), (api.get(schema).text, page.inner_text("main"))
        orders = page.get_by_role("row").filter(has_text="Order Completed").inner_text()
        assert "3" in orders and "currency (3)" in orders
        assert "plan (1)" in page.get_by_role("row").filter(has_text="Signed Up").inner_text()
        assert "email (1)" in page.locator(".paths").last.inner_text()  # identify's traits
        page.get_by_label("Filter events and properties").fill("signed")
        expect(page.get_by_role("row").filter(has_text="Order Completed")).to_have_count(0)
        expect(page.get_by_role("row").filter(has_text="Signed Up")).to_have_count(1)
        page.get_by_label("Filter events and properties").fill("")
        assert run.axe() == []
        run.screenshot("source")

        # The overview counts them per source and shows the webhook's deliveries.
        def overview_counts() -> bool:
            found = api.get("/api/v1/overview").json()
            by_id = {s["id"]: s for s in found["events"]["sources"]}
            hook_row = [d for d in found["destinations"] if d["name"] == "hook"]
            return (
                sum(by_id[created["id"]]["hourly"]) == 5
                and bool(hook_row)
                and hook_row[0]["delivered"] == 4
            )

        assert eventually(overview_counts), api.get("/api/v1/overview").text
        run.open("/")
        events = page.get_by_role("table", name="Events per source")
        website = events.get_by_role("row").filter(has_text="Website")
        expect(website.get_by_role("cell")).to_have_text(["Website", "5", "5"], timeout=20_000)
        delivery = page.get_by_role("table", name="Delivery health per destination")
        hook_row = delivery.get_by_role("row").filter(has_text="hook")
        expect(hook_row.get_by_role("cell")).to_have_text(["hook", "4", "0", "0", "0", "0"])
        assert (
            hook_row.get_by_role("link", name="hook").get_attribute("href") == "/destinations/hook"
        )
        expect(page.get_by_label("First event with curl")).to_have_count(0)
        page.get_by_role("tab", name="Last 7 days").click()
        assert page.get_by_role(
            "img", name="Events per source, per day over the last 7 days"
        ).is_visible()
        assert run.axe() == []
        run.screenshot("overview")

        # Rename, rotate (the old key stops, the new one works), disable.
        run.open(f"/sources/{created['id']}")
        page.get_by_label("Source name").fill("Marketing site")
        page.get_by_role("button", name="Rename").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Marketing site")
        assert (
            api.get(f"/api/v1/sources/{created['id']}").json()["data"]["name"] == "Marketing site"
        )

        page.get_by_role("button", name="Rotate write key").click()
        page.get_by_role("button", name="Yes, rotate the key").click()
        expect(page.get_by_role("status").filter(has_text="New write key")).to_be_visible()
        new_key = page.get_by_label("Write key").inner_text()
        assert new_key != key
        assert api.get(f"/api/v1/sources/{created['id']}").json()["data"]["write_key"] == new_key
        assert track_status(run, key) == 401
        assert track_status(run, new_key) == 200
        page.get_by_role("tab", name="Python").click()
        assert (
            f'analytics.write_key = "{new_key}"' in page.get_by_label("Python snippet").inner_text()
        )

        page.get_by_role("button", name="Disable source").click()
        expect(page.get_by_role("button", name="Enable source")).to_be_visible()
        assert api.get(f"/api/v1/sources/{created['id']}").json()["data"]["enabled"] is False
        assert track_status(run, new_key) == 401

        run.open("/sources")
        listed = page.get_by_role("row").filter(has_text="Marketing site")
        expect(listed).to_contain_text("Disabled")
        assert run.axe() == []
        run.screenshot("sources")

        # A read-only user sees the pages without a single edit control, and is refused anyway.
        create_user(run.server.data_dir, VIEWER, "source-read-only")
        viewer = run.sign_in(VIEWER, run.new_page())
        run.open("/sources", viewer)
        expect(viewer.get_by_role("row").filter(has_text="Marketing site")).to_have_count(1)
        expect(viewer.get_by_label("New source name")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Create source")).to_have_count(0)
        masked = viewer.get_by_role("row").filter(has_text="Marketing site").inner_text()
        assert new_key not in masked and new_key[-4:] in masked
        run.open(f"/sources/{created['id']}", viewer)
        viewer.get_by_role("heading", name="Schema").wait_for()
        for control in ("Rename", "Rotate write key", "Disable source", "Enable source"):
            expect(viewer.get_by_role("button", name=control)).to_have_count(0)
        expect(viewer.get_by_label("Source name")).to_have_count(0)
        assert new_key not in viewer.content()
        assert run.axe(viewer) == []
        forced = session_api(run, viewer)
        clients.callback(forced.close)
        refused = forced.patch(f"/api/v1/sources/{created['id']}", json={"name": "Hijacked"})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        rotate = forced.post(f"/api/v1/sources/{created['id']}/rotate-write-key")
        assert rotate.status_code == 403
        assert forced.post("/api/v1/sources", json={"name": "Mine"}).status_code == 403
        after = api.get(f"/api/v1/sources/{created['id']}").json()["data"]
        assert (after["name"], after["write_key"]) == ("Marketing site", new_key)
        run.open("/", viewer)
        events = viewer.get_by_role("table", name="Events per source")
        expect(events.get_by_role("row").filter(has_text="Marketing site")).to_have_count(1)

        # A source-admin scoped to the development source sees and changes only that one.
        create_user(run.server.data_dir, SCOPED, f"source-admin:{default['id']}")
        scoped = run.sign_in(SCOPED, run.new_page())
        run.open("/sources", scoped)
        expect(scoped.get_by_role("row").filter(has_text=default["name"])).to_have_count(1)
        expect(scoped.get_by_role("row").filter(has_text="Marketing site")).to_have_count(0)
        expect(scoped.get_by_label("New source name")).to_have_count(0)  # creating needs it all
        scoped.get_by_role("link", name=default["name"]).click()
        scoped.get_by_label("Source name").fill("Dev")
        scoped.get_by_role("button", name="Rename").click()
        expect(scoped.get_by_role("heading", level=1)).to_have_text("Dev")
        assert api.get(f"/api/v1/sources/{default['id']}").json()["data"]["name"] == "Dev"
        run.open("/", scoped)
        expect(scoped.get_by_role("note")).to_contain_text("your roles reach only some")

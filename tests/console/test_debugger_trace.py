"""The Live debugger and the Message trace in Chromium: an event sent with analytics-python shows
in the debugger within 2 s, its trace shows the delivery to a webhook (a local HTTP server);
pause, the event filter and a burst of 2,000 events; a read-only user sees PII masked."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx
import pytest
import segment.analytics as segment_analytics
from playwright.sync_api import Locator, Page, Route, expect

from tests.console.browser import LOOPBACK, ConsoleRun, console_run, create_user
from tests.destinations.sink import Sink, sink
from tests.test_cli import cli

pytestmark = pytest.mark.slow

EMAIL = "ada@example.org"
VIEWER = "viewer@example.com"
HOOK = """
destinations:
  hook: {{type: webhook}}
subscriptions:
  hook-orders:
    destination: hook
    action: send
    trigger: 'event = "Order Completed"'
    mapping: {{url: "{url}/events", method: POST, data: {{"@path": "$."}}}}
"""
COUNTER = re.compile(r"seen (\d+) · shown (\d+)")
CAP = 200  # the most messages the debugger keeps (console/src/components/debugger/liveStream.ts)


def counter(page: Page) -> tuple[int, int]:
    found = COUNTER.search(page.get_by_test_id("live-counter").inner_text())
    assert found is not None
    return int(found[1]), int(found[2])


def until_seen(page: Page, at_least: int, timeout: float = 90.0) -> int:
    """Wait until the debugger's counter says at least `at_least` messages arrived."""
    deadline = time.monotonic() + timeout
    while (seen := counter(page)[0]) < at_least:
        assert time.monotonic() < deadline, f"seen {seen}, want {at_least}"
        page.wait_for_timeout(100)
    return seen


def rows(page: Page) -> Locator:
    return page.get_by_role("table", name="Messages, newest first").locator("tbody tr")


def stage(within: Page | Locator, title: str) -> Locator:
    """One stage of the trace's timeline, by its heading."""
    # `has` is matched inside each list item, so it is built from the page, not from `within`.
    root = within if isinstance(within, Page) else within.page
    heading = root.get_by_role("heading", name=title, exact=True)
    return within.get_by_role("listitem").filter(has=heading)


def live(page: Page) -> None:
    """Wait until the stream stands at the log's end: what is sent from now on shows."""
    page.get_by_role("status").get_by_text("Live", exact=True).wait_for()


def client(run: ConsoleRun, errors: list[str]) -> segment_analytics.Client:
    return segment_analytics.Client(
        run.server.write_key,
        host=run.url,
        on_error=lambda error, _batch: errors.append(str(error)),
        max_retries=0,
        upload_interval=0.05,
    )


def send_burst(sdk: segment_analytics.Client) -> None:
    """2,000 tracks in 20 batches over a few seconds, so more than the cap is shown."""
    for n in range(20):
        for m in range(100):
            sdk.track(f"u{m}", "Burst", {"n": n * 100 + m}, message_id=f"burst-{n}-{m}")
        sdk.flush()
        time.sleep(0.15)


def apply_hook(run: ConsoleRun, target: Sink, tmp_path: Path) -> None:
    hook = tmp_path / "hook.yaml"
    hook.write_text(HOOK.format(url=target.url))
    done = cli(
        "--data-dir",
        str(run.server.data_dir),
        "apply",
        "-f",
        str(hook),
        "--yes",
        env=LOOPBACK,
    )
    assert done.returncode == 0, done.stderr


def test_debugger_shows_events_live_and_the_trace_shows_their_delivery(tmp_path: Path) -> None:
    errors: list[str] = []
    with sink() as target, console_run(tmp_path, SEAMLINE_DELIVERY_POLL="0.05") as run:
        apply_hook(run, target, tmp_path)
        create_user(run.server.data_dir, VIEWER, "source-read-only", "unify-read-only")
        sdk = client(run, errors)
        page = run.sign_in()
        # The first stream is refused (a server restarting, too many streams): the page says
        # so and connects again by itself.
        refused: list[str] = []

        def refuse(route: Route) -> None:
            refused.append(route.request.url)
            route.fulfill(status=503, content_type="application/json", body='{"code": "x"}')

        page.route("**/api/v1/live*", refuse, times=1)
        run.open("/debugger")
        expect(page.get_by_role("status")).to_contain_text("Reconnecting")
        live(page)
        assert len(refused) == 1
        assert "Waiting for messages" in page.get_by_role("main").inner_text()
        assert run.axe() == []

        # An event sent with the SDK is listed within 2 s of the flush returning.
        sdk.identify("ada", {"email": EMAIL, "plan": "pro"}, message_id="identify-1")
        sdk.track(
            "ada",
            "Order Completed",
            {"total": 30},
            context={"traits": {"email": EMAIL}},
            message_id="order-1",
        )
        sdk.flush()
        order = page.get_by_role("button", name="Order Completed")
        order.wait_for(timeout=2_000)
        expect(page.get_by_role("button", name="identify")).to_be_visible()
        assert rows(page).count() == 2
        assert rows(page).first.get_by_role("cell").nth(2).inner_text() == "user ada"

        # Selecting it shows the message; its Trace link opens what happened to it.
        order.click()
        detail = page.locator(".json")
        expect(detail).to_contain_text('"messageId": "order-1"')
        expect(detail).to_contain_text(EMAIL)  # the owner has PII access
        assert run.axe() == []
        run.screenshot("debugger")
        page.get_by_role("link", name="Trace", exact=True).click()
        page.wait_for_url(f"{run.url}/messages/order-1")
        delivery = stage(page, "Delivery")
        # The page looks again while the delivery is under way.
        expect(delivery.locator(".badge").first).to_have_text("delivered", timeout=15_000)
        expect(delivery.get_by_role("link", name="hook")).to_have_attribute(
            "href", "/destinations/hook"
        )
        subscriptions = stage(page, "Subscriptions")
        expect(subscriptions).to_contain_text("hook-orders")
        expect(subscriptions).to_contain_text("matched: sent to delivery")
        expect(stage(page, "Duplicate check")).to_contain_text("first seen")
        identity = stage(page, "Identity")
        expect(identity.get_by_role("link")).to_have_attribute("href", re.compile("^/profiles/."))
        assert len(target.received) == 1
        assert target.received[0].json()["messageId"] == "order-1"
        assert run.axe() == []
        run.screenshot("trace")

        # Another message by its id, from the search box; an unknown one says so.
        page.get_by_label("Message ID").fill("identify-1")
        page.get_by_role("button", name="Open trace").click()
        page.wait_for_url(f"{run.url}/messages/identify-1")
        expect(stage(page, "Traits changed")).to_contain_text("plan")
        page.get_by_label("Message ID").fill("never-sent")
        page.get_by_role("button", name="Open trace").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "No trace for this message (traces are kept 72 hours)"
        )
        assert run.axe() == []

        # Pause: the counter keeps rising, no new row shows; Resume shows the newest.
        run.open("/debugger")
        live(page)
        page.get_by_role("button", name="Pause").click()
        sdk.track("ada", "While Paused", message_id="paused-1")
        sdk.flush()
        until_seen(page, 1)
        page.wait_for_timeout(500)  # several flushes of the list
        assert page.get_by_role("button", name="While Paused").count() == 0
        assert page.get_by_role("status").get_by_text("Paused").is_visible()
        page.get_by_role("button", name="Resume").click()
        page.get_by_role("button", name="While Paused").wait_for(timeout=2_000)

        # A filter by event reopens the stream: only that event shows.
        page.get_by_label("Event name").fill("Signed Up")
        expect(page.get_by_text("No message matches these filters yet")).to_be_visible()
        live(page)
        sdk.track("bob", "Something Else", message_id="else-1")
        sdk.track("bob", "Signed Up", message_id="signup-1")
        sdk.flush()
        page.get_by_role("button", name="Signed Up").wait_for(timeout=2_000)
        page.wait_for_timeout(500)
        assert page.get_by_role("button", name="Something Else").count() == 0
        assert rows(page).count() == 1

        # A burst of 2,000 events at 100 shown a second: the page answers, the list is capped.
        page.get_by_label("Show at most").select_option("100")
        page.get_by_label("Event name").fill("")
        page.get_by_text("Waiting for messages").wait_for()  # the unfiltered stream, empty
        live(page)
        burst = threading.Thread(target=send_burst, args=(sdk,))
        burst.start()
        try:
            # While the burst arrives, the page still answers: Pause takes effect at once and
            # the list stays within its cap; paused, the counter keeps rising.
            paused_at = until_seen(page, 300)
            page.get_by_role("button", name="Pause").click()
            expect(page.get_by_role("button", name="Resume")).to_be_visible()
            assert page.evaluate("document.querySelectorAll('tbody tr').length") <= CAP
            listed = rows(page).count()
        finally:
            burst.join()
        seen = until_seen(page, 2000)
        assert seen > paused_at and rows(page).count() == listed
        shown = counter(page)[1]
        assert shown > CAP, shown  # more came than the page keeps
        page.get_by_role("button", name="Resume").click()
        expect(rows(page)).to_have_count(CAP)

        # A message sent twice: the second arrival stops at the duplicate check, and its later
        # stages say they did not happen.
        sdk.track("bob", "Something Else", message_id="else-1")
        sdk.flush()
        deadline = time.monotonic() + 30
        while len(page.request.get(run.url + "/api/v1/messages/else-1").json()["arrivals"]) < 2:
            assert time.monotonic() < deadline, "the duplicate was not traced"
            page.wait_for_timeout(200)
        run.open("/messages/else-1")
        second = page.get_by_role("list", name="Stages of arrival 2")
        expect(page.get_by_role("heading", name="Arrival 2 of 2 (duplicate)")).to_be_visible()
        expect(stage(second, "Duplicate check")).to_contain_text("duplicate")
        expect(stage(second, "Delivery")).to_have_count(0)  # shown with the first arrival
        for later in ("Transformations", "Identity", "Subscriptions"):
            expect(stage(second, later)).to_contain_text("did not happen")
        expect(stage(second, "Identity")).to_contain_text("duplicate of partition")
        assert run.axe() == []

        # A read-only user without PII access: same pages, PII masked, no way to change things.
        viewer = run.sign_in(VIEWER, run.new_page())
        run.open("/debugger", viewer)
        live(viewer)
        sdk.track("ada", "Order Completed", context={"traits": {"email": EMAIL}}, message_id="o-2")
        sdk.flush()
        viewer.get_by_role("button", name="Order Completed").click(timeout=2_000)
        expect(viewer.locator(".json")).to_contain_text('"messageId": "o-2"')
        assert EMAIL not in viewer.locator(".json").inner_text()
        run.open("/messages/order-1", viewer)
        body = viewer.get_by_role("region", name="The message as received, as JSON")
        expect(body).to_contain_text('"messageId": "order-1"')
        assert EMAIL not in viewer.get_by_role("main").inner_text()
        assert run.axe(viewer) == []
        cookies = {c["name"]: c["value"] for c in viewer.context.cookies()}
        me = httpx.get(run.url + "/api/v1/auth/me", cookies=cookies).json()
        forced = httpx.put(
            run.url + "/api/v1/destinations/hook",
            json={"type": "webhook", "settings": {}},
            cookies=cookies,
            headers={"x-csrf-token": me["csrfToken"]},
        )
        assert forced.status_code == 403 and forced.json()["code"] == "forbidden"

        sdk.shutdown()
    assert errors == []

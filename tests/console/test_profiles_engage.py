"""The Profiles and Engage pages in Chromium: find a person, read their profile, unmerge a merge,
build an audience, estimate it, save, compute and see its member; a read-only user sees none of
the edit controls and the server refuses them too."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import ConsoleRun, console_run, create_user

pytestmark = pytest.mark.slow

SPACE = "/v1/spaces/default"
PROFILES = SPACE + "/collections/users/profiles"
VIEWER = "viewer@example.com"
# Estimates and computes run DuckDB over the lake: slow when other test runs share two cores.
SLOW = 60_000


def people() -> list[dict[str, Any]]:
    """Ada arrives on the web with her email, then in the app as user ada; the app's identify
    with her email merges the two; she is on the pro plan and buys once. Bob buys three times on
    the free plan; Cy buys twice on pro: only Cy bought at least twice on pro."""
    track = {"type": "track", "event": "Order Completed"}
    return [
        {
            "type": "page",
            "anonymousId": "ada-web",
            "context": {"traits": {"email": "ada@example.com"}},
        },
        {
            "type": "identify",
            "anonymousId": "ada-app",
            "userId": "ada",
            "traits": {"plan": "pro", "name": "Ada"},
        },
        {"type": "identify", "anonymousId": "ada-app", "traits": {"email": "ada@example.com"}},
        {**track, "userId": "ada", "properties": {"total": 30}},
        {
            "type": "identify",
            "userId": "bob",
            "traits": {"email": "bob@example.com", "plan": "free"},
        },
        *[{**track, "userId": "bob", "properties": {"total": 10}} for _ in range(3)],
        {"type": "identify", "userId": "cy", "traits": {"email": "cy@example.com", "plan": "pro"}},
        *[{**track, "userId": "cy", "properties": {"total": 99}} for _ in range(2)],
    ]


class Api:
    """The server's API with a signed-in browser user's session (and its CSRF token)."""

    def __init__(self, run: ConsoleRun, page: Page) -> None:
        # One request per call (no pooled client), so no connection outlives the test.
        self.url = run.url
        self.cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        self.csrf = self.get("/api/v1/auth/me")["csrfToken"]

    def answer(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, cookies=self.cookies, timeout=30)

    def get(self, path: str) -> Any:
        answer = self.answer(path)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(
            self.url + path,
            json=body or {},
            cookies=self.cookies,
            headers={"x-csrf-token": self.csrf},
            timeout=60,
        )


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.3)


def send(run: ConsoleRun, api: Api) -> None:
    """Ada's first two messages each once the previous one is stored, so the third merges two
    profiles as it would in real life; then the rest, and wait until everything is stored."""
    key = run.server.write_key
    messages = [{**m, "messageId": f"m{i}"} for i, m in enumerate(people())]
    post_batch(run.url, key, messages[:1])
    wait_for(lambda: found(api, "anonymous_id:ada-web"), "ada on the web")
    post_batch(run.url, key, messages[1:2])
    wait_for(lambda: found(api, "user_id:ada"), "ada in the app")
    post_batch(run.url, key, messages[2:])
    wait_for(lambda: orders(api) == {"ada": 1, "bob": 3, "cy": 2}, "everyone's orders")
    wait_for(lambda: len(api.get(f"{PROFILES}/user_id:ada/merges")["data"]) == 1, "ada's merge")


def found(api: Api, identifier: str) -> bool:
    return api.answer(f"{PROFILES}/{identifier}/traits").status_code == 200


def orders(api: Api) -> dict[str, int]:
    counted = {}
    for user in ("ada", "bob", "cy"):
        answer = api.answer(f"{PROFILES}/user_id:{user}/events?limit=50")
        events = answer.json()["data"] if answer.status_code == 200 else []
        counted[user] = sum(e.get("event") == "Order Completed" for e in events)
    return counted


def post_batch(url: str, write_key: str, batch: list[dict[str, Any]]) -> None:
    answer = httpx.post(url + "/v1/batch", json={"batch": batch}, auth=(write_key, ""))
    assert answer.status_code == 200, answer.text


def test_find_a_profile_unmerge_build_an_audience_and_a_read_only_view(tmp_path: Any) -> None:
    with console_run(tmp_path) as run:
        page = run.sign_in()
        owner = Api(run, page)
        send(run, owner)

        # Search by email, open the profile: traits with their source, identifiers, events, merge.
        run.open("/profiles")
        assert run.axe() == []
        page.get_by_label("Find by").select_option("email")
        page.get_by_label("Value", exact=True).fill("ada@example.com")
        page.get_by_role("button", name="Search", exact=True).click()
        results = page.get_by_role("table")
        expect(results.get_by_role("link", name="Ada")).to_be_visible()
        run.screenshot("profiles")
        results.get_by_role("link", name="Ada").click()
        traits = page.get_by_role("table", name="Traits", exact=True)
        expect(traits.get_by_role("row", name=re.compile(r"^plan pro"))).to_be_visible()
        identifiers = page.get_by_role("table", name="Identifiers", exact=True)
        for value in ("ada-web", "ada-app", "ada@example.com", "ada"):
            expect(identifiers.get_by_role("cell", name=value, exact=True)).to_be_visible()
        events = page.get_by_role("list", name="Events, newest first")
        expect(events.get_by_text("Order Completed")).to_have_count(1)
        graph = page.get_by_role("figure", name="Merge history graph")
        expect(graph.locator(".react-flow__edge")).to_have_count(1)
        label = graph.get_by_text(re.compile("anonymous_id:ada-app"))
        expect(label).to_contain_text("email:ada@example.com")
        expect(graph.locator(".merge-node")).to_have_count(2)
        assert run.axe() == []
        run.screenshot("profile")

        # A read-only user (profiles and engage, no identity:write) sees no Unmerge; the server
        # refuses it from them too.
        create_user(run.server.data_dir, VIEWER, "unify-engage-read-only")
        viewer_page = run.sign_in(VIEWER, run.new_page())
        run.open("/profiles/email%3Aada%40example.com", viewer_page)
        expect(viewer_page.get_by_role("table", name="Merges", exact=True)).to_be_visible()
        expect(viewer_page.get_by_role("table", name="Traits", exact=True)).to_be_visible()
        assert viewer_page.get_by_role("button", name=re.compile("Unmerge")).count() == 0
        viewer = Api(run, viewer_page)
        merge_id = owner.get(f"{PROFILES}/user_id:ada/merges")["data"][0]["merge_id"]
        refused = viewer.post(f"{SPACE}/merges/{merge_id}/unmerge")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"

        # Unmerge in the UI (confirmed), and the graph and the API show the split.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=f"Unmerge merge {merge_id}").click()
        expect(page.get_by_role("status")).to_contain_text("Unmerged", timeout=SLOW)
        expect(page.get_by_text("This profile was never merged")).to_be_visible()
        assert owner.get(f"{PROFILES}/user_id:ada/merges")["data"] == []
        web = owner.get(f"{PROFILES}/email:ada@example.com/external_ids")["data"]
        assert {(d["type"], d["id"]) for d in web} == {
            ("anonymous_id", "ada-web"),
            ("email", "ada@example.com"),
        }

        cy = owner.get(f"{SPACE}/profiles?identifier=user_id:cy")["data"][0]["profile_id"]

        # Build an audience: performed Order Completed at least 2 times in 30 days AND plan = pro.
        run.open("/engage")
        expect(page.get_by_text("No audiences yet")).to_be_visible()
        performed = page.get_by_role("group", name="Condition: Performed an event")
        performed.get_by_label("Event", exact=True).fill("Order Completed")
        performed.get_by_label("Times", exact=True).fill("2")
        performed.get_by_label("Within the last", exact=True).fill("30")
        page.get_by_label("Condition to add to Audience conditions").select_option("trait")
        page.get_by_role("button", name="Add condition", exact=True).click()
        trait = page.get_by_role("group", name="Condition: Has a trait")
        trait.get_by_label("Trait", exact=True).fill("plan")
        trait.get_by_label("Value", exact=True).fill("pro")
        page.get_by_label(re.compile("^Key")).fill("repeat_pro_buyers")
        text = page.get_by_test_id("definition-text")
        expect(text).to_have_text(
            'repeat_pro_buyers: performed "Order Completed" at least 2 times in the last 30 days'
            ' and plan = "pro"',
            timeout=SLOW,
        )
        expect(page.get_by_test_id("estimate-size")).to_have_text("1", timeout=SLOW)
        sample = page.get_by_role("list", name="Sample members")
        expect(sample.get_by_role("link")).to_have_text([cy], timeout=SLOW)
        assert run.axe() == []

        page.get_by_role("button", name="Save and compute").click()
        expect(page.get_by_role("status")).to_contain_text("Saved repeat_pro_buyers", timeout=SLOW)
        members = page.get_by_role("list", name="Members of repeat_pro_buyers")
        expect(members.get_by_role("link")).to_have_text([cy], timeout=SLOW)
        page.get_by_role("button", name="Compute repeat_pro_buyers").click()
        expect(page.get_by_role("status")).to_contain_text(
            "Computed repeat_pro_buyers: 1 members", timeout=SLOW
        )
        listed = owner.get("/api/v1/audiences")["data"]
        assert [(a["key"], a["size"]) for a in listed] == [("repeat_pro_buyers", 1)]
        assert owner.get("/api/v1/audiences/repeat_pro_buyers/members")["members"] == [cy]
        assert run.axe() == []
        run.screenshot("engage")

        # The member's profile lists the audience.
        members.get_by_role("link", name=cy).click()
        expect(
            page.get_by_role("list", name="Audiences", exact=True).get_by_text("repeat_pro_buyers")
        ).to_be_visible()

        # A computed trait the same way: the number of orders, estimated, saved and computed.
        run.open("/engage")
        page.get_by_role("tab", name="Computed traits").click()
        expect(page.get_by_text("No computed traits yet")).to_be_visible()
        page.get_by_label("What to compute").select_option("event_counter")
        page.get_by_label("Of the event").fill("Order Completed")
        page.get_by_label(re.compile("^Key")).fill("orders")
        expect(text).to_have_text('orders = count of "Order Completed"', timeout=SLOW)
        expect(page.get_by_test_id("estimate-size")).to_have_text("3", timeout=SLOW)
        page.get_by_role("button", name="Save and compute").click()
        expect(page.get_by_role("status")).to_contain_text("Saved orders", timeout=SLOW)
        listed = owner.get("/api/v1/computed-traits")["data"]
        assert [(t["key"], t["size"]) for t in listed] == [("orders", 3)]
        assert run.axe() == []
        run.screenshot("engage-traits")

        # The read-only user sees the audience and its members, but no Save or Compute.
        run.open("/engage", viewer_page)
        expect(viewer_page.get_by_role("table", name="Audiences", exact=True)).to_contain_text(
            "repeat_pro_buyers"
        )
        viewer_page.get_by_role("button", name="Show members of repeat_pro_buyers").click()
        expect(
            viewer_page.get_by_role("list", name="Members of repeat_pro_buyers")
        ).to_contain_text(cy)
        for name in ("Save and compute", "Compute repeat_pro_buyers"):
            assert viewer_page.get_by_role("button", name=name).count() == 0
        assert run.axe(viewer_page) == []
        for path, body in (
            ("/api/v1/audiences", {"key": "x", "definition": {"condition": {"audience": "y"}}}),
            ("/api/v1/audiences/repeat_pro_buyers/compute", {}),
        ):
            refused = viewer.post(path, body)
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden", path

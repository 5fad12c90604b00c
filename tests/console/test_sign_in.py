"""Signing in to the console in Chromium, and the one-time page that creates the first owner."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.console.browser import OWNER, PASSWORD, console_run

pytestmark = pytest.mark.slow


def test_sign_in_with_the_form_a_password_manager_finds(tmp_path: Path) -> None:
    with console_run(tmp_path) as run:
        page = run.page
        page.goto(run.url + "/")
        email, password = page.locator("input[name=email]"), page.locator("input[name=password]")
        assert email.get_attribute("autocomplete") == "email"
        assert password.get_attribute("autocomplete") == "current-password"
        assert run.axe() == []
        run.screenshot("sign-in")

        email.fill(OWNER)
        password.fill("not the password at all")
        page.get_by_role("button", name="Sign in").click()
        assert "wrong" in page.get_by_role("alert").inner_text().lower()

        run.sign_in()
        nav = page.get_by_role("navigation", name="Main")
        for title in ("Overview", "Sources", "Live debugger", "Protocols", "Privacy", "Profiles"):
            assert nav.get_by_role("link", name=title).is_visible()
        assert nav.get_by_text(OWNER).is_visible()
        # A page path opened directly (a shared link, a reload) is the console too.
        run.open("/settings")
        assert page.title() == "Settings · Seamline"

        page.get_by_role("button", name="Sign out").click()
        page.locator("input[name=email]").wait_for()
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        assert httpx.get(run.url + "/api/v1/auth/me", cookies=cookies).status_code == 401


def test_the_first_run_creates_the_owner_once_from_this_machine(tmp_path: Path) -> None:
    with console_run(tmp_path, owner=False) as run:
        page = run.page
        page.goto(run.url + "/")
        page.get_by_role("heading", name="Create the workspace owner").wait_for()
        assert page.locator("input[name=password]").get_attribute("autocomplete") == "new-password"
        assert run.axe() == []
        run.screenshot("first-run")
        page.locator("input[name=email]").fill("first@example.com")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("input[name=confirm]").fill(PASSWORD)
        page.get_by_role("button", name="Create owner and sign in").click()
        page.get_by_role("navigation", name="Main").get_by_text("first@example.com").wait_for()

        # Once there is a user, the page is gone and the API refuses a second owner.
        other = run.new_page()
        other.goto(run.url + "/")
        other.locator("input[name=email]").wait_for()
        assert other.get_by_role("heading", name="Sign in to Seamline").is_visible()
        again = httpx.post(
            run.url + "/api/v1/setup/owner", json={"email": "x@example.com", "password": PASSWORD}
        )
        assert again.status_code == 403 and again.json()["code"] == "forbidden"

"""Drive the console in Debian's Chromium (Playwright) against a real `seamline serve`.

`console_run(tmp_path)` starts a server on its own data directory with a workspace owner, opens
Chromium, and yields a `ConsoleRun`: `sign_in`, `open` a page, `axe` (accessibility: the serious
and critical violations axe-core finds), `screenshot` (into SEAMLINE_SCREENSHOTS when set, which
is how docs/images/console/ is made, else into the test's directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.server import Server
from tests.forked_cli import run_seamline

CHROMIUM = "/usr/bin/chromium"
# As root in a sandbox with no network beyond loopback (see tests/e2e/js/browser.mjs).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parents[1] / "e2e" / "js" / "node_modules" / "axe-core" / "axe.min.js"
OWNER = "owner@example.com"
PASSWORD = "correct horse battery staple"
LOOPBACK = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
START_TIMEOUT = 180.0  # seconds for `seamline serve` to answer /readyz


def create_user(data: Path, email: str, *roles: str, pii: bool = False) -> None:
    """`seamline users create` (the CLI a first-time owner would use too)."""
    command = ["--data-dir", str(data), "users", "create", "--email", email]
    for role in roles:
        command += ["--role", role]
    if pii:
        command.append("--pii-access")
    done = run_seamline([*command, "--password-stdin"], input=PASSWORD)
    assert done.returncode == 0, done.stderr


@dataclass
class ConsoleRun:
    server: Server
    browser: Browser
    page: Page
    shots: Path

    @property
    def url(self) -> str:
        return self.server.url

    def new_page(self) -> Page:
        """A page in a fresh context: no cookies, so another user can sign in."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    def sign_in(self, email: str = OWNER, page: Page | None = None) -> Page:
        page = page or self.page
        page.goto(self.url + "/")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Main").wait_for()
        return page

    def open(self, path: str, page: Page | None = None) -> Page:
        """Go to a console path, as a click in the nav would (the page loads its chunk)."""
        page = page or self.page
        page.goto(self.url + path)
        page.locator("#page-title").wait_for()
        return page

    def screenshot(self, name: str, page: Page | None = None) -> Path:
        path = self.shots / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path

    def axe(self, page: Page | None = None) -> list[dict[str, Any]]:
        """The serious and critical accessibility violations axe-core finds on the page now."""
        page = page or self.page
        # evaluate() runs outside the page's CSP, which rightly refuses inline scripts.
        page.evaluate(AXE.read_text())
        found: list[dict[str, Any]] = page.evaluate(
            """async () => {
                const result = await axe.run(document, {
                    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                });
                return result.violations
                    .filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
            }"""
        )
        return found


@contextmanager
def console_run(tmp_path: Path, *, owner: bool = True, **env: str) -> Iterator[ConsoleRun]:
    data = tmp_path / "data"
    shots = Path(os.environ.get("SEAMLINE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    init = run_seamline(["--data-dir", str(data), "init"])
    assert init.returncode == 0, init.stderr
    if owner:
        create_user(data, OWNER, "workspace-owner")
    # Started here rather than by `with Server(...)` for a longer wait: with several test runs
    # on two cores, the roles took 50-90 s to start (Server's own default is 60 s).
    server = Server(data, **{**LOOPBACK, **env}).start(timeout=START_TIMEOUT)
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                run = ConsoleRun(server, browser, page=None, shots=shots)  # type: ignore[arg-type]
                run.page = run.new_page()
                yield run
            finally:
                browser.close()
    finally:
        if server.process is not None:  # unless the test stopped it
            server.stop()

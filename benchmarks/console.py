"""The console's budgets: JavaScript for the first page (gzipped) and time until it is usable.

Starts a real `seamline serve`, signs in once, then loads the overview (`/`) in Debian's Chromium
RUNS times with a warm server and a cold browser cache each time, and prints:

- the JavaScript and CSS the first page fetched, as sent (gzip) and unpacked;
- the time from navigation start until the signed-in page is interactive: the navigation shown
  and the overview's heading rendered (the page's own data may still be loading);
- the same for the sign-in page (what a signed-out visitor sees first).

Budgets (issue 14): at most 400 KB gzipped of JS for the first page, interactive within 1 s.

    .venv/bin/python benchmarks/console.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page

from tests.console.browser import OWNER, PASSWORD, console_run

BUDGET_JS = 400 * 1024
BUDGET_SECONDS = 1.0


def load(page: Page, url: str, ready: str) -> tuple[float, dict[str, int]]:
    """Seconds until `ready` is visible after navigating to `url`, and bytes fetched by kind."""
    sizes = {"js": 0, "js_unpacked": 0, "css": 0, "requests": 0}
    seen: list[Any] = []

    def keep(response: Any) -> None:
        seen.append(response)

    page.on("response", keep)
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.locator(ready).first.wait_for(state="visible")
    took = time.perf_counter() - started
    page.remove_listener("response", keep)
    for response in seen:
        kind = response.headers.get("content-type", "")
        sizes["requests"] += 1
        if "javascript" in kind or "css" in kind:
            sent = response.request.sizes()["responseBodySize"]
            key = "js" if "javascript" in kind else "css"
            sizes[key] += sent
            if key == "js":
                sizes["js_unpacked"] += len(response.body())
    return took, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as temporary, console_run(Path(temporary)) as run:
        rows: dict[str, list[float]] = {"sign-in page": [], "overview (signed in)": []}
        sizes: dict[str, dict[str, int]] = {}
        for _ in range(runs):
            page = run.new_page()
            took, found = load(page, run.url + "/", "input[name=email]")
            rows["sign-in page"].append(took)
            sizes["sign-in page"] = found
            page.locator("input[name=email]").fill(OWNER)
            page.locator("input[name=password]").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("navigation", name="Main").wait_for()
            # A new page in the same (signed-in) context, but with an empty HTTP cache.
            fresh = page.context.new_page()
            fresh.route("**/*", lambda route: route.continue_())
            took, found = load(fresh, run.url + "/", "#page-title")
            rows["overview (signed in)"].append(took)
            sizes["overview (signed in)"] = found
            page.context.close()
    print(f"\nConsole first page, {runs} cold loads each, loopback, Debian Chromium headless\n")
    print(f"{'page':<22} {'median s':>9} {'p90 s':>7} {'JS gz KB':>9} {'JS KB':>7} {'CSS KB':>7}")
    for name, times in rows.items():
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        size = sizes[name]
        print(
            f"{name:<22} {statistics.median(times):>9.3f} {p90:>7.3f} "
            f"{size['js'] / 1024:>9.1f} {size['js_unpacked'] / 1024:>7.1f} "
            f"{size['css'] / 1024:>7.1f}"
        )
    worst_js = max(s["js"] for s in sizes.values())
    worst_time = max(statistics.median(t) for t in rows.values())
    print(
        f"\nbudgets: JS {worst_js / 1024:.1f} KB of {BUDGET_JS // 1024} KB gzipped "
        f"({'met' if worst_js <= BUDGET_JS else 'MISSED'}); interactive {worst_time:.3f} s of "
        f"{BUDGET_SECONDS:.0f} s ({'met' if worst_time <= BUDGET_SECONDS else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

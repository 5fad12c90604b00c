"""The unmodified analytics-next browser bundle, loaded from another origin, sends to Seamline."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.server import Server
from tests.e2e.stored import stored_events

JS = Path(__file__).parent / "js"
BROWSER = JS / "browser.mjs"
UMD = JS / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
JSON_COLUMNS = ("properties", "traits", "context", "integrations")

# The bundle as a site would use it. With Seamline's settings it loads no chunk; if a version
# did, it would ask Segment's CDN, which browser.mjs makes unresolvable, and the run fails.
PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Seamline browser test</title>
<link rel="icon" href="data:,">
<script src="/umd/index.js"></script>
</head>
<body>
<script>
(async () => {{
  try {{
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({{
      writeKey: {write_key},
      cdnURL: {seamline},
    }})
    await analytics.page()
    await analytics.track('Button Clicked', {{ button: 'signup', position: 3 }})
    await analytics.identify('user-42', {{ email: 'user-42@example.com', plan: 'trial' }})
    window.done = true
  }} catch (error) {{
    window.failed = String((error && error.stack) || error)
  }}
}})()
</script>
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """Serve ROOT over HTTP on a free loopback port: a second origin besides Seamline's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_site(root: Path, seamline_url: str, write_key: str) -> None:
    root.mkdir()
    (root / "umd").symlink_to(UMD, target_is_directory=True)
    page = PAGE.format(seamline=json.dumps(seamline_url), write_key=json.dumps(write_key))
    (root / "index.html").write_text(page)


def run_browser(page_url: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(BROWSER), page_url, "30000"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"browser.mjs failed:\n{done.stderr}\n{done.stdout}"
    requests: list[dict[str, Any]] = json.loads(done.stdout)["requests"]
    return requests


def parsed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) if k in JSON_COLUMNS and v else v for k, v in row.items()}


@pytest.mark.slow
def test_analytics_next_in_chromium_sends_page_track_identify(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Server(data_dir) as server:
        write_key = server.write_key
        write_site(tmp_path / "site", server.url, write_key)
        with static_site(tmp_path / "site") as site_url:
            requests = run_browser(f"{site_url}/index.html?from=e2e")
        assert server.stop() == 0

    # The SDK fetched its settings from Seamline and posted once to each short path (no retry),
    # cross-origin, in the order the page called.
    to_seamline = [r for r in requests if r["url"].startswith(server.url)]
    assert [(r["method"], urlsplit(r["url"]).path) for r in to_seamline] == [
        ("GET", f"/v1/projects/{write_key}/settings"),
        ("POST", "/v1/p"),
        ("POST", "/v1/t"),
        ("POST", "/v1/i"),
    ]
    for request in to_seamline:
        assert request["status"] == 200, request
        assert request["headers"]["access-control-allow-origin"] in (site_url, "*"), request
    assert all(r["url"].startswith((site_url, server.url)) for r in requests), requests

    rows = [parsed(row) for row in stored_events(data_dir)]
    by_type = {row["type"]: row for row in rows}
    assert len(rows) == 3 and by_type.keys() == {"page", "track", "identify"}, rows
    for row in rows:
        assert row["context"]["library"]["name"] == "analytics.js"
        assert row["context"]["page"]["url"] == f"{site_url}/index.html?from=e2e"
        assert row["context"]["page"]["path"] == "/index.html"
        assert row["context"]["page"]["search"] == "?from=e2e"
        assert "HeadlessChrome/" in row["context"]["userAgent"]
        assert row["anonymous_id"], row
        assert row["message_id"].startswith("ajs-next-"), row
        assert row["original_timestamp"] is not None and row["received_at"] is not None
    # One browser, one anonymous visitor across all three calls.
    assert len({row["anonymous_id"] for row in rows}) == 1

    page, track, identify = by_type["page"], by_type["track"], by_type["identify"]
    assert page["properties"]["url"] == f"{site_url}/index.html?from=e2e"
    assert page["properties"]["title"] == "Seamline browser test"
    assert track["event"] == "Button Clicked"
    assert track["properties"] == {"button": "signup", "position": 3}
    assert track["user_id"] is None and page["user_id"] is None
    assert identify["user_id"] == "user-42"
    assert identify["traits"] == {"email": "user-42@example.com", "plan": "trial"}

"""A new user's first hour, replayed against a real `seamline serve` (issue 11, items 6.1 to 6.11):
each step is something that tripped a first-time user, done the way the docs say."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server, run_cli
from tests.test_cli import cli

pytestmark = pytest.mark.slow

PLAN = """
tracking_plans:
  Shop:
    events:
      Order Completed: {properties: {total: {type: number}}}
sources:
  Development:
    tracking_plan: Shop
    schema_controls: {unplanned_events: quarantine}
"""
BAD_APPLY = """
destinations: {hook: {type: webhook}}
subscriptions:
  hook-orders: {destination: hook, action: send, mapping: {url: 'http://169.254.169.254/latest'}}
"""


def test_a_new_users_first_hour(tmp_path: Path) -> None:
    data = tmp_path / "seamline-data"

    # 6.5: a taken port is named before anything is printed or created.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = cli("--data-dir", str(data), "serve", "--port", str(taken.getsockname()[1]))
    assert busy.returncode == 2 and busy.stdout == ""
    assert "--port" in busy.stderr and "SEAMLINE_PORT" in busy.stderr

    # 6.4: a mistyped data dir is refused, naming the path.
    typo = tmp_path / "seamline-dat"
    counted = cli("--data-dir", str(typo), "events", "count")
    assert counted.returncode == 2 and str(typo) in counted.stderr
    assert not typo.exists()

    with Server(data) as server:
        key = server.write_key
        # 6.8: the banner's Python snippet is one line even though stdout is a file.
        banner = server.output.read_text()
        assert f"analytics.write_key = '{key}'; analytics.host = '{server.url}'" in banner

        token = run_cli(data, "tokens", "create", "--name", "me", "--json")["token"]
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})

        # 6.4: a token made in another data dir is "unknown", not "missing".
        assert cli("--data-dir", str(typo), "init").returncode == 0
        stray = run_cli(typo, "tokens", "create", "--name", "stray", "--json")["token"]
        refused = httpx.get(
            f"{server.url}/api/v1/held", headers={"Authorization": f"Bearer {stray}"}
        )
        assert refused.status_code == 401
        assert refused.json()["details"]["reason"] == "unknown_token"

        # 6.10: a second source named like the first is refused.
        again = cli("--data-dir", str(data), "sources", "create", "development")
        assert again.returncode == 2 and "already" in again.stderr

        # 6.11: an apply error names the resource and field.
        bad = tmp_path / "bad.yaml"
        bad.write_text(BAD_APPLY)
        applied = cli("--data-dir", str(data), "apply", "-f", str(bad), "--yes")
        assert applied.returncode == 2
        assert "subscriptions.hook-orders.mapping.url:" in applied.stderr

        # 6.1: a plan of events only quarantines unplanned tracks, never a login.
        plan = tmp_path / "plan.yaml"
        plan.write_text(PLAN)
        done = cli("--data-dir", str(data), "apply", "-f", str(plan), "--yes")
        assert done.returncode == 0, done.stderr
        time.sleep(1)  # the server picks changes up within half a second
        send = [
            {
                "type": "identify",
                "anonymousId": "phone",
                "userId": "ann",
                "traits": {"email": "Ann@Example.com"},
                "messageId": "n1",
            },
            {"type": "page", "anonymousId": "laptop", "name": "Home", "messageId": "n2"},
            {"type": "identify", "anonymousId": "laptop", "userId": "ann", "messageId": "n3"},
            {
                "type": "track",
                "userId": "ann",
                "event": "Order Completed",
                "properties": {"total": 30},
                "messageId": "n4",
            },
            {"type": "track", "userId": "ann", "event": "Unplanned Thing", "messageId": "n5"},
        ]
        for message in send:
            answer = httpx.post(f"{server.url}/v1/batch", auth=(key, ""), json={"batch": [message]})
            assert answer.status_code == 200, answer.text
        _settle(server)
        held = api.get("/api/v1/held").json()["data"]
        assert [h["message_id"] for h in held] == ["n5"]
        ids = _profile(server, token, "external_ids")["data"]
        assert {("anonymous_id", "phone"), ("anonymous_id", "laptop")} <= {
            (i["type"], i["id"]) for i in ids
        }

        # 6.3: the docs' curl examples send JSON without a content type.
        rerun = httpx.post(
            f"{server.url}/api/v1/held/rerun",
            content=json.dumps({"ids": [held[0]["id"]]}),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert rerun.status_code == 200, rerun.text

        # 6.2: computing an audience leaves traits it does not own alone.
        made = api.post(
            "/api/v1/audiences",
            json={
                "key": "buyers",
                "definition": {"condition": {"performed": {"event": "Order Completed"}}},
            },
        )
        assert made.status_code == 201, made.text
        _settle(server)
        traits = _profile(server, token, "traits")["traits"]
        assert traits["email"] == "Ann@Example.com" and traits["buyers"] is True
        api.close()

    # 6.9: `events tail --limit 5` prints five and exits.
    tail = subprocess.run(
        [*_seamline(), "--data-dir", str(data), "events", "tail", "--limit", "5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.strip().splitlines()) == 5


def _seamline() -> list[str]:
    from tests.e2e.server import SEAMLINE

    return SEAMLINE


def _profile(server: Server, token: str, what: str) -> Any:
    answer = httpx.get(
        f"{server.url}/v1/spaces/default/collections/users/profiles/user_id:ann/{what}",
        auth=(token, ""),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _settle(server: Server) -> None:
    """Wait until the pipeline has committed everything the log holds (twice in a row, since
    Engage appends its own messages)."""
    calm = 0
    for _ in range(300):
        metrics = httpx.get(f"{server.url}/metrics").text
        found = {
            line.split()[0]: float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith(("seamline_pipeline_committed_offset ", "seamline_log_end_offset "))
        }
        caught_up = found.get("seamline_pipeline_committed_offset", -1) >= found.get(
            "seamline_log_end_offset", 0
        )
        calm = calm + 1 if caught_up else 0
        if calm >= 3:
            return
        time.sleep(0.1)
    raise AssertionError("the pipeline did not catch up")

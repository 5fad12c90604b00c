"""An offline `seamline rebuild` replays the log into the stores, not into the destinations:
what was delivered before it is not delivered again, and delivery goes on after it."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.destinations.sink import Sink, sink
from tests.e2e.server import Server
from tests.test_cli import cli

pytestmark = pytest.mark.slow
EVENTS = 20
# The sink listens on loopback, which destinations reach only where the setting opens it.
LOOPBACK = {
    "SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]',
    "SEAMLINE_DELIVERY_POLL": "0.05",
}


def workspace_file(tmp_path: Path, url: str) -> Path:
    file = tmp_path / "workspace.yaml"
    file.write_text(
        f"""
destinations:
  hook: {{type: webhook}}
subscriptions:
  hook-all:
    destination: hook
    action: send
    trigger: 'type = "track"'
    mapping: {{url: "{url}/events", method: POST, data: {{"@path": "$."}}}}
"""
    )
    return file


def delivered(target: Sink) -> Counter[str]:
    return Counter(str(request.json()["messageId"]) for request in target.received)


def wait_for(target: Sink, message_ids: set[str], data: Path) -> None:
    """Until every id reached the sink and the outbox is empty (so nothing else is coming)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if message_ids <= set(delivered(target)):
            status = json.loads(
                cli("--data-dir", str(data), "destinations", "status", "--json").stdout
            )
            if not status["pending"]:
                return
        time.sleep(0.1)
    raise AssertionError(f"not delivered: {sorted(message_ids - set(delivered(target)))}")


def send(server: Server, message_ids: list[str]) -> None:
    batch = [
        {"type": "track", "userId": f"u{n % 3}", "event": "Bought", "messageId": message_id}
        for n, message_id in enumerate(message_ids)
    ]
    answer = httpx.post(
        f"{server.url}/v1/batch", json={"batch": batch}, auth=(server.write_key, "")
    )
    assert answer.status_code == 200, answer.text


def test_an_offline_rebuild_delivers_nothing_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("--data-dir", str(data), "init").returncode == 0
    with sink() as target:
        made = cli(
            "--data-dir",
            str(data),
            "apply",
            "-f",
            str(workspace_file(tmp_path, target.url)),
            "--yes",
            env=LOOPBACK,
        )
        assert made.returncode == 0, made.stderr
        before = [f"m{n}" for n in range(EVENTS)]
        with Server(data, **LOOPBACK) as server:
            send(server, before)
            wait_for(target, set(before), data)

        rebuilt = cli("--data-dir", str(data), "rebuild", env=LOOPBACK)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert f"rebuilt from {EVENTS} log records" in rebuilt.stdout

        with Server(data, **LOOPBACK) as server:
            send(server, ["after"])  # delivery still works: not simply switched off
            # The outbox delivers oldest first: anything the rebuild queued again comes first.
            wait_for(target, {"after"}, data)
        assert delivered(target) == Counter({**dict.fromkeys(before, 1), "after": 1})

"""Delivery under faults with a real server: the tool fails for a while, throttles, hangs and
refuses some payloads, and Seamline is killed with SIGKILL mid-delivery. Afterwards every
event is delivered at least once (duplicates counted and bounded), the dead letters hold
exactly the refused ones, and nothing else is missing."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.destinations.sink import Received, Reply, sink, webhook_to
from tests.e2e.server import Server
from tests.test_cli import cli

pytestmark = pytest.mark.slow
EVENTS = 300
REFUSED = {f"m{n}" for n in range(0, EVENTS, 37)}  # the tool answers 400 to these


def workspace_file(tmp_path: Path, url: str) -> Path:
    file = tmp_path / "workspace.yaml"
    file.write_text(webhook_to(url))
    return file


def test_every_event_is_delivered_despite_faults_and_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    failing_until = time.monotonic() + 2.0
    lock = threading.Lock()
    served = Counter[str]()
    accepted: set[str] = set()

    def tool(request: Received) -> Reply | None:
        message_id = request.json()["messageId"]
        with lock:
            served[message_id] += 1
            n = sum(served.values())
        if message_id in REFUSED:
            return Reply(400, body={"error": "refused"})
        if time.monotonic() < failing_until:
            return Reply(503)  # down for a while
        if n % 25 == 0:
            return Reply(429, headers={"Retry-After": "1"})
        with lock:
            accepted.add(message_id)
        if n % 41 == 0:
            return Reply(200, delay=2.0)  # hangs past the client timeout: sent again later
        return None

    # The tool listens on loopback, which destinations reach only where the setting opens it.
    loopback = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
    assert cli("--data-dir", str(data), "init").returncode == 0
    with sink() as target:
        target.check = tool
        made = cli(
            "--data-dir",
            str(data),
            "apply",
            "-f",
            str(workspace_file(tmp_path, target.url)),
            "--yes",
            env=loopback,
        )
        assert made.returncode == 0, made.stderr
        env = {"SEAMLINE_DELIVERY_TIMEOUT": "1", "SEAMLINE_DELIVERY_POLL": "0.05", **loopback}
        server = Server(data, **env).start()
        batch = [
            {"type": "track", "userId": f"u{n % 9}", "event": "Crash", "messageId": f"m{n}"}
            for n in range(EVENTS)
        ]
        answer = httpx.post(
            f"{server.url}/v1/batch", json={"batch": batch}, auth=(server.write_key, "")
        )
        assert answer.status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(served.values()) < EVENTS // 3:
            time.sleep(0.05)
        server.kill()  # mid-delivery: some rows are leased, some retried, some not yet sent
        server = Server(data, port=server.port, **env).start()
        try:
            deadline = time.monotonic() + 120
            status: dict[str, object] = {}
            while time.monotonic() < deadline:
                done = cli("--data-dir", str(data), "destinations", "status", "--json")
                status = json.loads(done.stdout)
                if not status["pending"]:
                    break
                time.sleep(0.5)
            assert not status["pending"], status
        finally:
            server.stop()
        missing = {f"m{n}" for n in range(EVENTS)} - REFUSED - accepted
        assert not missing, (sorted(missing)[:10], status)
        assert status["dead_letters"] == len(REFUSED)
        duplicates = sum(served.values()) - len(served)
        # Retries of failed attempts and re-sends after the kill: bounded, not unbounded.
        assert duplicates < EVENTS * 3, duplicates

"""Roles as processes, against a real `seamline serve` (issue 12, part 1): the CLI works while
the server runs, SIGKILL of each role under load loses nothing (the supervisor restarts it),
and SIGTERM drains the log and the outbox before the supervisor exits 0."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from seamline.destinations.delivery import CLAIM_LIMIT
from tests.destinations.sink import Sink, sink
from tests.e2e.server import Server, run_cli
from tests.e2e.stored import stored_events
from tests.test_cli import cli

pytestmark = pytest.mark.slow
T = TypeVar("T")
# Destinations reach loopback (the sink) only where this setting opens it.
LOOPBACK = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
HOOK = """
destinations:
  hook: {{type: webhook}}
subscriptions:
  hook-tracks:
    destination: hook
    action: send
    trigger: 'type = "track"'
    mapping: {{url: "{url}/events", method: POST, data: {{"@path": "$."}}}}
"""


def test_the_cli_works_while_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Server(data, SEAMLINE_COLLECT_WORKERS="1") as server:
        key = server.write_key
        sent: list[dict[str, Any]] = [
            {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com"}},
            {"type": "track", "userId": "ann", "event": "Order Completed"},
            {"type": "track", "userId": "bob", "event": "Page Viewed"},
        ]
        for n, message in enumerate(sent):
            path = f"/v1/{message.pop('type')}"
            answer = httpx.post(
                server.url + path, auth=(key, ""), json={**message, "messageId": f"c{n}"}
            )
            assert answer.status_code == 200, answer.text
        _settle(server.url)
        assert _json(data, "events", "count", "--json") == {"accepted": 3, "stored": 3}

        buyers = tmp_path / "buyers.yaml"
        buyers.write_text("condition: {performed: {event: Order Completed}}\n")
        assert _ok(data, "audiences", "create", "buyers", "-f", str(buyers))
        estimate = _json(data, "audiences", "estimate", "buyers", "-f", str(buyers), "--json")
        assert estimate["size"] == 1
        listed = _json(data, "audiences", "list", "--json")
        assert [(a["key"], a["size"]) for a in listed] == [("buyers", 1)]

        # A plan that blocks unplanned events holds one; allowed afterwards, a re-run stores it.
        plan = tmp_path / "plan.yaml"
        plan.write_text(_plan("block"))
        assert _ok(data, "apply", "-f", str(plan), "--yes")
        attempts = iter(range(20))
        held = _until(lambda: _send_unplanned(server, key, next(attempts)), bool)
        plan.write_text(_plan("allow"))
        assert _ok(data, "apply", "-f", str(plan), "--yes")
        assert _ok(data, "held", "rerun")
        ids = {h["message_id"] for h in held}
        stored = _until(lambda: Counter(_stored_ids(data)), lambda found: ids <= set(found))
        assert all(stored[i] == 1 for i in ids), stored

        status = _json(data, "status", "--json")
        assert status["processes"] and all(p["running"] for p in status["processes"])
        assert {p["role"] for p in status["processes"]} == {"collect", "pipeline", "deliver"}
        assert status["partitions"] and status["pending"] == 0 and status["dead_letters"] == 0


def test_sigkill_of_each_role_under_load_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sink() as target:
        _with_webhook(tmp_path, data, target)
        server = Server(
            data, SEAMLINE_COLLECT_WORKERS="2", SEAMLINE_DELIVERY_POLL="0.05", **LOOPBACK
        ).start()
        try:
            sender = Sender(server.url, server.write_key)
            sender.start()
            for name in ("collect-0", "pipeline-0", "deliver-0"):
                _until(lambda: len(sender.acked), lambda n: n > len(sender.acked_before) + 50)
                sender.acked_before = list(sender.acked)
                killed = _roles(data)[name]["pid"]
                os.kill(killed, signal.SIGKILL)
                _until(lambda n=name: _roles(data)[n], lambda p, k=killed: _restarted(p, k))
            restarts = _until(lambda: _metrics(server.url), _all_restarted)
            sender.stop.set()
            sender.join(30)
            _settle(server.url)
            stored = Counter(
                row["message_id"] for row in stored_events(data) if row["type"] == "track"
            )
            delivered = _until(
                lambda: Counter(r.json()["messageId"] for r in list(target.received)),
                lambda got: set(stored) <= set(got),
                timeout=90,  # rows a killed deliver had claimed wait out their lease (60 s)
            )
        finally:
            code = server.stop()
    assert code == 0
    assert len(sender.acked) > 200, "the sender should have had many requests acknowledged"
    twice = [m for m, n in stored.items() if n > 1]
    assert not twice, f"stored more than once: {twice[:10]}"
    missing = set(sender.acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:10]}"
    duplicates = sum(delivered.values()) - len(delivered)
    # Only the claim the killed deliver process held can be sent twice.
    assert duplicates <= CLAIM_LIMIT, (duplicates, restarts, sender.failures)


def test_sigterm_drains_the_log_and_the_outbox_then_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sink() as target:
        _with_webhook(tmp_path, data, target)
        server = Server(data, SEAMLINE_COLLECT_WORKERS="1", **LOOPBACK).start()
        key = server.write_key
        sent: list[str] = []
        with httpx.Client(base_url=server.url, auth=(key, "")) as client:
            for n in range(20):
                batch = [
                    {"type": "track", "userId": f"u{n}", "event": "Burst", "messageId": f"b{n}-{i}"}
                    for i in range(10)
                ]
                assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
                sent += [m["messageId"] for m in batch]
        try:
            code = server.stop(timeout=120)
        finally:
            if server.process is not None:
                server.kill()
        assert code == 0
        stored = [row["message_id"] for row in stored_events(data)]
        delivered = {r.json()["messageId"] for r in target.received}
    assert sorted(stored) == sorted(sent)
    assert set(sent) <= delivered, f"{len(set(sent) - delivered)} stored events not delivered"


class Sender(threading.Thread):
    """Sends single tracks and batches of 5 with unique messageIds until stopped, retrying a
    failed request as an SDK does; records the ids of every request answered 200."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.acked: list[str] = []
        self.acked_before: list[str] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        # A connection per request, so the kernel spreads them over every collect worker.
        close = {"Connection": "close"}
        with httpx.Client(
            base_url=self.url, auth=(self.key, ""), headers=close, timeout=5
        ) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                ids = [f"k{n}-{i}" for i in range(1 if n % 2 else 5)]
                messages = [
                    {"type": "track", "userId": f"u{n % 13}", "event": "Load", "messageId": m}
                    for m in ids
                ]
                path, body = (
                    ("/v1/track", messages[0])
                    if len(ids) == 1
                    else ("/v1/batch", {"batch": messages})
                )
                for _attempt in range(10):
                    try:
                        if client.post(path, json=body).status_code == 200:
                            self.acked.extend(ids)
                            break
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    time.sleep(0.1)
                time.sleep(0.02)


def _with_webhook(tmp_path: Path, data: Path, target: Sink) -> None:
    file = tmp_path / "hook.yaml"
    file.write_text(HOOK.format(url=target.url))
    assert cli("--data-dir", str(data), "init").returncode == 0
    done = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes", env=LOOPBACK)
    assert done.returncode == 0, done.stderr


def _plan(unplanned: str) -> str:
    return f"""
tracking_plans:
  Shop:
    events:
      Order Completed: {{}}
sources:
  Development:
    tracking_plan: Shop
    schema_controls: {{unplanned_events: {unplanned}}}
"""


def _send_unplanned(server: Server, key: str, attempt: int) -> list[Any]:
    """Send an unplanned event; what is held (nothing until the pipeline has the plan)."""
    body = {"userId": "ann", "event": "Surprise", "messageId": f"surprise-{attempt}"}
    assert httpx.post(f"{server.url}/v1/track", auth=(key, ""), json=body).status_code == 200
    _settle(server.url)
    held: list[Any] = run_cli(server.data_dir, "held", "list", "--json")
    return held


def _stored_ids(data: Path) -> list[str]:
    return [str(row["message_id"]) for row in stored_events(data)]


def _ok(data: Path, *args: str) -> bool:
    done = cli("--data-dir", str(data), *args)
    assert done.returncode == 0, (args, done.stderr)
    return True


def _json(data: Path, *args: str) -> Any:
    done = cli("--data-dir", str(data), *args)
    assert done.returncode == 0, (args, done.stderr)
    return json.loads(done.stdout)


def _roles(data: Path) -> dict[str, dict[str, Any]]:
    found = json.loads((data / "run" / "roles.json").read_text())
    return {f"{p['role']}-{p['index']}": p for p in found["processes"]}


def _restarted(process: dict[str, Any], killed: int) -> bool:
    return bool(process["running"] and process["pid"] != killed and process["restarts"] >= 1)


def _metrics(url: str) -> dict[str, float]:
    """The seamline_ series of one collect worker's /metrics ({} while none answers)."""
    found: dict[str, float] = {}
    try:
        text = httpx.get(f"{url}/metrics").text
    except httpx.HTTPError:
        return found
    for line in text.splitlines():
        if line.startswith("seamline_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _all_restarted(metrics: dict[str, float]) -> bool:
    """Every role restarted once at least, and as many processes running as at the start."""
    running = {"collect": 2, "pipeline": 1, "deliver": 1}
    return all(
        metrics.get(f'seamline_role_restarts{{role="{role}"}}', 0) >= 1
        and metrics.get(f'seamline_role_processes{{role="{role}"}}') == count
        for role, count in running.items()
    )


def _settle(url: str) -> None:
    """Until the pipeline has committed all the log holds, three looks in a row."""
    calm = 0

    def caught_up(metrics: dict[str, float]) -> bool:
        nonlocal calm
        committed = metrics.get("seamline_pipeline_committed_offset", -1)
        done = committed >= metrics.get("seamline_log_end_offset", 0)
        calm = calm + 1 if done else 0
        return calm >= 3

    _until(lambda: _metrics(url), caught_up, timeout=90)


def _until(look: Callable[[], T], done: Callable[[T], object], timeout: float = 60.0) -> T:
    """Look until `done(found)`; the last thing found."""
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s; last seen: {found!r}")
        time.sleep(0.2)

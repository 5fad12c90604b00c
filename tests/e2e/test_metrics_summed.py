"""`/metrics` of a real `seamline serve` with two collect workers sums every process of the data
directory: each scrape, whichever worker answers, shows the ingest counts of both workers, the
pipeline's and the deliver process's counts; a SIGKILLed worker's counts stay in the totals."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.destinations.sink import sink
from tests.e2e.server import Server, run_cli
from tests.e2e.test_roles import HOOK, LOOPBACK
from tests.test_cli import cli

pytestmark = pytest.mark.slow
T = TypeVar("T")
SENT = 30  # unique events, one request (and connection) each, spread over both workers
MORE = 7  # sent after a collect worker was SIGKILLed and restarted

ACCEPTED = 'seamline_ingest_messages_total{outcome="accepted"}'
PIPELINE = "seamline_pipeline_messages_total"
DUPLICATES = 'seamline_pipeline_dropped_total{reason="duplicate"}'
DELIVERED = 'seamline_deliveries_total{destination="hook",outcome="delivered"}'
COLLECTORS = 'seamline_role_processes{role="collect"}'


def test_every_scrape_sums_the_counts_of_every_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with sink() as target:
        hook = tmp_path / "hook.yaml"
        hook.write_text(HOOK.format(url=target.url))
        assert cli("--data-dir", str(data), "init").returncode == 0
        done = cli("--data-dir", str(data), "apply", "-f", str(hook), "--yes", env=LOOPBACK)
        assert done.returncode == 0, done.stderr
        server = Server(
            data, SEAMLINE_COLLECT_WORKERS="2", SEAMLINE_DELIVERY_POLL="0.05", **LOOPBACK
        )
        with server:
            key = server.write_key
            # /readyz answers once one worker listens; under load the other may still be
            # starting, and the kernel spreads connections over bound sockets only. A worker
            # writes its snapshot as its app starts, after it has bound the port.
            _until(lambda: len(_collect_snapshots(data)), lambda n: n == 2)
            _send(server.url, key, [f"m{n}" for n in range(SENT)] + ["m0"])  # m0 twice
            _until(lambda: _stored(data), lambda n: n == SENT)
            _until(lambda: len(target.received), lambda n: n >= SENT)
            want = {ACCEPTED: SENT + 1, PIPELINE: SENT, DUPLICATES: 1, DELIVERED: SENT}
            # Another process's counts reach a scrape within a second (its snapshot).
            _until(lambda: _scrape(server.url), lambda found: _has(found, want))
            for _ in range(12):
                found = _scrape(server.url)
                assert _has(found, want), found
                assert found[COLLECTORS] == 2  # computed at scrape time, not summed
            snapshots = sorted((data / "run" / "metrics").glob("*.json"))
            roles = sorted(path.name.split("-")[0] for path in snapshots)
            assert roles == ["collect", "collect", "deliver", "pipeline"], snapshots
            assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in snapshots)
            # Both workers took requests, so a worker alone could not show the total.
            per_worker = [_accepted_in(path) for path in snapshots if "collect" in path.name]
            assert all(0 < n < SENT + 1 for n in per_worker), per_worker

            # A killed worker's counts stay; its replacement adds to them from zero.
            killed = _processes(data)["collect-0"]
            os.kill(killed, signal.SIGKILL)
            _until(lambda: _processes(data)["collect-0"], lambda pid: pid not in (killed, None))
            _until(lambda: _ready(server.url), bool)
            for _ in range(6):
                found = _scrape(server.url)
                assert found[ACCEPTED] == SENT + 1, found
            _send(server.url, key, [f"after{n}" for n in range(MORE)])
            _until(lambda: _stored(data), lambda n: n == SENT + MORE)
            want = {ACCEPTED: SENT + 1 + MORE, PIPELINE: SENT + MORE}
            _until(lambda: _scrape(server.url), lambda found: _has(found, want))
            for _ in range(6):
                assert _has(_scrape(server.url), want)
            # Delivered before the sink closes: the next server has nothing to retry.
            _until(lambda: len(target.received), lambda n: n >= SENT + MORE)
        # A new `seamline serve` starts its counters from zero (a reset Prometheus expects).
        with server:
            assert _scrape(server.url)[ACCEPTED] == 0


def _send(url: str, key: str, ids: list[str]) -> None:
    # A connection per request, so the kernel spreads them over both collect workers.
    with httpx.Client(base_url=url, auth=(key, ""), headers={"Connection": "close"}) as client:
        for message_id in ids:
            body = {"userId": "ann", "event": "Counted", "messageId": message_id}
            answer = client.post("/v1/track", json=body)
            assert answer.status_code == 200, answer.text


def _stored(data: Path) -> int:
    return int(run_cli(data, "events", "count", "--json")["stored"])


def _scrape(url: str) -> dict[str, float]:
    """The seamline_ series of whichever worker answers."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("seamline_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def _has(found: dict[str, float], want: dict[str, int]) -> bool:
    return all(found.get(name) == value for name, value in want.items())


def _accepted_in(snapshot: Path) -> float:
    """The accepted count one process wrote to its snapshot."""
    families = json.loads(snapshot.read_text())["families"]
    return sum(
        value
        for name, _kind, _help, samples in families
        if name == "seamline_ingest_messages"
        for _sample, labels, value in samples
        if labels == {"outcome": "accepted"}
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _processes(data: Path) -> dict[str, int | None]:
    found: dict[str, Any] = json.loads((data / "run" / "roles.json").read_text())
    return {f"{p['role']}-{p['index']}": p["pid"] for p in found["processes"]}


def _collect_snapshots(data: Path) -> list[Path]:
    return sorted((data / "run" / "metrics").glob("collect-*.json"))


def _until(look: Callable[[], T], done: Callable[[T], object], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = look()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s; last seen: {found!r}")
        time.sleep(0.2)

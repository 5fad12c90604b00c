"""Crash safety: a server killed with SIGKILL loses no acknowledged message and stores none twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, run_cli
from tests.e2e.stored import stored_events

pytestmark = pytest.mark.slow


def send_until_refused(
    url: str, key: str, prefix: str, acked: list[str], stop: threading.Event
) -> None:
    """Send 10-message batches until the server stops answering; record the acknowledged ids."""
    with httpx.Client(base_url=url, auth=(key, ""), timeout=5) as client:
        n = 0
        while not stop.is_set():
            ids = [f"{prefix}-{n}-{i}" for i in range(10)]
            batch = [
                {
                    "type": "track",
                    "userId": f"u{n % 7}",
                    "event": "Crash Test",
                    "messageId": m,
                    "properties": {"n": n},
                }
                for m in ids
            ]
            try:
                answer = client.post("/v1/batch", json={"batch": batch})
            except httpx.HTTPError:
                return
            if answer.status_code == 200:
                acked.extend(ids)
            n += 1


def test_sigkill_while_sending_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    acked: list[str] = []
    server = Server(data).start()
    key = server.write_key
    for round_ in range(3):
        stop = threading.Event()
        senders = [
            threading.Thread(
                target=send_until_refused, args=(server.url, key, f"r{round_}s{s}", acked, stop)
            )
            for s in range(3)
        ]
        for sender in senders:
            sender.start()
        time.sleep(1.0)
        server.kill()  # no warning: mid-request, mid-fsync, mid-pipeline batch
        stop.set()
        for sender in senders:
            sender.join(10)
        server = Server(data, port=server.port).start()
    # Resend some acknowledged messages after the crashes: dedup must hold across restarts.
    resend = acked[:50]
    answer = httpx.post(
        f"{server.url}/v1/batch",
        auth=(key, ""),
        json={
            "batch": [
                {"type": "track", "userId": "u", "event": "Crash Test", "messageId": m}
                for m in resend
            ]
        },
    )
    assert answer.status_code == 200
    assert server.stop() == 0

    assert len(acked) > 300, "the senders should have had many batches acknowledged"
    stored = [row["message_id"] for row in stored_events(data)]
    assert len(stored) == len(set(stored)), "a message was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages were lost"
    counts = run_cli(data, "events", "count", "--json")
    assert counts["stored"] == len(stored)
    assert counts["accepted"] >= len(acked) + len(resend)


def test_the_same_message_id_across_a_restart_is_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = {"userId": "u1", "event": "Once", "messageId": "fixed-id-1"}
    with Server(data) as server:
        key = server.write_key
        assert httpx.post(f"{server.url}/v1/track", auth=(key, ""), json=body).status_code == 200
        assert httpx.post(f"{server.url}/v1/track", auth=(key, ""), json=body).status_code == 200
    with Server(data) as server:
        assert httpx.post(f"{server.url}/v1/track", auth=(key, ""), json=body).status_code == 200
        other = {**body, "messageId": "fixed-id-2"}
        assert httpx.post(f"{server.url}/v1/track", auth=(key, ""), json=other).status_code == 200
    rows = stored_events(data)
    assert sorted(row["message_id"] for row in rows) == ["fixed-id-1", "fixed-id-2"]
    assert run_cli(data, "events", "count", "--json") == {"accepted": 4, "stored": 2}

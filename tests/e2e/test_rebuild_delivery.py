"""`seamline rebuild`, offline or beside a running server, replays the log into the stores, not into the destinations:
what was delivered before it is not delivered again, Engage announces nothing again, and
delivery goes on after it."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.destinations.sink import Sink, sink, webhook_to
from tests.e2e.server import Server
from tests.test_cli import cli

pytestmark = pytest.mark.slow
# The sink listens on loopback, which destinations reach only where the setting opens it.
ENV = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]', "SEAMLINE_DELIVERY_POLL": "0.05"}


def workspace_file(tmp_path: Path, url: str) -> Path:
    file = tmp_path / "workspace.yaml"
    audience = 'audiences:\n  pros: {condition: {trait: {name: plan, op: "=", value: pro}}}\n'
    file.write_text(audience + webhook_to(url))
    return file


def prepare(tmp_path: Path, data: Path, target: Sink) -> None:
    """A data directory whose workspace has the audience and the webhook to `target`."""
    assert cli("--data-dir", str(data), "init").returncode == 0
    file = workspace_file(tmp_path, target.url)
    made = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes", env=ENV)
    assert made.returncode == 0, made.stderr


def delivered(target: Sink) -> Counter[str]:
    """Deliveries per message: Engage's (`engage-…` ids) by event name."""
    found = Counter[str]()
    for request in target.received:
        body = request.json()
        message_id = str(body["messageId"])
        found[body["event"] if message_id.startswith("engage-") else message_id] += 1
    return found


def wait_for(target: Sink, names: set[str], data: Path) -> None:
    """Until each name reached the sink and the outbox is empty (so nothing else is coming)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if names <= set(delivered(target)):
            status = json.loads(
                cli("--data-dir", str(data), "destinations", "status", "--json").stdout
            )
            if not status["pending"]:
                return
        time.sleep(0.1)
    raise AssertionError(f"not delivered: {sorted(names - set(delivered(target)))}")


def post(server: Server, batch: list[dict[str, object]]) -> None:
    answer = httpx.post(
        f"{server.url}/v1/batch", json={"batch": batch}, auth=(server.write_key, "")
    )
    assert answer.status_code == 200, answer.text


def deliveries_around_a_rebuild(
    tmp_path: Path, before: Callable[[Server], None], expected: set[str], **rebuild_env: str
) -> Counter[str]:
    """Run `before` against a server until `expected` is delivered, stop it, rebuild, start it
    again and send one more event; returns every delivery the sink saw."""
    data = tmp_path / "data"
    with sink() as target:
        prepare(tmp_path, data, target)
        with Server(data, **ENV) as server:
            before(server)
            wait_for(target, expected, data)

        rebuilt = cli("--data-dir", str(data), "rebuild", env={**ENV, **rebuild_env})
        assert rebuilt.returncode == 0, rebuilt.stderr

        with Server(data, **ENV) as server:
            # Delivery still works: not simply switched off.
            post(server, [{"type": "track", "userId": "u0", "event": "B", "messageId": "after"}])
            # The outbox delivers oldest first: anything the rebuild queued again comes first.
            wait_for(target, {"after"}, data)
        return delivered(target)


def test_an_offline_rebuild_delivers_nothing_twice(tmp_path: Path) -> None:
    sent = [f"m{n}" for n in range(20)]

    def send(server: Server) -> None:
        post(
            server,
            [
                {"type": "track", "userId": f"u{n % 3}", "event": "Bought", "messageId": m}
                for n, m in enumerate(sent)
            ],
        )

    found = deliveries_around_a_rebuild(tmp_path, send, set(sent))
    assert found == Counter({**dict.fromkeys(sent, 1), "after": 1})


def test_an_offline_rebuild_announces_no_audience_change_again(tmp_path: Path) -> None:
    """Ada joins `pros` when her plan becomes pro: one Audience Entered. The replay, a record
    at a time, sees her plan free first; announcing what it sees would exit and re-enter her."""

    def steps(server: Server) -> None:
        post(server, [{"type": "identify", "userId": "ada", "traits": {"plan": "free"}}])
        post(server, [{"type": "track", "userId": "ada", "event": "Bought", "messageId": "t1"}])
        post(server, [{"type": "identify", "userId": "ada", "traits": {"plan": "pro"}}])

    found = deliveries_around_a_rebuild(
        tmp_path, steps, {"t1", "Audience Entered"}, SEAMLINE_PIPELINE_BATCH_SIZE="1"
    )
    assert found == Counter({"t1": 1, "Audience Entered": 1, "after": 1})


def test_an_online_rebuild_announces_and_delivers_nothing_again(tmp_path: Path) -> None:
    """The same steps, rebuilt beside the running server: the shadow replays (a record at a
    time) only what the live pipeline announced and routed already."""
    data = tmp_path / "data"
    with sink() as target:
        prepare(tmp_path, data, target)
        with Server(data, **ENV) as server:
            post(server, [{"type": "identify", "userId": "ada", "traits": {"plan": "free"}}])
            post(server, [{"type": "track", "userId": "ada", "event": "Bought", "messageId": "t1"}])
            post(server, [{"type": "identify", "userId": "ada", "traits": {"plan": "pro"}}])
            wait_for(target, {"t1", "Audience Entered"}, data)
            rebuilt = cli(
                "--data-dir", str(data), "rebuild", env={**ENV, "SEAMLINE_PIPELINE_BATCH_SIZE": "1"}
            )
            assert rebuilt.returncode == 0, rebuilt.stderr
            post(server, [{"type": "track", "userId": "ada", "event": "B", "messageId": "after"}])
            wait_for(target, {"after"}, data)
        assert delivered(target) == Counter({"t1": 1, "Audience Entered": 1, "after": 1})

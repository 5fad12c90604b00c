"""`seamline events tail` works like `tail`: the last N and exit, or --follow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import SEAMLINE, Server
from tests.test_cli import cli


def events(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["event"] for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_tail_prints_the_last_events_and_exits_unless_told_to_follow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Server(data) as server:
        sent = [{"type": "track", "userId": "u", "event": f"E{n}"} for n in range(12)]
        answer = httpx.post(
            f"{server.url}/v1/batch", auth=(server.write_key, ""), json={"batch": sent}
        )
        assert answer.status_code == 200
        tail = [*SEAMLINE, "--data-dir", str(data), "events", "tail"]
        # `tail --limit 5` used to wait for 5 new events; now it prints the last 5 and exits
        # (the timeout is what would fail if it kept following).
        last = subprocess.run([*tail, "--limit", "5"], capture_output=True, text=True, timeout=30)
        assert events(last) == ["E7", "E8", "E9", "E10", "E11"]
        assert events(cli("--data-dir", str(data), "events", "tail")) == [
            f"E{n}" for n in range(2, 12)
        ]  # 10 by default
        first = cli("--data-dir", str(data), "events", "tail", "--from-start", "-n", "3")
        assert events(first) == ["E0", "E1", "E2"]
        assert len(events(cli("--data-dir", str(data), "events", "tail", "--from-start"))) == 12
        follow = subprocess.Popen([*tail, "-f", "-n", "1"], stdout=subprocess.PIPE, text=True)
        try:
            assert follow.stdout is not None
            assert json.loads(follow.stdout.readline())["event"] == "E11"
            httpx.post(
                f"{server.url}/v1/track",
                auth=(server.write_key, ""),
                json={"userId": "u", "event": "Later"},
            )
            assert json.loads(follow.stdout.readline())["event"] == "Later"
            assert follow.poll() is None  # still following
        finally:
            follow.kill()
            follow.communicate()  # reaps it and closes the pipe


def test_limit_with_from_start_and_follow_is_refused(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert cli("--data-dir", data, "init").returncode == 0
    done = cli("--data-dir", data, "events", "tail", "--from-start", "--follow", "--limit", "3")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "--limit" in line and "--follow" in line
    assert cli("--data-dir", data, "events", "tail").stdout == ""  # an empty log: nothing

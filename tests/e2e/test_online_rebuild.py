"""`seamline rebuild` beside a running `seamline serve`: the shadow store is replayed while
events keep arriving, the pipeline pauses for the catch-up and the swap, and afterwards every
accepted message is stored once, with the profiles and merges the log makes. Ctrl-C during the
shadow phase changes nothing live."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from seamline.config import Settings
from seamline.ops.inspect import count_events
from seamline.roles.pause import pause_requested
from tests.e2e.server import SEAMLINE, Server, run_cli
from tests.e2e.stored import stored_events


def _post(server: Server, messages: list[dict[str, Any]]) -> None:
    answer = httpx.post(
        f"{server.url}/v1/batch", auth=(server.write_key, ""), json={"batch": messages}, timeout=30
    )
    assert answer.status_code == 200, answer.text


def _caught_up(data: Path, timeout: float = 30.0) -> int:
    """Wait until every accepted message is stored (as `events count` says); how many."""
    deadline = time.monotonic() + timeout
    while True:
        counts = count_events(Settings(data_dir=data))
        if counts["stored"] == counts["accepted"]:
            return int(counts["stored"])
        assert time.monotonic() < deadline, f"not caught up: {counts}"
        time.sleep(0.2)


def _profiles(data: Path) -> dict[str, str]:
    return {row["message_id"]: row["profile_id"] for row in stored_events(data)}


def _merges(data: Path) -> set[tuple[str, str, str]]:
    connection = sqlite3.connect(data / "state.db")
    try:
        rows = connection.execute("SELECT from_profile, into_profile, message_id FROM merges")
        return {(str(a), str(b), str(c)) for a, b, c in rows}
    finally:
        connection.close()


def _rebuild(data: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SEAMLINE, "--data-dir", str(data), "rebuild"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _pad(i: int) -> dict[str, Any]:
    return {"type": "track", "userId": f"pad{i % 50}", "event": "Pad", "messageId": f"x{i}"}


class Sender(threading.Thread):
    """Posts single tracks until stopped, remembering every answer."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self._url = f"{server.url}/v1/track"
        self._key = server.write_key
        self._halt = threading.Event()
        self.statuses: list[int] = []

    def run(self) -> None:
        with httpx.Client(auth=(self._key, ""), timeout=30) as client:
            while not self._halt.is_set():
                n = len(self.statuses)
                answer = client.post(
                    self._url,
                    json={"userId": f"u{n % 7}", "event": "Tick", "messageId": f"s{n}"},
                )
                self.statuses.append(answer.status_code)
                time.sleep(0.005)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


class Reader(threading.Thread):
    """Counts the stored events, as `events count` does, until stopped."""

    def __init__(self, data: Path) -> None:
        super().__init__(daemon=True)
        self._settings = Settings(data_dir=data)
        self._halt = threading.Event()
        self.seen: list[int] = []

    def run(self) -> None:
        while not self._halt.is_set():
            self.seen.append(int(count_events(self._settings)["stored"] or 0))
            time.sleep(0.02)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


def _people(count: int) -> list[dict[str, Any]]:
    """Each person browses anonymously, then logs in: two profiles that the login merges."""
    messages: list[dict[str, Any]] = []
    for k in range(count):
        messages += [
            {"type": "page", "anonymousId": f"a{k}", "messageId": f"p{k}"},
            {"type": "track", "userId": f"u{k}", "event": "Signed", "messageId": f"t{k}"},
            {"type": "identify", "anonymousId": f"a{k}", "userId": f"u{k}", "messageId": f"i{k}"},
        ]
    return messages


def test_a_rebuild_beside_the_server_loses_nothing_and_keeps_profiles(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Server(data) as server:
        _post(server, _people(10))
        _caught_up(data)
        before, merges = _profiles(data), _merges(data)
        assert len(merges) == 10

        sender, reader = Sender(server), Reader(data)
        sender.start()
        reader.start()
        while len(sender.statuses) < 20:  # the rebuild begins with events arriving
            time.sleep(0.05)
        done = _rebuild(data)
        out, err = done.communicate(timeout=60)
        time.sleep(0.5)  # and events still arrive after the swap
        sender.stop()
        reader.stop()

        assert done.returncode == 0, err
        # Readers never saw a half-built store: the count only grew (the swap is one
        # transaction; an emptied or half-listed store would have shown fewer events).
        assert reader.seen and reader.seen[0] >= len(before)
        assert all(a <= b for a, b in zip(reader.seen, reader.seen[1:], strict=False))
        assert "beside the running server" in out
        assert set(sender.statuses) == {200}
        stored = _caught_up(data)
        after = _profiles(data)
        # Every accepted message is stored exactly once …
        assert stored == len(after) == len(before) + len(sender.statuses)
        # … with the profiles and merges the same messages made before the rebuild.
        assert {m: after[m] for m in before} == before
        assert _merges(data) == merges
        assert not (data / "rebuild").exists() and not pause_requested(data)


def test_ctrl_c_changes_nothing_live_and_a_complete_rebuild_applies_an_unmerge(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with Server(data) as server:
        _post(
            server,
            [
                {
                    "type": "page",
                    "anonymousId": "rb-web",
                    "context": {"traits": {"email": "rb@x.io"}},
                    "messageId": "r1",
                },
                {
                    "type": "identify",
                    "anonymousId": "rb-app",
                    "userId": "rb-user",
                    "messageId": "r2",
                },
                {
                    "type": "identify",
                    "anonymousId": "rb-app",
                    "traits": {"email": "rb@x.io"},
                    "messageId": "r3",
                },
                {"type": "track", "userId": "rb-user", "event": "After", "messageId": "r4"},
            ],
        )
        _post(server, [_pad(i) for i in range(2000)])
        _caught_up(data)
        [merge] = run_cli(data, "profiles", "merge-history", "user_id:rb-user", "--json")
        subprocess.run(
            [*SEAMLINE, "--data-dir", str(data), "profiles", "unmerge", str(merge["merge_id"])],
            check=True,
            capture_output=True,
        )
        before, merges = _profiles(data), _merges(data)
        assert len(merges) == 1  # undone, still listed until a rebuild replays without it

        # Batches of 5 make the shadow phase last long enough to interrupt it.
        interrupted = _rebuild(data, SEAMLINE_PIPELINE_BATCH_SIZE="5")
        shadow_lake = data / "rebuild" / "events"
        deadline = time.monotonic() + 30
        while not any(shadow_lake.rglob("*.parquet")):  # the shadow pipeline is replaying
            assert interrupted.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        interrupted.send_signal(signal.SIGINT)
        out, _ = interrupted.communicate(timeout=60)
        assert interrupted.returncode != 0 and "rebuilt" not in out
        assert _profiles(data) == before and _merges(data) == merges  # nothing was swapped
        assert not (data / "rebuild").exists() and not pause_requested(data)
        _post(server, [{"type": "track", "userId": "rb-user", "event": "Later", "messageId": "r5"}])
        _caught_up(data)  # the pipeline kept running

        done = _rebuild(data)
        out, err = done.communicate(timeout=60)
        assert done.returncode == 0, err
        _caught_up(data)
        after = _profiles(data)
        # Replayed with the separation in force, the bad merge never happens.
        assert _merges(data) == set()
        assert after["r4"] == after["r2"] != after["r1"]
        assert after["r1"] == before["r1"] and after["r2"] == before["r2"]

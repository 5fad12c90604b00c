"""The `seamline` command line: JSON output, exit codes, settings from env and seamline.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from seamline.config import Settings, load_settings
from tests.e2e.server import Server
from tests.forked_cli import run_seamline

SEAMLINE = [sys.executable, "-m", "seamline"]


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`seamline ARGS` as a process of its own, with this environment plus `env`: forked from
    this one (tests/forked_cli.py), which saves each call the seconds of a fresh import."""
    return run_seamline(list(args), cwd=cwd, env={**os.environ, **(env or {})})


def initialised(tmp_path: Path) -> str:
    """A new data directory made by `seamline init`, as the path string the CLI takes."""
    data = str(tmp_path / "d")
    done = cli("--data-dir", data, "init")
    assert done.returncode == 0, done.stderr
    return data


def test_sources_create_and_list_as_json(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    made = cli("--data-dir", data, "sources", "create", "Website", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert set(created) == {"id", "name", "write_key"}
    assert created["name"] == "Website" and len(created["write_key"]) >= 20
    chosen = json.loads(
        cli(
            "--data-dir", data, "sources", "create", "Backend", "--write-key", "my-key", "--json"
        ).stdout
    )
    assert chosen["write_key"] == "my-key"
    listed = json.loads(cli("--data-dir", data, "sources", "list", "--json").stdout)
    assert [(s["name"], s["write_key"]) for s in listed] == [
        ("Website", created["write_key"]),
        ("Backend", "my-key"),
    ]
    assert all(s["workspace_id"] == "default" and s["enabled"] for s in listed)


def test_a_taken_write_key_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    cli("--data-dir", data, "sources", "create", "A", "--write-key", "k1", "--json")
    again = cli("--data-dir", data, "sources", "create", "B", "--write-key", "k1", "--json")
    assert again.returncode == 2
    assert again.stdout == ""
    assert len(again.stderr.strip().splitlines()) == 1
    assert "already exists" in again.stderr
    assert len(json.loads(cli("--data-dir", data, "sources", "list", "--json").stdout)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["sources", "create", "  "],
        ["sources", "create", "X", "--write-key", "a:b"],
        ["sources", "nope"],
        ["serve", "--port", "99999"],
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = cli("--data-dir", str(tmp_path / "d"), *args)
    assert done.returncode == 2
    assert done.stderr.strip()


def test_events_count_on_an_empty_data_dir(tmp_path: Path) -> None:
    done = cli("--data-dir", initialised(tmp_path), "events", "count", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"accepted": 0, "stored": 0}


@pytest.mark.slow
def test_count_and_tail_while_the_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Server(data) as server:
        tail = subprocess.Popen(
            [*SEAMLINE, "--data-dir", str(data), "events", "tail", "--follow", "--limit", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            import time

            time.sleep(1.5)  # let tail reach the end of the log before events arrive
            for n in range(2):
                httpx.post(
                    f"{server.url}/v1/track",
                    auth=(server.write_key, ""),
                    json={"userId": "u", "event": f"Live {n}"},
                )
            assert tail.stdout is not None
            out = [tail.stdout.readline() for _ in range(2)]  # --follow: it keeps running
            assert tail.poll() is None
        finally:
            tail.kill()
            tail.communicate()  # reaps it and closes the pipe
        lines = [json.loads(line) for line in out]
        assert [line["event"] for line in lines] == ["Live 0", "Live 1"]
        assert all(line["type"] == "track" and line["messageId"] for line in lines)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            counts = json.loads(cli("--data-dir", str(data), "events", "count", "--json").stdout)
            if counts["stored"] == 2:
                break
            time.sleep(0.1)
        assert counts == {"accepted": 2, "stored": 2}
        second = cli("--data-dir", str(data), "serve", "--port", "0")
        assert second.returncode == 2
        assert "another Seamline server" in second.stderr
    history = cli("--data-dir", str(data), "events", "tail", "--from-start", "--limit", "2")
    assert [json.loads(line)["event"] for line in history.stdout.splitlines()] == [
        "Live 0",
        "Live 1",
    ]


def test_settings_come_from_toml_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "seamline.toml").write_text(
        'port = 9100\ndedup_window_seconds = 60\ntrusted_proxies = ["10.0.0.0/8"]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEAMLINE_CONFIG", raising=False)
    settings = load_settings()
    assert (settings.port, settings.dedup_window_seconds, settings.trusted_proxies) == (
        9100,
        60,
        ["10.0.0.0/8"],
    )
    monkeypatch.setenv("SEAMLINE_PORT", "9200")
    assert load_settings().port == 9200
    assert load_settings(port=9300).port == 9300
    monkeypatch.setenv("SEAMLINE_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.delenv("SEAMLINE_PORT")
    assert load_settings().port == Settings.model_fields["port"].default


def test_a_bad_setting_is_a_one_line_error(tmp_path: Path) -> None:
    done = cli(
        "--data-dir",
        str(tmp_path),
        "sources",
        "list",
        env={"SEAMLINE_TRUSTED_PROXIES": '["not-a-network"]'},
    )
    assert done.returncode == 2
    assert "trusted_proxies" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_tokens_and_profile_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("--data-dir", str(data), "init").returncode == 0
    token = json.loads(
        cli("--data-dir", str(data), "tokens", "create", "--name", "ops", "--json").stdout
    )
    assert token["token"].startswith("sl_") and token["name"] == "ops"
    with Server(data) as server:
        batch = [
            {
                "type": "page",
                "anonymousId": "cli-web",
                "context": {"traits": {"email": "cli@x.io"}},
                "messageId": "c1",
            },
            {
                "type": "identify",
                "anonymousId": "cli-app",
                "userId": "cli-user",
                "traits": {"plan": "pro", "phone": "+1 (555) 010-0177"},
                "messageId": "c2",
            },
            {
                "type": "identify",
                "anonymousId": "cli-app",
                "traits": {"email": "cli@x.io"},
                "messageId": "c3",
            },
        ]
        for message in batch:  # one request each: the merge needs them in order
            assert (
                httpx.post(
                    f"{server.url}/v1/batch", auth=(server.write_key, ""), json={"batch": [message]}
                ).status_code
                == 200
            )
        assert server.stop() == 0
    shown = json.loads(
        cli("--data-dir", str(data), "profiles", "show", "user_id:cli-user", "--json").stdout
    )
    assert shown["traits"] == {"email": "cli@x.io", "plan": "pro", "phone": "+1 (555) 010-0177"}
    assert {(e["type"], e["id"]) for e in shown["external_ids"]} >= {
        ("user_id", "cli-user"),
        ("anonymous_id", "cli-web"),
        ("phone", "+1 (555) 010-0177"),  # as sent; matched as +15550100177
    }
    history = json.loads(
        cli("--data-dir", str(data), "profiles", "merge-history", "email:cli@x.io", "--json").stdout
    )
    assert [h["message_id"] for h in history] == ["c3"]
    undone = json.loads(
        cli(
            "--data-dir", str(data), "profiles", "unmerge", str(history[0]["merge_id"]), "--json"
        ).stdout
    )
    assert undone["merge_id"] == history[0]["merge_id"]
    web = json.loads(
        cli("--data-dir", str(data), "profiles", "show", "anonymous_id:cli-web", "--json").stdout
    )
    user = json.loads(
        cli("--data-dir", str(data), "profiles", "show", "user_id:cli-user", "--json").stdout
    )
    assert web["profile_id"] == shown["profile_id"]  # the older profile kept its id
    assert user["profile_id"] != web["profile_id"]  # the merged-in one is on its own again
    assert {(e["type"], e["id"]) for e in user["external_ids"]} == {
        ("user_id", "cli-user"),
        ("anonymous_id", "cli-app"),
        ("phone", "+1 (555) 010-0177"),
    }
    again = cli("--data-dir", str(data), "profiles", "unmerge", str(history[0]["merge_id"]))
    assert again.returncode == 2 and "already undone" in again.stderr
    missing = cli("--data-dir", str(data), "profiles", "show", "user_id:nobody")
    assert missing.returncode == 2 and "not found" in missing.stderr.lower()
    bad = cli("--data-dir", str(data), "profiles", "show", "nocolon")
    assert bad.returncode == 2


@pytest.mark.slow
def test_rebuild_replays_the_log_with_the_unmerge_applied_from_the_start(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from seamline.store.identity_sql import SqlIdentityGraph
    from tests.e2e.stored import stored_events

    data = tmp_path / "data"
    with Server(data) as server:
        messages = [
            {
                "type": "page",
                "anonymousId": "rb-web",
                "context": {"traits": {"email": "rb@x.io"}},
                "messageId": "r1",
            },
            {"type": "identify", "anonymousId": "rb-app", "userId": "rb-user", "messageId": "r2"},
            {
                "type": "identify",
                "anonymousId": "rb-app",
                "traits": {"email": "rb@x.io"},
                "messageId": "r3",
            },
            {"type": "track", "userId": "rb-user", "event": "After", "messageId": "r4"},
        ]
        for message in messages:
            assert (
                httpx.post(
                    f"{server.url}/v1/batch", auth=(server.write_key, ""), json={"batch": [message]}
                ).status_code
                == 200
            )
        assert server.stop() == 0
    before = {row["message_id"]: row["profile_id"] for row in stored_events(data)}
    [merge] = json.loads(
        cli(
            "--data-dir", str(data), "profiles", "merge-history", "user_id:rb-user", "--json"
        ).stdout
    )
    assert (
        cli("--data-dir", str(data), "profiles", "unmerge", str(merge["merge_id"])).returncode == 0
    )

    done = cli("--data-dir", str(data), "rebuild")
    assert done.returncode == 0, done.stderr
    assert "rebuilt from 4 log records" in done.stdout
    after = {row["message_id"]: row["profile_id"] for row in stored_events(data)}
    assert set(after) == {"r1", "r2", "r3", "r4"}
    graph = SqlIdentityGraph(create_engine(f"sqlite:///{data}/state.db"))
    # Replayed with the separation in force, the bad merge never happens: the user's later
    # event lands on the user's own profile, and the ids are the ones from before.
    assert after["r4"] == after["r2"] != after["r1"]
    assert after["r1"] == before["r1"] and after["r2"] == before["r2"]
    assert (
        graph.merges_of("default", after["r1"]) == []
        and graph.merges_of("default", after["r2"]) == []
    )
    with Server(data):
        # Beside a running server the rebuild goes online (tests/e2e/test_online_rebuild.py),
        # which the embedded stores alone support.
        busy = cli("--data-dir", str(data), "rebuild", env={"SEAMLINE_LOG_URL": "nats://x:4222"})
        assert busy.returncode == 2, busy.stderr
        [line] = busy.stderr.strip().splitlines()
        assert "online rebuild supports the embedded default only" in line

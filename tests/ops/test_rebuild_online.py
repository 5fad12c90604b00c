"""`seamline rebuild` beside a running server supports the embedded stores only: with a
JetStream log, PostgreSQL or a remote event store it refuses in one line (exit code 2) and
touches nothing; so it does beside a `serve --role all` process, whose pipeline cannot pause."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from seamline import cli
from seamline.roles.locks import ServeLock


def _rebuild_exit(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[object, str]:
    monkeypatch.setattr(sys, "argv", ["seamline", "--data-dir", str(data), "rebuild"])
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
    finally:
        os.umask(umask)
    [line] = capsys.readouterr().err.strip().splitlines()
    return ended.value.code, line


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("SEAMLINE_LOG_URL", "nats://127.0.0.1:4222"),
        ("SEAMLINE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/seamline"),
        ("SEAMLINE_EVENTS_URL", "file:///shared/lake"),
    ],
)
def test_a_rebuild_beside_a_server_refuses_engines_other_than_the_embedded_ones(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    value: str,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.db").touch()
    server = ServeLock(data / ".serve.lock")
    server.acquire()  # a server runs on the data directory
    monkeypatch.setenv(setting, value)
    try:
        code, line = _rebuild_exit(data, monkeypatch, capsys)
    finally:
        server.release()
    assert code == 2
    assert "online rebuild supports the embedded default only" in line
    assert not (data / "rebuild").exists()


def test_a_rebuild_beside_a_server_running_every_role_in_one_process_refuses_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.db").touch()
    # `serve --role all`: one process holds both locks (this one, in the test).
    locks = [ServeLock(data / ".serve.lock"), ServeLock(data / ".pipeline.lock", "pipeline")]
    for lock in locks:
        lock.acquire()
    try:
        code, line = _rebuild_exit(data, monkeypatch, capsys)
    finally:
        for lock in locks:
            lock.release()
    assert code == 2
    assert "--role all" in line and "cannot pause" in line
    assert not (data / "rebuild").exists()

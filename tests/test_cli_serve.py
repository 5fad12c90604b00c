"""`seamline serve` checks its port before printing anything, and prints whole lines when piped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.server import SEAMLINE, free_port
from tests.test_cli import cli


def test_a_taken_port_is_one_line_naming_the_fix_and_nothing_else(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("--data-dir", str(data), "serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stdout == ""  # no "listening on", no write key
    [line] = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port" in line and "SEAMLINE_PORT" in line
    assert not data.exists()  # no workspace, no development source was made


def test_a_host_that_is_not_local_names_the_host_option(tmp_path: Path) -> None:
    done = cli("--data-dir", str(tmp_path / "d"), "serve", "--host", "192.0.2.1", "--port", "18088")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "--host or SEAMLINE_HOST" in line


@pytest.mark.slow
def test_the_banner_keeps_long_lines_whole_when_piped(tmp_path: Path) -> None:
    # A data directory path far longer than 80 columns, as a real deployment path can be.
    data = tmp_path / ("a-rather-long-directory-name-" * 4) / "seamline-data"
    port = free_port()
    server = subprocess.Popen(
        [*SEAMLINE, "--data-dir", str(data), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Stop with Ctrl-C"):
            line = server.stdout.readline()
            assert line, f"serve ended early: {lines}"
            lines.append(line.rstrip("\n"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)  # reaps it and closes the pipe
    url = f"http://127.0.0.1:{port}"
    [key_line] = [line for line in lines if "write key" in line]
    key = key_line.rsplit(" ", 1)[1]
    assert f"data directory: {data.resolve()}" in lines
    assert f"  analytics.write_key = '{key}'; analytics.host = '{url}'" in lines
    [curl] = [line for line in lines if line.startswith("  curl ")]
    assert curl.endswith(f"{url}/v1/track") and len(curl) > 80

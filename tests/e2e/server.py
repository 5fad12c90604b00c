"""Start and stop a real `seamline serve` process for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

import seamline.cli  # noqa: F401  (fails early if the package is not installed)

SEAMLINE = [sys.executable, "-m", "seamline"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run `seamline --data-dir DATA_DIR ARGS… --json` (a process forked from this one:
    tests/forked_cli.py) and return the parsed JSON output."""
    from tests.forked_cli import run_seamline  # imports the whole app: only when used

    done = run_seamline(["--data-dir", str(data_dir), *args], env=env)
    done.check_returncode()
    return json.loads(done.stdout)


class Server:
    """A `seamline serve` child process on a free port with its own data directory."""

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # One collect worker unless a test asks for more: a server is then three processes
        # (collect, pipeline, deliver) and starts sooner on two cores; tests/e2e/test_roles.py
        # runs several workers.
        self.env = {**os.environ, "SEAMLINE_COLLECT_WORKERS": "1", **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.output = data_dir.parent / f"{data_dir.name}-serve.log"

    def start(self, timeout: float = 60.0) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [*SEAMLINE, "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        # Not left running: its roles would load the next tests' cores, and its Popen, never
        # waited for, fails whichever test the garbage collector happens to run in.
        self._kill_all()
        raise TimeoutError(f"server not ready in {timeout}s:\n{self.output.read_text()}")

    @property
    def write_key(self) -> str:
        sources = run_cli(self.data_dir, "sources", "list", "--json")
        return str(sources[0]["write_key"])

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM and wait: the server drains the pipeline before it exits.

        A server that does not stop in time is killed with every role it runs (nothing outlives
        the test to fail another one), and the failure shows the end of its output, which says
        which role was still stopping."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_all()
            tail = "\n".join(self.output.read_text(errors="replace").splitlines()[-40:])
            raise AssertionError(
                f"server did not stop in {timeout:.0f} s; its output:\n{tail}"
            ) from None
        self.process = None
        return code

    def _kill_all(self) -> None:
        """SIGKILL to the supervisor and every role, none warned first.

        The supervisor is frozen first: it would start a killed role again, and its own death
        sends each role SIGTERM (PR_SET_PDEATHSIG), which stops a role in order instead."""
        assert self.process is not None
        with contextlib.suppress(OSError):
            self.process.send_signal(signal.SIGSTOP)
        status = self.data_dir / "run" / "roles.json"
        pids = []
        if status.exists():
            with contextlib.suppress(ValueError):
                rows = json.loads(status.read_text()).get("processes", [])
                pids = [row["pid"] for row in rows if row.get("pid")]
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL to every process of the server: the crash the log must survive."""
        self._kill_all()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.stop()

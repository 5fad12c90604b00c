"""Seamline role processes for the cluster test: `seamline serve --role R`, each with its own data
directory and log file, started, SIGKILLed and restarted by the test.

Every process's pid is written to a file; a watchdog beside the test session SIGKILLs them when
the session's end of its pipe closes, so a killed pytest leaves no role running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests import watchdog

SEAMLINE = [sys.executable, "-m", "seamline"]


class RoleProcess:
    """One `seamline --data-dir ROOT/NAME serve --role ROLE` process."""

    def __init__(
        self, root: Path, role: str, index: int, env: dict[str, str], port: int | None = None
    ) -> None:
        self.role, self.name, self.port = role, f"{role}-{index}", port
        self.data_dir = root / self.name
        self.output = root / f"{self.name}.log"
        self._pid_file = root / f"{self.name}.pid"
        self._root, self._env = root, env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        command = [*SEAMLINE, "--data-dir", str(self.data_dir), "serve", "--role", self.role]
        if self.port is not None:
            command += ["--port", str(self.port)]
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=self._root, env=self._env, stdout=out, stderr=subprocess.STDOUT
            )
        self._pid_file.write_text(str(self.process.pid))

    def kill(self) -> None:
        """SIGKILL: no drain, no lease released."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None
        self._pid_file.unlink(missing_ok=True)

    def stop(self, timeout: float = 60, *, signalled: bool = False) -> int | None:
        """SIGTERM (once: a second one during the drain would kill it) and wait, then SIGKILL;
        the exit status."""
        if self.process is None:
            return None
        if not signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        self.process = None
        self._pid_file.unlink(missing_ok=True)
        return code

    def wait_ready(self, timeout: float = 90) -> None:
        """Collect: until /readyz answers 200. Others: until the log says the role started."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready in {timeout} s:\n{self.tail()}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        if self.port is None:
            return f"{self.role} role started" in self.output.read_text(errors="replace")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        return False

    def tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])


class Fleet:
    """The role processes of one test, stopped (and watched) together."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.env = root, env
        self.processes: list[RoleProcess] = []
        self._watchdog = watchdog.start(root, remove=False)

    def add(self, role: str, index: int, port: int | None = None) -> RoleProcess:
        process = RoleProcess(self.root, role, index, self.env, port)
        self.processes.append(process)
        return process

    def cli(self, *args: str, data_dir: Path) -> Any:
        """`seamline --data-dir DIR ARGS…` with the fleet's settings; its JSON output."""
        done = subprocess.run(
            [*SEAMLINE, "--data-dir", str(data_dir), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"seamline {' '.join(args)} failed:\n{done.stderr}")
        return json.loads(done.stdout) if "--json" in args else done.stdout

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every running process, then wait for each; their exit statuses."""
        for process in self.processes:
            if process.process is not None and process.process.poll() is None:
                process.process.send_signal(signal.SIGTERM)
        codes = {p.name: p.stop(signalled=True) for p in self.processes if p.process is not None}
        watchdog.stop(self._watchdog)
        return codes

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def requesting(pid: int, port: int) -> bool:
    """Whether process `pid` has a TCP connection open to 127.0.0.1:`port` (Linux /proc).

    The test sink answers HTTP/1.0, one connection per request, so for a deliver process an
    open connection to the sink is a request in flight."""
    wanted = f"0100007F:{port:04X}"
    return any(
        fields[2] == wanted and fields[3] == "01"  # ESTABLISHED
        for fields in _tcp_sockets(pid)
    )


def listening(pid: int, port: int) -> bool:
    """Whether process `pid` listens on TCP `port` (Linux /proc): a collect worker sharing a
    port with others through SO_REUSEPORT, which /readyz on that port cannot tell apart."""
    return any(
        fields[1].endswith(f":{port:04X}") and fields[3] == "0A"  # LISTEN
        for fields in _tcp_sockets(pid)
    )


def _tcp_sockets(pid: int) -> list[list[str]]:
    """The /proc/net/tcp rows (split) of the IPv4 TCP sockets process `pid` holds."""
    try:
        inodes = {
            link[len("socket:[") : -1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if (link := _readlink(f"/proc/{pid}/fd/{fd}")).startswith("socket:[")
        }
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return []
    rows = [line.split() for line in lines]
    return [fields for fields in rows if fields[9] in inodes]


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without SEAMLINE_* settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLINE_")}
    return {**env, **settings}

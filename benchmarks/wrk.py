"""Running wrk with `wrk_post.lua` and reading the figures its `done()` hook prints."""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("wrk_post.lua")
INSTALL_HINT = "wrk is not installed; install it with `apt-get install -y wrk` (Debian/Ubuntu)"
_MARKER = "WRK_JSON "


def wrk_path() -> str | None:
    """The wrk executable on PATH, if any."""
    return shutil.which("wrk")


def basic_auth(write_key: str) -> str:
    """Segment's Authorization header: Basic auth with the write key as user, no password."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


@dataclass(frozen=True)
class Load:
    """One wrk invocation: where to POST what, how hard and for how long."""

    url: str
    template: Path
    authorization: str
    id_prefix: str
    threads: int
    connections: int
    seconds: float

    def command(self) -> list[str]:
        return [
            "wrk",
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            self.url,
            "--",
            str(self.template),
            self.authorization,
            self.id_prefix,
        ]


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured; `non_2xx` counts responses with status >= 400 (wrk's `errors.status`)."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]
    cpu_seconds: float
    output: str

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx

    @property
    def ok_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def run(load: Load) -> WrkResult:
    """Run wrk to completion; raises `RuntimeError` with its output if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        load.command(), capture_output=True, text=True, timeout=load.seconds + 60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = done.stdout + done.stderr
    line = next((x for x in done.stdout.splitlines() if x.startswith(_MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}):\n{output}")
    figures = json.loads(line[len(_MARKER) :])
    errors = figures["errors"]
    return WrkResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=errors.pop("status"),
        socket_errors=errors,
        latency_ms={k: v / 1000 for k, v in figures["latency_us"].items()},
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        output=output,
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and its live descendants (Linux /proc).

    `seamline serve` is a supervisor whose roles are child processes, so the server's CPU is
    the tree's."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        ticks[child] = int(fields[11]) + int(fields[12])  # utime, stime: fields 14, 15 of stat(5)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(ticks.get(member, 0) for member in tree) / os.sysconf("SC_CLK_TCK")

"""The supervisor `seamline serve` runs on one machine: every role as an OS process.

It starts N collect workers (sharing the port through SO_REUSEPORT), one pipeline and one
deliver process; restarts a process that exits unexpectedly, with backoff; and on SIGTERM or
Ctrl-C stops them in the order that loses nothing: collect stops accepting, the pipeline drains
the log, deliver delivers what is due. What it runs is written to `run/roles.json` for
`seamline status` and `/metrics`.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from seamline.metrics import clear_shared
from seamline.roles.names import COLLECT, DELIVER, PIPELINE

logger = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
LONGEST_BACKOFF = 30.0
STEADY = 60.0
"""A process that ran this long before exiting is restarted without waiting."""
WATCH_PERIOD = 0.2
STOP_TIMEOUTS = {COLLECT: 40.0, PIPELINE: 600.0, DELIVER: 60.0}
"""How long each role may take to stop before it is killed (what it leaves stays in the log
or the outbox and is taken up after the next start)."""


@dataclass
class Child:
    role: str
    index: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = FIRST_BACKOFF
    restart_at: float = 0.0
    last_exit: int | None = None
    history: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"


def _die_with_parent() -> None:
    """In the child: SIGTERM when the supervisor dies, so no role outlives it (Linux)."""
    os.setpgrp()  # Ctrl-C reaches the supervisor only; it stops the roles in order
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    """Runs `command + ["--role", role]` for every role and keeps them running."""

    def __init__(
        self,
        command: list[str],
        workers: int,
        status_file: Path,
        metrics_dir: Path | None = None,
    ) -> None:
        self._command = command
        self._status_file = status_file
        self._metrics_dir = metrics_dir
        self.children = [Child(COLLECT, i) for i in range(workers)] + [
            Child(PIPELINE, 0),
            Child(DELIVER, 0),
        ]
        # A plain flag, not a threading.Event: the signal handler runs in the main thread at
        # any bytecode, also inside Event.wait while it holds the Event's lock, and
        # Event.set would then wait for that lock forever (a CI run saw `serve` ignore
        # SIGTERM for 90 s).
        self._stop_requested = False

    def request_stop(self, *_: object) -> None:
        self._stop_requested = True

    def run(self) -> int:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, self.request_stop)
        if self._metrics_dir is not None:
            # Counters start from 0 with the supervisor (a reset Prometheus expects), not
            # from what processes of an earlier run left (see seamline.metrics).
            clear_shared(self._metrics_dir)
        # The pipeline and deliver first: collect answers once they are up to take the log.
        for child in sorted(self.children, key=lambda c: c.role == COLLECT):
            self._start(child)
        self._write_status()
        while not self._stop_requested:
            # A signal interrupts the sleep, runs the handler and the sleep resumes: a stop
            # waits at most one period.
            time.sleep(WATCH_PERIOD)
            if not self._stop_requested:
                self._watch()
        self._stop_all()
        self._write_status()
        return 0

    def _start(self, child: Child) -> None:
        command = [*self._command, "--role", child.role]
        child.process = subprocess.Popen(command, preexec_fn=_die_with_parent)
        child.started_at = time.monotonic()
        logger.info("started %s (pid %d)", child.name, child.process.pid)

    def _watch(self) -> None:
        changed = False
        now = time.monotonic()
        for child in self.children:
            process = child.process
            if process is None:
                if now >= child.restart_at:
                    self._start(child)
                    changed = True
                continue
            code = process.poll()
            if code is None:
                continue
            ran = now - child.started_at
            child.backoff = FIRST_BACKOFF if ran >= STEADY else child.backoff
            child.last_exit = code
            child.restarts += 1
            child.process = None
            child.restart_at = now + child.backoff
            logger.warning(
                "%s (pid %d) exited with status %d after %.1f s; restarting in %.1f s",
                child.name,
                process.pid,
                code,
                ran,
                child.backoff,
            )
            child.backoff = min(child.backoff * 2, LONGEST_BACKOFF)
            changed = True
        if changed:
            self._write_status()

    def _stop_all(self) -> None:
        """Collect first, then the pipeline (it drains the log), then deliver."""
        for role in (COLLECT, PIPELINE, DELIVER):
            group = [c for c in self.children if c.role == role and c.process is not None]
            for child in group:
                assert child.process is not None
                logger.info("stopping %s (pid %d)", child.name, child.process.pid)
                child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUTS[role]
            for child in group:
                assert child.process is not None
                try:
                    child.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    logger.error("%s did not stop in time; killed", child.name)
                    child.process.kill()
                    child.process.wait()
                child.last_exit = child.process.returncode
                child.process = None

    def _write_status(self) -> None:
        rows = [
            {
                "role": c.role,
                "index": c.index,
                "pid": c.process.pid if c.process is not None else None,
                "running": c.process is not None,
                "restarts": c.restarts,
                "last_exit": c.last_exit,
            }
            for c in self.children
        ]
        self._status_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._status_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"supervisor": os.getpid(), "processes": rows}))
        os.replace(temporary, self._status_file)


def role_command() -> list[str]:
    """This command line again, for a child: `python -m seamline <the same arguments>`."""
    return [sys.executable, "-m", "seamline", *sys.argv[1:]]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))

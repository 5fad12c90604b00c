"""Ingest throughput and latency of Seamline, next to a bare parse-and-answer ASGI handler.

    .venv/bin/python benchmarks/ingest.py [--duration S] [--connections N] [--json PATH]

Drives each server with wrk from a separate process: single `/v1/track` events (~750 B) and
`/v1/batch` requests of 100 such events (~75 KB), every event with its own messageId (spliced
in by `wrk_post.lua`). First `bare_parse.py` (uvicorn with Seamline's settings; read, parse,
answer), then `seamline serve` with default settings (log fsync on) in a fresh temporary data
directory. After each Seamline scenario its accepted count must cover every 2xx wrk saw, and
the pipeline gets `--drain-timeout` seconds to store the backlog before the next one.
Exit code 0: clean run; 1: a check failed (non-2xx, socket errors, missing events); 2: no wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` and `tests` importable

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402

from benchmarks import wrk  # noqa: E402
from benchmarks.payloads import batch_body, single_body  # noqa: E402
from benchmarks.report import Drain, Row, Scenario, machine_facts, print_report, write_json  # noqa: E402
from tests.e2e.server import Server, free_port, run_cli  # noqa: E402

BARE_APP = Path(__file__).with_name("bare_parse.py")
CLEAN_STOP = (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled once drained


def main() -> int:
    args = _arguments()
    console = Console(width=None if sys.stdout.isatty() else 160)
    if wrk.wrk_path() is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    stray = sorted(k for k in os.environ if k.startswith("SEAMLINE_"))
    if stray:
        console.print(f"[yellow]warning:[/] the server inherits {', '.join(stray)}")
    facts = machine_facts(args.data_root)
    root = Path(tempfile.mkdtemp(prefix="seamline-bench-", dir=args.data_root))
    try:
        scenarios = _write_scenarios(root, args)
        rows = [] if args.skip_bare else _measure_bare(root, scenarios, args)
        seamline_rows, final, problems = _measure_seamline(root, scenarios, args)
        rows += seamline_rows
        failures = print_report(console, args, facts, scenarios, rows, final, problems)
        if args.json:
            write_json(args.json, facts, rows, final)
    finally:
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failures else 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--duration", type=float, default=10, help="seconds measured per scenario (default 10)")
    add("--warmup", type=float, default=2, help="seconds of warm-up per scenario (default 2)")
    add("--threads", type=int, default=1, help="wrk threads (default 1)")
    add("--connections", type=int, default=32, help="connections for /v1/track (default 32)")
    add("--batch-connections", type=int, default=8, help="connections for /v1/batch (default 8)")
    add("--batch-size", type=int, default=100, help="events per /v1/batch request (default 100)")
    add(
        "--drain-timeout",
        type=float,
        default=30,
        help="seconds to wait for the pipeline to store the backlog after each Seamline "
        "scenario (default 30); if the last one does not finish, the server is killed",
    )
    add("--data-root", type=Path, default=None, help="where the temporary data dir is made")
    add(
        "--env",
        action="append",
        default=[],
        metavar="SEAMLINE_X=VALUE",
        help="server setting, e.g. SEAMLINE_LOG_FSYNC=false (repeatable)",
    )
    add("--only", action="append", choices=("track", "batch"), help="run only this scenario")
    add("--skip-bare", action="store_true", help="measure Seamline only (no ratios)")
    add("--json", type=Path, default=None, help="also write the results to this file")
    add("--keep", action="store_true", help="keep the temporary data directory")
    add("-v", "--verbose", action="store_true", help="print each wrk command and its output")
    args = parser.parse_args()
    for item in args.env:
        if "=" not in item or not item.startswith("SEAMLINE_"):
            parser.error(f"--env takes SEAMLINE_NAME=VALUE, got {item!r}")
    return args


def _write_scenarios(root: Path, args: argparse.Namespace) -> list[Scenario]:
    single, batch = root / "track.json", root / "batch.json"
    single.write_text(single_body())
    batch.write_text(batch_body(args.batch_size))
    scenarios = {
        "track": Scenario("track", "/v1/track", 1, args.connections, single),
        "batch": Scenario(
            f"batch-{args.batch_size}", "/v1/batch", args.batch_size, args.batch_connections, batch
        ),
    }
    return [scenarios[name] for name in args.only or scenarios]


def _measure_bare(root: Path, scenarios: list[Scenario], args: argparse.Namespace) -> list[Row]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = root / "bare.log"
    with output.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(BARE_APP), "--port", str(port)], stdout=out, stderr=out
        )
    try:
        if not _wait_until(lambda: _ready(url), 30):
            raise RuntimeError(f"bare_parse.py did not start:\n{output.read_text()}")
        # The bare app ignores Authorization; send the same header shape anyway.
        auth = wrk.basic_auth("bare")
        return [_run_scenario("bare", url, process.pid, s, auth, args, None) for s in scenarios]
    finally:
        process.terminate()
        process.wait(30)


def _measure_seamline(
    root: Path, scenarios: list[Scenario], args: argparse.Namespace
) -> tuple[list[Row], dict[str, int] | None, list[str]]:
    """Rows of Seamline, its counts after a graceful stop (None if killed), and problems."""
    env = dict(item.split("=", 1) for item in args.env)
    label = " ".join(["seamline", *args.env])
    # A seamline.toml in the working directory would silently change the defaults.
    env.setdefault("SEAMLINE_CONFIG", str(root / "absent-seamline.toml"))
    data_dir = root / "data"
    server = Server(data_dir, **env).start()
    rows: list[Row] = []
    problems: list[str] = []
    caught_up = False
    try:
        assert server.process is not None
        checks = _SeamlineChecks(data_dir, args.drain_timeout)
        auth = wrk.basic_auth(server.write_key)
        for scenario in scenarios:
            rows.append(
                _run_scenario(label, server.url, server.process.pid, scenario, auth, args, checks)
            )
        caught_up = rows[-1].drain is not None and rows[-1].drain.backlog == 0
    finally:
        if caught_up:
            code = server.stop(timeout=60)
            if code not in CLEAN_STOP:
                problems.append(f"seamline serve exited with {code} (log: rerun with --keep)")
        else:
            server.kill()  # the log keeps the backlog; waiting for it would take too long
    if not caught_up:
        return rows, None, problems
    return rows, dict(run_cli(data_dir, "events", "count", "--json")), problems


class _SeamlineChecks:
    """Reads Seamline's counts through its CLI, which is safe while the server runs."""

    def __init__(self, data_dir: Path, drain_timeout: float) -> None:
        self.data_dir = data_dir
        self.drain_timeout = drain_timeout

    def counts(self) -> dict[str, int]:
        return dict(run_cli(self.data_dir, "events", "count", "--json"))

    def drain(self, stored_before: int) -> Drain:
        """Wait until the pipeline has stored every accepted message, or the timeout passes.

        Every messageId is unique, so "caught up" is simply stored == accepted."""
        start = time.monotonic()
        last = self.counts()
        while last["stored"] < last["accepted"] and time.monotonic() - start < self.drain_timeout:
            time.sleep(0.25)
            last = self.counts()
        waited = time.monotonic() - start
        return Drain(
            seconds=waited,
            backlog=last["accepted"] - last["stored"],
            rate=(last["stored"] - stored_before) / waited if waited else 0.0,
        )


def _run_scenario(
    server: str,
    url: str,
    pid: int,
    scenario: Scenario,
    auth: str,
    args: argparse.Namespace,
    checks: _SeamlineChecks | None,
) -> Row:
    def load(seconds: float, phase: str) -> wrk.Load:
        prefix = f"{server.split()[0]}-{scenario.path.rsplit('/', 1)[1]}-{phase}"
        return wrk.Load(
            url + scenario.path,
            scenario.template,
            auth,
            prefix,
            args.threads,
            scenario.connections,
            seconds,
        )

    before = checks.counts() if checks else None
    warm = wrk.run(load(args.warmup, "warm"))
    if checks:
        stored_at, stored_before = time.monotonic(), checks.counts()["stored"]
    cpu = wrk.process_cpu_seconds(pid)
    result = wrk.run(load(args.duration, "run"))
    cpu = wrk.process_cpu_seconds(pid) - cpu
    if args.verbose:
        print(" ".join(load(args.duration, "run").command()))
        print(result.output)
    row = Row(scenario.name, server, scenario.events, result, cpu / result.seconds)
    if warm.non_2xx or result.non_2xx:
        row.problems.append(f"{warm.non_2xx + result.non_2xx} non-2xx responses")
    errors = {k: v for k, v in result.socket_errors.items() if v}
    if errors:
        row.problems.append(f"socket errors {errors}")
    if checks and before:
        after = checks.counts()
        row.stored_per_second = (after["stored"] - stored_before) / (time.monotonic() - stored_at)
        row.accepted = after["accepted"] - before["accepted"]
        row.expected = (warm.ok + result.ok) * scenario.events
        if row.accepted < row.expected:
            row.problems.append(f"accepted {row.accepted} < {row.expected} acknowledged by 2xx")
        row.drain = checks.drain(after["stored"])
    return row


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


if __name__ == "__main__":
    sys.exit(main())

"""Where the management and Profile APIs should run: in the collect workers, or a role of their own.

    .venv/bin/python benchmarks/api_placement.py [--seconds 10] [--api-clients 4]

Today the collect workers serve every HTTP route. A Profile API request reads the event lake
(DuckDB over Parquet) and the state store; if it held a worker's event loop or its GIL, single
`/v1/track` requests queued behind it would see their latency grow beyond what the extra CPU
explains. So, against one `seamline serve` (2 collect workers, the pipeline and deliver) whose
lake holds a preloaded history:

  ingest alone       wrk on `/v1/track`;
  API alone          `--api-clients` threads looping over `/events?limit=200`, `/traits` and
                     `GET /api/v1/audiences` (a management read);
  ingest + API       both at once.

Printed: track req/s and p50/p99, API requests/s and p50/p99, and the server's CPU. A separate
API role is worth it if "ingest + API" loses more track throughput than the API's own CPU share
costs, or if track p99 rises far above "ingest alone" while the cores are not saturated.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` and `tests` importable

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks import wrk  # noqa: E402
from benchmarks.payloads import batch_body, single_body  # noqa: E402
from tests.e2e.server import Server, run_cli  # noqa: E402

PROFILE = "user_id:user-100000"  # every event of benchmarks/payloads.py belongs to this user


@dataclass(frozen=True)
class Figures:
    scenario: str
    track_rps: float | None
    track_p50: float | None
    track_p99: float | None
    api_rps: float | None
    api_p50: float | None
    api_p99: float | None
    server_cpu: float


class ApiClients:
    """Threads that loop over three read routes until stopped, timing each answer."""

    def __init__(self, url: str, token: str, space: str, clients: int) -> None:
        base = f"{url}/v1/spaces/{space}/collections/users/profiles/{PROFILE}"
        self._paths = [f"{base}/events?limit=200", f"{base}/traits", f"{url}/api/v1/audiences"]
        self._token = token
        self._clients = clients
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []
        self._threads: list[threading.Thread] = []

    def _loop(self, offset: int) -> None:
        # The Profile API takes Basic auth with the token; the management API a Bearer token.
        headers = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(timeout=30) as client:
            turn = offset
            while not self._stop.is_set():
                path = self._paths[turn % len(self._paths)]
                turn += 1
                started = time.perf_counter()
                answer = (
                    client.get(path, headers=headers)
                    if "/api/" in path
                    else client.get(path, auth=(self._token, ""))
                )
                elapsed = (time.perf_counter() - started) * 1000
                with self._lock:
                    if answer.status_code == 200:
                        self.latencies_ms.append(elapsed)
                    else:
                        self.failures.append(f"{answer.status_code} {path}: {answer.text[:200]}")

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._loop, args=(n,), daemon=True)
            for n in range(self._clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _measure(
    name: str,
    server: Server,
    load: wrk.Load | None,
    api: ApiClients | None,
    seconds: float,
) -> Figures:
    assert server.process is not None
    cpu_before = wrk.process_cpu_seconds(server.process.pid)
    started = time.perf_counter()
    if api is not None:
        api.start()
    result = wrk.run(load) if load is not None else None
    if result is None:
        time.sleep(seconds)
    if api is not None:
        api.stop()
    elapsed = time.perf_counter() - started
    cpu = (wrk.process_cpu_seconds(server.process.pid) - cpu_before) / elapsed
    if result is not None and (result.non_2xx or any(result.socket_errors.values())):
        raise RuntimeError(f"{name}: wrk saw errors:\n{result.output}")
    if api is not None and api.failures:
        raise RuntimeError(f"{name}: {len(api.failures)} API requests failed: {api.failures[0]}")
    latencies = api.latencies_ms if api is not None else []
    return Figures(
        scenario=name,
        track_rps=result.ok_per_second if result else None,
        track_p50=result.latency_ms["p50"] if result else None,
        track_p99=result.latency_ms["p99"] if result else None,
        api_rps=len(latencies) / elapsed if api is not None else None,
        api_p50=statistics.median(latencies) if latencies else None,
        api_p99=_percentile(latencies, 0.99) if latencies else None,
        server_cpu=cpu,
    )


def _wait_stored(data_dir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = run_cli(data_dir, "events", "count", "--json")
        if counts["stored"] >= counts["accepted"]:
            return
        time.sleep(0.5)
    raise RuntimeError("the pipeline did not store the preload in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="per scenario (default 10)")
    parser.add_argument("--api-clients", type=int, default=4, help="API threads (default 4)")
    parser.add_argument("--preload-seconds", type=float, default=5, help="batch load first")
    parser.add_argument("--workers", type=int, default=2, help="collect workers (default 2)")
    args = parser.parse_args()
    if wrk.wrk_path() is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    console = Console()
    root = Path(tempfile.mkdtemp(prefix="seamline-api-placement-"))
    (root / "track.json").write_text(single_body())
    (root / "batch.json").write_text(batch_body(100))
    data_dir = root / "data"
    server = Server(
        data_dir,
        SEAMLINE_COLLECT_WORKERS=str(args.workers),
        SEAMLINE_CONFIG=str(root / "absent-seamline.toml"),
    ).start()
    try:
        auth = wrk.basic_auth(server.write_key)
        token = run_cli(data_dir, "tokens", "create", "--name", "bench", "--json")["token"]

        def load(path: str, body: str, connections: int, seconds: float, tag: str) -> wrk.Load:
            return wrk.Load(f"{server.url}{path}", root / body, auth, tag, 1, connections, seconds)

        console.print(f"preloading {args.preload_seconds:g} s of /v1/batch …")
        wrk.run(load("/v1/batch", "batch.json", 8, args.preload_seconds, "pre"))
        _wait_stored(data_dir, 300)
        stored = run_cli(data_dir, "events", "count", "--json")["stored"]

        def clients() -> ApiClients:
            return ApiClients(server.url, token, "default", args.api_clients)

        rows = [
            _measure(
                "ingest alone",
                server,
                load("/v1/track", "track.json", 32, args.seconds, "a"),
                None,
                args.seconds,
            ),
            _measure("API alone", server, None, clients(), args.seconds),
            _measure(
                "ingest + API",
                server,
                load("/v1/track", "track.json", 32, args.seconds, "b"),
                clients(),
                args.seconds,
            ),
        ]
    finally:
        server.stop(timeout=120)
        shutil.rmtree(root, ignore_errors=True)
    _print(console, rows, stored, args)
    return 0


def _print(console: Console, rows: list[Figures], stored: int, args: argparse.Namespace) -> None:
    def number(value: float | None, digits: int = 0) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    table = Table(
        title=f"APIs in the collect workers ({args.workers} workers, {stored:,} events stored, "
        f"{args.api_clients} API clients)"
    )
    for column in (
        "scenario",
        "track req/s",
        "track p50 ms",
        "track p99 ms",
        "API req/s",
        "API p50 ms",
        "API p99 ms",
        "server CPU",
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        table.add_row(
            row.scenario,
            number(row.track_rps),
            number(row.track_p50, 2),
            number(row.track_p99, 2),
            number(row.api_rps),
            number(row.api_p50, 1),
            number(row.api_p99, 1),
            f"{row.server_cpu:.0%}",
        )
    console.print(table)
    alone, both = rows[0], rows[2]
    if alone.track_rps and both.track_rps:
        console.print(
            f"track throughput with the API running: {both.track_rps / alone.track_rps:.2f}x "
            f"of alone; p99 {both.track_p99:.1f} ms against {alone.track_p99:.1f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())

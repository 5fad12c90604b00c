"""The deterministic identity stage alone, durable, on SQLite and PostgreSQL (issue 16).

`benchmarks/pipeline.py`'s workload (70 % anonymous page views, an identify with email at each
user's login, track events, 5 % of users on two devices, so some merges), decoded up front,
then resolved by `ResolveIdentities` in batches of `--batch-size` on a fresh state store. Each
batch is committed before the next starts (SQLite in WAL mode with its default
`synchronous=FULL`; PostgreSQL with fsync and synchronous_commit on), so the figures are for
durable resolution. Only the stage's calls are timed: wall time and CPU time of the thread
that runs them (one core), per event, over the whole run (the graph grows as it goes, as in
production); `--repeat` runs on fresh stores, best and median printed.

    .venv/bin/python benchmarks/identity_stage.py --events 300000 --users 30000
    .venv/bin/python benchmarks/identity_stage.py --stores sqlite,postgres --repeat 3
    .venv/bin/python benchmarks/identity_stage.py --stores postgres --postgres postgresql://…
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `benchmarks` and `tests` importable

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks.pipeline import generate  # noqa: E402
from seamline.app import tune_runtime  # noqa: E402
from seamline.config import Settings  # noqa: E402
from seamline.identity.rules import IdentityRules  # noqa: E402
from seamline.pipeline.identity_stage import ResolveIdentities  # noqa: E402
from seamline.spec.envelope import Item, envelope_decoder  # noqa: E402
from seamline.store.identity_sql import SqlIdentityGraph  # noqa: E402
from seamline.store.state import merges, open_state_store, profiles  # noqa: E402


@dataclass(frozen=True)
class Run:
    store: str
    wall_us: float  # per event, the stage's calls only
    cpu_us: float  # per event, CPU of the thread running the stage
    p50_batch_ms: float
    profiles: int
    merges: int


def measure(store: str, url: str, items: list[Item], batch_size: int) -> Run:
    """Resolve `items` in batches on the state store at `url`; time only the stage."""
    engine = open_state_store(url)
    try:
        stage = ResolveIdentities(SqlIdentityGraph(engine), IdentityRules())
        wall = cpu = 0.0
        batches: list[float] = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            w0, c0 = time.perf_counter(), time.thread_time()
            stage(batch)
            c1, w1 = time.thread_time(), time.perf_counter()
            wall += w1 - w0
            cpu += c1 - c0
            batches.append(w1 - w0)
        with engine.connect() as conn:
            canonical = conn.execute(
                select(func.count())
                .select_from(profiles)
                .where(profiles.c.canonical_id == profiles.c.id)
            ).scalar_one()
            merged = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    finally:
        engine.dispose()
    n = len(items)
    return Run(
        store,
        wall / n * 1e6,
        cpu / n * 1e6,
        statistics.median(batches) * 1e3,
        canonical,
        merged,
    )


@contextmanager
def sqlite_url() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="seamline-identity-bench-")
    try:
        yield f"sqlite:///{root}/state.db"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_url(external: str | None) -> Iterator[str]:
    from benchmarks.dedup import postgres_server, set_durable
    from tests.postgres import temporary_database

    with postgres_server(external) as server:
        if not external:
            set_durable(server, True)  # an external server is measured as it is configured
        with temporary_database(server) as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=Settings().pipeline_batch_size)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", default="sqlite", help="sqlite, postgres or both (comma)")
    parser.add_argument("--postgres", default=None, help="an external server (default: a wheel)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tune_runtime()  # as `seamline serve` does
    console = Console(width=140)
    console.print(f"load average before: {os.getloadavg()}")
    items = [
        Item(n, envelope_decoder.decode(record))
        for n, record in enumerate(generate(args.events, args.users, args.seed))
    ]
    runs: dict[str, list[Run]] = {}
    for store in args.stores.split(","):
        for _ in range(args.repeat):
            context = sqlite_url() if store == "sqlite" else postgres_url(args.postgres)
            with console.status(f"identity stage on {store}"), context as url:
                run = measure(store, url, items, args.batch_size)
            runs.setdefault(store, []).append(run)
            console.print(f"{store}: {run.cpu_us:.2f} µs CPU, {run.wall_us:.2f} µs wall per event")
    table = Table(
        title=f"Identity stage alone, durable: {args.events:,} events, {args.users:,} users,"
        f" batches of {args.batch_size:,} (best and median of {args.repeat})"
    )
    for column in (
        "store",
        "CPU µs/event best",
        "median",
        "events/s per core (best CPU)",
        "wall µs/event best",
        "median",
        "events/s (best wall)",
        "p50 batch ms",
        "profiles",
        "merges",
    ):
        table.add_column(column, justify="left" if column == "store" else "right")
    for store, done in runs.items():
        cpu = [r.cpu_us for r in done]
        wall = [r.wall_us for r in done]
        table.add_row(
            store,
            f"{min(cpu):.2f}",
            f"{statistics.median(cpu):.2f}",
            f"{1e6 / min(cpu):,.0f}",
            f"{min(wall):.2f}",
            f"{statistics.median(wall):.2f}",
            f"{1e6 / min(wall):,.0f}",
            f"{statistics.median(r.p50_batch_ms for r in done):.1f}",
            f"{done[0].profiles:,}",
            f"{done[0].merges:,}",
        )
    console.print(table)
    console.print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

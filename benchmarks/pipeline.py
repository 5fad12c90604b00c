"""Pipeline throughput: log → dedup → identity → traits → accounts → event store.

Generates N events for M users (70 % anonymous page views, an identify at login, track events,
5 % of users on two devices), appends them to a fresh local log, runs the pipeline until it is
quiet and prints events/s, profiles, merges, p99 time per batch and memory as it goes.

    .venv/bin/python benchmarks/pipeline.py --events 1000000 --users 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from seamline.app import tune_runtime
from seamline.config import Settings
from seamline.identity.rules import IdentityRules
from seamline.log import LocalLog
from seamline.pipeline import PipelineRunner
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.profiles_stage import UpdateAccounts, UpdateTraits
from seamline.pipeline.store_events import StoreEvents
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.events_duckdb import DuckDBEventStore
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import merges, open_state_store, profiles
from seamline.store.traits_sql import SqlTraitStore

START = datetime(2026, 1, 1, tzinfo=UTC)
_raw = msgspec.json.Encoder()


def raw(value: object) -> msgspec.Raw:
    return msgspec.Raw(_raw.encode(value))


def generate(events: int, users: int, seed: int) -> list[bytes]:
    """The workload, as log records."""
    rng = random.Random(seed)
    two_devices = set(rng.sample(range(users), users // 20))
    logged_in = [False] * users
    context = raw(
        {
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
            "ip": "192.0.2.1",
            "page": {"path": "/p", "url": "https://shop.example/p"},
            "userAgent": "Mozilla/5.0",
        }
    )
    records = []
    for n in range(events):
        user = rng.randrange(users)
        device = "b" if user in two_devices and rng.random() < 0.5 else "a"
        anonymous_id = f"anon-{device}-{user}"
        at = START + timedelta(milliseconds=n)
        common = {
            "message_id": f"m-{n}",
            "anonymous_id": anonymous_id,
            "timestamp": at,
            "received_at": at,
            "context": context,
        }
        roll = rng.random()
        if (not logged_in[user] and roll < 0.08) or (device == "b" and roll < 0.02):
            logged_in[user] = True
            message = Message(
                type="identify",
                user_id=f"user-{user}",
                traits=raw(
                    {"email": f"user{user}@example.com", "plan": rng.choice(["free", "pro"])}
                ),
                **common,
            )
        elif roll < 0.70:
            message = Message(
                type="page", name="Product", properties=raw({"sku": f"sku-{n % 977}"}), **common
            )
        else:
            user_id = f"user-{user}" if logged_in[user] else None
            message = Message(
                type="track",
                user_id=user_id,
                event="Product Viewed",
                properties=raw({"sku": f"sku-{n % 977}", "price": n % 200}),
                **common,
            )
        records.append(
            envelope_encoder.encode(
                Envelope(workspace_id="default", source_id="src_bench", message=message)
            )
        )
    return records


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(args: argparse.Namespace, console: Console) -> None:
    root = Path(tempfile.mkdtemp(prefix="seamline-pipeline-bench-", dir=args.data_root))
    console.print(f"data dir {root}; generating {args.events:,} events for {args.users:,} users …")
    records = generate(args.events, args.users, args.seed)
    log = LocalLog(root / "log", fsync=False)
    for start in range(0, len(records), 10_000):
        await log.append(records[start : start + 10_000])
    del records
    engine = open_state_store(f"sqlite:///{root}/state.db")
    events = DuckDBEventStore(root / "events.duckdb")
    seen = SqliteSeenMessages(root / "dedup.sqlite")
    traits = SqlTraitStore(engine)
    stages = (
        DropDuplicates(seen, 86400),
        ResolveIdentities(SqlIdentityGraph(engine), IdentityRules()),
        UpdateTraits(traits),
        UpdateAccounts(SqlAccountStore(engine), traits),
    )
    batch_times: list[float] = []
    memory: list[tuple[int, float]] = []
    last = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("pipeline", total=args.events)

        def committed(offset: int, _processed: int) -> None:
            nonlocal last
            now = time.perf_counter()
            batch_times.append(now - last)
            last = now
            progress.update(task, completed=offset)
            if not memory or offset - memory[-1][0] >= args.events // 8:
                memory.append((offset, rss_mib()))

        runner = PipelineRunner(
            log,
            stages,
            tail=(StoreEvents(events),),  # as `seamline serve` wires it
            batch_size=args.batch_size,
            on_commit=committed,
            on_resume=events.truncate_from,
        )
        stop = asyncio.Event()
        stop.set()
        began = time.perf_counter()
        last = began
        await runner.run(stop)
        elapsed = time.perf_counter() - began
    with engine.connect() as conn:
        profile_count = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id == profiles.c.id)
        ).scalar_one()
        merge_count = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    stored = events.count()
    table = Table(title="Seamline pipeline (embedded: SQLite state, DuckDB events)")
    for column in (
        "events",
        "users",
        "batch",
        "seconds",
        "events/s",
        "profiles",
        "merges",
        "p50 batch ms",
        "p99 batch ms",
        "stored",
    ):
        table.add_column(column, justify="right")
    ordered = sorted(batch_times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    table.add_row(
        f"{args.events:,}",
        f"{args.users:,}",
        str(args.batch_size),
        f"{elapsed:.1f}",
        f"{args.events / elapsed:,.0f}",
        f"{profile_count:,}",
        f"{merge_count:,}",
        f"{statistics.median(batch_times) * 1000:.1f}",
        f"{p99 * 1000:.1f}",
        f"{stored:,}",
    )
    console.print(table)
    console.print(
        "memory (RSS MiB) by events processed: " + ", ".join(f"{o:,}: {m:.0f}" for o, m in memory)
    )
    console.print(
        "command: .venv/bin/python benchmarks/pipeline.py"
        f" --events {args.events} --users {args.users} --batch-size {args.batch_size}"
    )
    await log.close()
    events.close()
    seen.close()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=Settings().pipeline_batch_size)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    tune_runtime()  # as `seamline serve` does
    asyncio.run(run(args, Console(width=140)))


if __name__ == "__main__":
    main()

"""Pipeline throughput: log → dedup → [protocols → PII] → identity → traits → accounts → events.

Generates N events for M users (70 % anonymous page views, an identify at login, track events
over 50 event names, 5 % of users on two devices), appends them to partition 0 of a fresh local
partitioned log, runs the pipeline until it is quiet and prints events/s, profiles, merges, p99
time per batch and memory. The stores are `seamline serve`'s embedded ones: SQLite state, the
Parquet event lake (`LakeEventStore`, its catalog in the state store, compacting in the
background).

`--protocols` picks what runs between dedup and identity:
  off   neither the protocols nor the privacy stage (the pipeline before they existed);
  idle  both stages, nothing configured (every workspace pays this: the data inventory);
  on    a 50-event tracking plan with schema controls, 5 transformations, PII controls
        (red data dropped before storage, emails hashed for one destination);
  on-ip `on`, and every IP address masked before storage (every message changes);
  all   each in turn on the same workload, with their ratios to `off`.

`--engage 0,20` runs once per count of live audiences (with 3 computed traits when above 0):
the Engage stage in the tail, its announcements appended to the log and processed too, and
prints the throughput loss against 0.

`--trace off,on` runs the same workload without and with the message trace (issue 14: every
stage notes what it did, the last tail stage writes one row per message per batch), each
`--repeat` times, interleaved, and prints the median of each and the cost of tracing.

    .venv/bin/python benchmarks/pipeline.py --events 1000000 --users 100000
    .venv/bin/python benchmarks/pipeline.py --events 300000 --users 30000 --protocols all
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
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
from seamline.engage.people import StoredPeople
from seamline.engage.realtime import RealtimeEngine
from seamline.identity.rules import IdentityRules
from seamline.log.partitions import LazyWriter, LocalPartitions
from seamline.pipeline import PipelineRunner
from seamline.pipeline.batch import Stage
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.privacy_stage import ControlPersonalData
from seamline.pipeline.profiles_stage import UpdateAccounts, UpdateTraits
from seamline.pipeline.protocols_stage import ApplyProtocols
from seamline.pipeline.store_events import StoreEvents
from seamline.pipeline.trace import TraceRecorder, WriteTraces
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item, envelope_encoder
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.inventory_sql import SqlInventory
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.state import merges, open_state_store, profiles
from seamline.store.traces_sql import TRACE_FILE, trace_store
from seamline.store.traits_sql import SqlTraitStore
from seamline.workspace.compiled import RulesCache
from seamline.workspace.kinds import normalise

START = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE = "src_bench"
NOUNS = ("Product", "Cart", "Checkout", "Order", "Coupon", "Promotion", "Wishlist", "Review")
NOUNS += ("Video", "Account")
EVENT_NAMES = [
    f"{noun} {verb}"
    for verb in ("Viewed", "Started", "Completed", "Applied", "Clicked")
    for noun in NOUNS
]
"""50 distinct event names: the tracking plan's events."""
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
            defect = rng.random()
            name = rng.choice(EVENT_NAMES)
            price: object = n % 200
            if defect < 0.01:
                name = "product viewed"  # a merge_events transformation renames it back
            elif defect < 0.03:
                price = str(price)  # a cast transformation fixes it
            elif defect < 0.035:
                name = "Legacy Event"  # unplanned: quarantined
            properties = {"sku": f"sku-{n % 977}", "price": price, "currency": "usd", "debug": "1"}
            message = Message(
                type="track",
                user_id=user_id,
                event=name,
                properties=raw(properties),
                **common,
            )
        records.append(
            envelope_encoder.encode(
                Envelope(workspace_id="default", source_id="src_bench", message=message)
            )
        )
    return records


def configure(resources: SqlResourceStore, mask_ips: bool) -> None:
    """The `on` configuration: a 50-event plan, 5 transformations, PII controls (red data
    dropped before storage, emails hashed for an ad destination); `on-ip` also masks every
    IP address before storage, which changes every message."""
    product = {
        "sku": {"type": "string", "required": True},
        "price": {"type": "number", "minimum": 0},
        "currency": {"enum": ["USD", "EUR"]},
        "label": "string",
    }
    plan = {
        "events": {name: {"properties": product} for name in EVENT_NAMES},
        "pages": {"Product": {"properties": {"sku": "string"}}},
        "identify": {"traits": {"email": {"type": "string", "format": "email"}}},
    }
    documents = {
        ("tracking_plan", "Shop"): plan,
        ("source_connection", SOURCE): {
            "tracking_plan": "Shop",
            "schema_controls": {
                "unplanned_events": "quarantine",
                "violations": "omit",
                "unplanned_properties": "omit",
            },
        },
        ("transformation", "1-merge"): {
            "kind": "merge_events",
            "events": ["product viewed"],
            "to": "Product Viewed",
        },
        ("transformation", "2-cast-price"): {
            "kind": "cast",
            "types": ["track"],
            "property": "properties.price",
            "cast": "number",
        },
        ("transformation", "3-currency"): {
            "kind": "map_value",
            "property": "properties.currency",
            "map": {"usd": "USD"},
        },
        ("transformation", "4-drop-debug"): {
            "kind": "drop_property",
            "properties": ["properties.debug"],
        },
        ("transformation", "5-label"): {
            "kind": "derive",
            "property": "properties.label",
            "template": "{{properties.sku}}/{{properties.currency}}",
            "where": "properties.price > 100",
        },
        ("pii_control", "drop-red"): {"classification": "red", "control": "drop"},
        ("pii_control", "ads-emails"): {
            "kind": "email",
            "control": "hash_plain",
            "destinations": ["meta"],
        },
    }
    if mask_ips:
        documents["pii_control", "mask-ips"] = {"kind": "ip_address", "control": "mask"}
    for (kind, name), document in documents.items():
        resources.put("default", kind, name, normalise(kind, name, document))


def engage_definitions(resources: SqlResourceStore, audiences: int) -> None:
    """`audiences` audiences over the workload's events and traits, and 3 computed traits."""
    traits = {
        "views_30d": {"kind": "event_counter", "event": "Product Viewed", "window": "30d"},
        "spend": {"kind": "aggregation", "event": "Order Completed", "property": "price",
                  "function": "sum"},
        "last_sku": {"kind": "last", "event": "Product Viewed", "property": "sku"},
    }  # fmt: skip
    for key, document in traits.items():
        resources.put("default", "computed_trait", key, normalise("computed_trait", key, document))
    for i in range(audiences):
        a, b = EVENT_NAMES[i % len(EVENT_NAMES)], EVENT_NAMES[(i * 7 + 3) % len(EVENT_NAMES)]
        shape = i % 5
        if shape == 0:
            condition: dict[str, object] = {
                "performed": {"event": a, "at_least": 2, "within": "30d"}
            }
        elif shape == 1:
            where = [{"property": "price", "op": ">", "value": 100}]
            condition = {"performed": {"event": a, "where": where, "within": "7d"}}
        elif shape == 2:
            condition = {"all": [{"trait": {"name": "plan", "value": "pro"}},
                                 {"performed": {"event": a}}]}  # fmt: skip
        elif shape == 3:
            condition = {"sequence": {"steps": [a, b], "within": "1d"}}
        else:
            condition = {"all": [{"not": {"audience": f"aud_{i - 1}"}},
                                 {"performed": {"event": b, "within": "30d"}}]}  # fmt: skip
        key = f"aud_{i}"
        document = {"condition": condition}
        canonical = normalise("audience", key, document, lambda k, n: _stored(resources, k, n))
        resources.put("default", "audience", key, canonical)


def _stored(resources: SqlResourceStore, kind: str, name: str) -> dict[str, object] | None:
    found = resources.get("default", kind, name)
    return None if found is None else found.document


class TimedStage:
    """A stage and the time its calls took: wall, and CPU of the thread running them (one
    core). The identity stage's figures in the table come from here (issue 16: ≥ 50 k
    events/s per core, durable: each call commits its batch to the state store)."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.wall = self.cpu = 0.0

    def __call__(self, batch: list[Item]) -> list[Item]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.stage(batch)
        finally:
            self.cpu += time.thread_time() - cpu
            self.wall += time.perf_counter() - wall


CPU_US_PER_EVENT: list[float] = []
"""CPU time (all threads) per event of each run: steadier than events/s on a shared machine,
where other processes' load decides how much wall time a run gets."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(
    args: argparse.Namespace,
    console: Console,
    mode: str,
    records: list[bytes],
    audiences: int = 0,
    trace: bool = False,
) -> float:
    """One run on a fresh data directory; returns events/s."""
    root = Path(tempfile.mkdtemp(prefix="seamline-pipeline-bench-", dir=args.data_root))
    console.print(
        f"[bold]protocols {mode}, {audiences} audiences, trace {'on' if trace else 'off'}[/]: "
        f"data dir {root}"
    )
    # As `seamline serve` lays it out: the workload in partition 0 (a collect worker's), the
    # Engage stage's announcements in a partition the pipeline claims when it first appends.
    log = LocalPartitions(root / "log", fsync=False)
    collect = log.claim(0)
    for start in range(0, len(records), 10_000):
        await collect.append(records[start : start + 10_000])
    announcements = LazyWriter(log)
    engine = open_state_store(f"sqlite:///{root}/state.db")
    events = LakeEventStore(root / "events", engine)  # its catalog in the state store, as serve
    seen = SqliteSeenMessages(root / "dedup.sqlite")
    traits = SqlTraitStore(engine)
    resources = SqlResourceStore(engine)
    rules = RulesCache(resources, root / "functions")
    if mode in ("on", "on-ip"):
        configure(resources, mask_ips=mode == "on-ip")
    tail: list[Stage] = [StoreEvents(events)]  # as `seamline serve` wires it
    recorder = TraceRecorder() if trace else None
    if audiences:
        engage_definitions(resources, audiences)
        end_us = int(START.timestamp() * 1_000_000) + args.events * 1_000
        engage_engine_store = SqlEngageStore(engine)
        engage_engine = RealtimeEngine(
            engage_engine_store,
            StoredPeople(traits, SqlAccountStore(engine)),
            events.track_events,
            clock=lambda: end_us,
        )
        tail.append(
            EvaluateEngage(
                lambda w: rules.get(w).engage,
                engage_engine,
                engage_engine_store.identifiers_of_people,
                lambda found: announcements.submit([envelope_encoder.encode(e) for e in found]),
                trace=recorder,
            )
        )
    if recorder is not None:
        # Last, in a file of their own beside the SQLite state, as `seamline serve` wires it.
        tail.append(WriteTraces(recorder, trace_store(engine, root / TRACE_FILE), 72.0))
    data_controls = (
        ApplyProtocols(rules.get, SqlProtocolsStore(engine), trace=recorder),
        ControlPersonalData(
            rules.get,
            lambda _w: b"bench-salt",
            SqlInventory(engine),
            SqlProtocolsStore(engine),
            trace=recorder,
        ),
    )
    identity = TimedStage(ResolveIdentities(SqlIdentityGraph(engine), IdentityRules()))
    stages = (
        DropDuplicates(seen, 86400, recorder),
        *(data_controls if mode != "off" else ()),
        identity,
        UpdateTraits(traits, recorder),
        UpdateAccounts(SqlAccountStore(engine), traits),
    )
    batch_times: list[float] = []
    memory: list[tuple[int, float]] = []
    last = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("pipeline", total=args.events)

        done = 0

        def committed(_partition: int, _offset: int, processed: int) -> None:
            nonlocal last, done
            now = time.perf_counter()
            batch_times.append(now - last)
            last = now
            done += processed
            progress.update(task, completed=done)
            if not memory or done - memory[-1][0] >= args.events // 8:
                memory.append((done, rss_mib()))

        runner = PipelineRunner(
            log,
            stages,
            tail=tail,
            batch_size=args.batch_size,
            on_commit=committed,
            on_resume=events.truncate_from,
        )
        stop = asyncio.Event()
        stop.set()
        began = time.perf_counter()
        cpu_began = cpu_seconds()
        last = began
        # A run ends once what was appended before it is processed; announcements appended
        # meanwhile (maybe in a partition the runner has not listed yet) take another round.
        while True:
            await runner.run(stop)
            ends = log.end_offsets()
            if all(runner.committed.get(p, 0) >= end for p, end in ends.items()):
                break
        elapsed = time.perf_counter() - began
        CPU_US_PER_EVENT.append((cpu_seconds() - cpu_began) / args.events * 1e6)
    with engine.connect() as conn:
        profile_count = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id == profiles.c.id)
        ).scalar_one()
        merge_count = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    stored = events.count()
    table = Table(title=f"Seamline pipeline, protocols {mode} (SQLite state, Parquet lake events)")
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
        "identity CPU µs/event",
        "identity events/s per core",
        "identity wall µs/event",
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
        f"{identity.cpu / args.events * 1e6:.1f}",
        f"{args.events / identity.cpu:,.0f}",
        f"{identity.wall / args.events * 1e6:.1f}",
    )
    console.print(table)
    console.print(
        "memory (RSS MiB) by events processed: " + ", ".join(f"{o:,}: {m:.0f}" for o, m in memory)
    )
    console.print(
        "command: .venv/bin/python benchmarks/pipeline.py"
        f" --events {args.events} --users {args.users} --batch-size {args.batch_size}"
        f" --protocols {args.protocols}"
    )
    await log.close()  # the writers it handed out, too
    events.close()
    seen.close()
    rules.close()
    engine.dispose()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return args.events / elapsed


async def compare(args: argparse.Namespace, console: Console) -> None:
    console.print(f"generating {args.events:,} events for {args.users:,} users …")
    records = generate(args.events, args.users, args.seed)
    modes = ("off", "idle", "on", "on-ip") if args.protocols == "all" else (args.protocols,)
    counts = [int(n) for n in args.engage.split(",")]
    if args.trace == "off,on":
        runs: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeat):
            for traced in (False, True):
                rate = await run(args, console, modes[0], records, counts[0], traced)
                runs[traced].append(rate)
                cpu[traced].append(CPU_US_PER_EVENT[-1])
        table = Table(title="Message trace: cost against no tracing in the same run")
        for column in (
            "trace",
            "events/s (each run)",
            "median",
            "cost",
            "CPU µs/event (each run)",
            "median",
            "cost",
        ):
            table.add_column(column, justify="right")
        off, off_cpu = statistics.median(runs[False]), statistics.median(cpu[False])
        for traced, rates in runs.items():
            median, median_cpu = statistics.median(rates), statistics.median(cpu[traced])
            table.add_row(
                "on" if traced else "off",
                ", ".join(f"{r:,.0f}" for r in rates),
                f"{median:,.0f}",
                f"{(1 - median / off) * 100:.1f} %",
                ", ".join(f"{c:.0f}" for c in cpu[traced]),
                f"{median_cpu:.0f}",
                f"{(median_cpu / off_cpu - 1) * 100:.1f} %",
            )
        console.print(table)
        return
    if len(counts) > 1:
        engage_rates = {n: await run(args, console, modes[0], records, n) for n in counts}
        table = Table(title=f"Engage stage: cost against {counts[0]} audiences in the same run")
        for column in ("audiences", "events/s", f"ratio to {counts[0]}", "cost"):
            table.add_column(column, justify="right")
        for n, rate in engage_rates.items():
            ratio = rate / engage_rates[counts[0]]
            table.add_row(str(n), f"{rate:,.0f}", f"{ratio:.2f}", f"{(1 - ratio) * 100:.0f} %")
        console.print(table)
        return
    traced = args.trace == "on"
    rates = {mode: await run(args, console, mode, records, counts[0], traced) for mode in modes}
    if len(rates) > 1:
        table = Table(title="Protocols and privacy stages: cost against `off` in the same run")
        for column in ("configuration", "events/s", "ratio to off", "cost"):
            table.add_column(column, justify="right")
        for mode, rate in rates.items():
            ratio = rate / rates["off"]
            table.add_row(mode, f"{rate:,.0f}", f"{ratio:.2f}", f"{(1 - ratio) * 100:.0f} %")
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=Settings().pipeline_batch_size)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--keep", action="store_true", help="keep each run's data directory")
    parser.add_argument(
        "--protocols", choices=("off", "idle", "on", "on-ip", "all"), default="idle"
    )
    parser.add_argument(
        "--engage", default="0", help="Live audiences, or a comma list to compare (0,20)"
    )
    parser.add_argument(
        "--trace",
        choices=("off", "on", "off,on"),
        default="off",
        help="Record message traces; off,on compares the two in the same run",
    )
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each with --trace off,on")
    args = parser.parse_args()
    tune_runtime()  # as `seamline serve` does
    asyncio.run(compare(args, Console(width=140)))


if __name__ == "__main__":
    main()

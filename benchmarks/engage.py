"""Engage: the batch engine on a large event lake, and the real-time engine per event.

Part 1, `batch`: generates the history of the embedded event store (`LakeEventStore`, columns
`seamline.store.event_rows.COLUMNS`) straight into Parquet files with vectorised SQL (DuckDB's
COPY), listed in the store's catalog, laid out as compaction leaves a history (`--file-rows` for
another layout) —
N events for M profiles over the 90 days before a fixed `now`, 30 track event names with a
skewed mix (`Order Completed` ~3 %), order and product events carrying
`{"total" | "price": …, "category": …}`, one identify per profile with `plan` (free 60 %, pro
30 %, enterprise 10 %) and `email` traits, a small `context` on every event, profile activity
skewed towards low `use_<n>` ids. Then it times, as the median of `--runs` after a warm-up, each
through a fresh `LakeEventStore.cursor()` (DuckDB over the view `events`):

  compute   `compute(duckdb_backend(conn), …)`: every profile's value, materialised to Arrow;
  count     `compile_members(…).count()`: how many members, nothing materialised;
  reference a hand-written one-pass DuckDB query for the same audience (not Seamline code; a
            yardstick for the compiled query, and a check of its member count).

The three are timed in turn, round after round. `--compare-file` also copies the rows into one
DuckDB database file with the store's columns (the design the lake replaced) and times the same
queries on it in the same rounds.

The audience is `high_value`: performed `Order Completed` at least 2 times within 30 days, trait
`plan` = `pro`, and not in `recent_refunders` (performed `Order Refunded` within 30 days). The
target (issue: 10 M events / 1 M profiles) is `compute` in ≤ 5 s.

Part 2, `realtime`: the real-time engine's cost per event with the real stores (SQLite state
store, the Parquet lake for hydration), as `tests/engage/harness.py` wires them: batches of
track/identify events over a smaller population with a generated history, per event: the trait
upsert the pipeline already does (baseline) against `RealtimeEngine.apply` + `record` with 0, 5
and 20 audiences live (performed with windows, traits, sequences, not-in-audience, plus 4
computed traits with the 20). Each configuration starts from a copy of the same stores; the
first batches (hydration from the history) are warm-up and reported apart. Defaults: 50 k
profiles, 500 k history events, 3 warm-up + 25 measured batches of 2,000.

`--only all` (the default) runs both parts; `--quick` is 1 M events / 100 k profiles for part 1
and 20 k profiles / 200 k history / 10 batches for part 2. Stores go to a temporary directory
(`--data-root`), removed afterwards unless `--keep`.

    .venv/bin/python benchmarks/engage.py --quick
    .venv/bin/python benchmarks/engage.py --only batch                # 10 M events / 1 M profiles
    .venv/bin/python benchmarks/engage.py --only realtime --rt-profiles 50000 --rt-batches 25
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import insert

from seamline.app import tune_runtime
from seamline.engage.backends import compute, duckdb_backend
from seamline.engage.batch import compile_members
from seamline.engage.definition import Audience, ComputedTrait, parse_audience, parse_trait
from seamline.engage.people import StoredPeople
from seamline.engage.realtime import RealtimeEngine
from seamline.engage.rules import EngageRules, build
from seamline.profiles.traits import TraitUpdate, trait_updates
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.event_files import EventFile
from seamline.store.event_rows import COLUMNS
from seamline.store.events_lake import MERGE_AFTER, SIZE_CLASSES, LakeEventStore
from seamline.store.state import open_state_store, profiles
from seamline.store.traits_sql import SqlTraitStore

WORKSPACE = "default"
SOURCE = "src_bench"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
"""Part 1's `now`: events span the 90 days before it."""
HISTORY_DAYS = 90
TARGET_SECONDS = 5.0
TARGET_SIZE = (10_000_000, 1_000_000)

EVENT_MIX: tuple[tuple[str, float], ...] = (
    ("Product Viewed", 18.0), ("Product List Viewed", 9.5), ("Products Searched", 8.0),
    ("Product Clicked", 7.0), ("Application Opened", 6.0), ("Product Added", 5.5),
    ("Cart Viewed", 4.5), ("Video Played", 4.0), ("Checkout Started", 3.5),
    ("Order Completed", 3.0), ("Promotion Viewed", 3.0), ("Feature Used", 3.0),
    ("Push Notification Received", 3.0), ("Email Opened", 2.8), ("Checkout Step Completed", 2.7),
    ("Product Removed", 2.5), ("Payment Info Entered", 2.2), ("Coupon Applied", 2.0),
    ("Signed In", 2.0), ("Email Link Clicked", 1.5), ("Wishlist Product Added", 1.4),
    ("Push Notification Tapped", 1.0), ("Settings Changed", 1.0), ("Product Shared", 0.8),
    ("Signed Up", 0.5), ("Review Submitted", 0.5), ("Subscription Renewed", 0.4),
    ("Newsletter Subscribed", 0.3), ("Support Ticket Created", 0.2), ("Order Refunded", 0.2),
)  # fmt: skip
"""The 30 track event names and their share of track events, in percent."""
ORDER_EVENTS = ("Order Completed", "Order Refunded", "Checkout Started")
PRODUCT_EVENTS = (
    "Product Viewed", "Product Clicked", "Product Added", "Product Removed",
    "Wishlist Product Added",
)  # fmt: skip
CATEGORIES = ("shoes", "shoes", "shoes", "bags", "bags", "shirts", "hats", "books")
PLANS = (("free", 60), ("pro", 30), ("enterprise", 10))
PROFILE_SKEW = 1.5
"""Profile n of M is picked with u ** 1.5 (u uniform): the lowest ids are the most active."""
IDENTIFY_SHARE = 0.1
"""Share of identify calls among part 2's live events."""

assert len(EVENT_MIX) == 30 and math.isclose(sum(w for _, w in EVENT_MIX), 100.0)


# -- definitions ----------------------------------------------------------------------------------


def performed(event: str, **counts: Any) -> dict[str, Any]:
    return {"performed": {"event": event, **counts}}


BATCH_AUDIENCES: dict[str, Any] = {
    "churn_risk": performed("Order Completed", at_least=1, within="90d"),
    "recent_refunders": performed("Order Refunded", within="30d"),
    "high_value": {
        "all": [
            performed("Order Completed", at_least=2, within="30d"),
            {"trait": {"name": "plan", "value": "pro"}},
            {"not": {"audience": "recent_refunders"}},
        ]
    },
}
"""Part 1: `high_value` is measured; `churn_risk` is defined but not needed by it."""

REALTIME_TRAITS: dict[str, Any] = {
    "orders_90d": {"kind": "event_counter", "event": "Order Completed", "window": "90d"},
    "total_spend": {
        "kind": "aggregation", "event": "Order Completed", "property": "total", "function": "sum",
    },
    "favourite_category": {
        "kind": "most_frequent", "event": "Product Viewed", "property": "category",
        "window": "30d",
    },
    "last_category": {"kind": "last", "event": "Order Completed", "property": "category"},
}  # fmt: skip
REALTIME_AUDIENCES: dict[str, Any] = {
    # The first five are the 5-audience configuration.
    "recent_refunders": BATCH_AUDIENCES["recent_refunders"],
    "high_value": BATCH_AUDIENCES["high_value"],
    "churn_risk": {
        "all": [
            performed("Order Completed", at_least=1, within="90d"),
            {"not_performed": {"event": "Product Viewed", "within": "14d"}},
        ]
    },
    "cart_abandoners": {
        "all": [
            performed("Product Added", within="7d"),
            {"not_performed": {"event": "Order Completed", "within": "7d"}},
        ]
    },
    "browse_to_buy": {
        "sequence": {
            "steps": ["Product Viewed", "Product Added", "Order Completed"],
            "within": "1d",
            "during": "30d",
        }
    },
    "enterprise_users": {"trait": {"name": "plan", "value": "enterprise"}},
    "big_spenders": {"trait": {"name": "total_spend", "op": ">", "value": 500}},
    "active_7d": {
        "any": [
            performed("Application Opened", within="7d"),
            performed("Product Viewed", within="7d"),
            performed("Signed In", within="7d"),
        ]
    },
    "shoe_buyers": {
        "performed": {
            "event": "Order Completed",
            "where": [{"property": "category", "value": "shoes"}],
            "within": "90d",
        }
    },
    "frequent_buyers": performed("Order Completed", at_least=5, within="90d"),
    "pro_without_orders": {
        "all": [
            {"trait": {"name": "plan", "value": "pro"}},
            {"not_performed": {"event": "Order Completed", "within": "90d"}},
        ]
    },
    "signup_to_order": {"sequence": {"steps": ["Signed Up", "Order Completed"], "within": "7d"}},
    "newsletter": performed("Newsletter Subscribed"),
    "coupon_users": performed("Coupon Applied", at_least=2, within="30d"),
    "email_known": {"trait": {"name": "email", "op": "exists"}},
    "vip": {"any": [{"audience": "high_value"}, {"audience": "big_spenders"}]},
    "lapsed_vip": {"all": [{"audience": "big_spenders"}, {"not": {"audience": "active_7d"}}]},
    "video_fans": performed("Video Played", at_least=3, within="14d"),
    "shoe_browsers": {"trait": {"name": "favourite_category", "value": "shoes"}},
    "support_contacts": performed("Support Ticket Created", within="30d"),
}
assert len(REALTIME_AUDIENCES) == 20


def audiences(documents: dict[str, Any]) -> list[Audience]:
    return [parse_audience(key, {"condition": doc}) for key, doc in documents.items()]


def traits(documents: dict[str, Any]) -> list[ComputedTrait]:
    return [parse_trait(key, doc) for key, doc in documents.items()]


# -- the event store ----------------------------------------------------------------------------


def _coprime(n: int, start: int = 7919) -> int:
    """A multiplier that permutes 0..n-1 (i * m mod n)."""
    m = start
    while math.gcd(m, n) != 1:
        m += 1
    return m


def _case(value: str, choices: Sequence[tuple[str, float]], scale: int) -> str:
    """SQL CASE picking a choice by `value` in [0, scale) with the choices' weights."""
    total = sum(weight for _, weight in choices)
    parts, cumulative = [], 0.0
    for name, weight in choices[:-1]:
        cumulative += weight
        parts.append(f"WHEN {value} < {round(cumulative / total * scale)} THEN {_literal(name)}")
    return f"CASE {' '.join(parts)} ELSE {_literal(choices[-1][0])} END"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(_literal(name) for name in names)


def _concat(template: str, **values: str) -> str:
    """SQL building `template`'s text with each `<name>` replaced by the expression `values[name]`
    (concat is several times faster than printf or json_object here)."""
    parts = re.split(r"<(\w+)>", template)
    sql = [values[part] if index % 2 else _literal(part) for index, part in enumerate(parts)]
    return f"concat({', '.join(part for part in sql if part != _literal(''))})"


def events_sql(events: int, people: int, seed: int, now: datetime, lo: int, hi: int) -> str:
    """SELECT of rows lo..hi-1 of the generated store (row i is log offset i, in time order)."""
    stride = events // people  # row i is an identify when i % stride == 0: one per profile
    span = HISTORY_DAYS * 86_400_000_000
    step = span // events
    start = int(now.timestamp() * 1_000_000) - span
    categories = f"[{_quoted(CATEGORIES)}][1 + (h3 // 65536) % {len(CATEGORIES)}]"
    plan = _case("h3 % 100", [(name, share) for name, share in PLANS], 100)
    order = _concat(
        '{"total": <total>, "category": "<category>"}',
        total="(h3 % 39500 + 500) / 100",
        category=categories,
    )
    product = _concat(
        '{"price": <price>, "category": "<category>"}',
        price="(h3 % 19500 + 500) / 100",
        category=categories,
    )
    identify = _concat('{"email": "user<p>@example.com", "plan": "<plan>"}', p="p", plan=plan)
    columns = {
        "log_offset": "i",
        "workspace_id": f"'{WORKSPACE}'",
        "source_id": f"'{SOURCE}'",
        "message_id": "'m-' || i",
        "type": "CASE WHEN ident THEN 'identify' ELSE 'track' END",
        "event": "CASE WHEN ident THEN NULL ELSE ev END",
        "name": "NULL",
        "category": "NULL",
        "user_id": "'user-' || p",
        "anonymous_id": "NULL",
        "group_id": "NULL",
        "previous_id": "NULL",
        "timestamp": "ts",
        "original_timestamp": "ts",
        "sent_at": "ts",
        "received_at": "ts + INTERVAL 300 MILLISECOND",
        "channel": "'server'",
        "version": "NULL",
        "properties": (
            "CASE WHEN ident THEN NULL"
            f" WHEN ev IN ({_quoted(ORDER_EVENTS)}) THEN {order}"
            f" WHEN ev IN ({_quoted(PRODUCT_EVENTS)}) THEN {product} END"
        ),
        "traits": f"CASE WHEN ident THEN {identify} END",
        "context": _concat(
            '{"library": {"name": "analytics-python", "version": "2.3.2"}, "ip": "10.<a>.<b>.<c>"}',
            a="p // 65536 % 256",
            b="p // 256 % 256",
            c="p % 256",
        ),
        "integrations": "NULL",
        "profile_id": "'use_' || p",
    }
    assert list(columns) == [name for name, _ in COLUMNS], "keep to the store's schema"
    # Each value cast to its column's type, so the files hold what the store writes (JSON
    # columns as JSON, times as TIMESTAMPTZ); `range` yields rows in log order.
    typed = ", ".join(
        f'CAST({value} AS {kind.replace(" NOT NULL", "")}) AS "{name}"'
        for value, (name, kind) in zip(columns.values(), COLUMNS, strict=True)
    )
    return (
        f"SELECT {typed} FROM ("
        f" SELECT *, {_case('(h2 % 10000)', EVENT_MIX, 10_000)} AS ev,"
        f"  CASE WHEN ident THEN (i // {stride} * {_coprime(people)} + {seed}) % {people}"
        f"  ELSE least({people - 1}, CAST(floor({people}"
        f"   * pow(h1 / 9007199254740992.0, {PROFILE_SKEW})) AS BIGINT)) END AS p"
        " FROM ("
        f"  SELECT i, i % {stride} = 0 AND i // {stride} < {people} AS ident,"
        f"   CAST(hash(i, {seed}) >> 11 AS BIGINT) AS h1,"
        f"   CAST(hash(i, {seed + 1}) >> 11 AS BIGINT) AS h2,"
        f"   CAST(hash(i, {seed + 2}) >> 11 AS BIGINT) AS h3,"
        f"   make_timestamptz({start} + i * {step}) AS ts"
        f"  FROM range({lo}, {hi}) AS r(i)))"
    )


def compacted_layout(events: int, batch: int = 5_000) -> list[int]:
    """Rows per file of a history the pipeline wrote in batches of `batch` and compaction then
    merged: runs of MERGE_AFTER files of a size class become one file of the next class, up to
    the last class, which is never merged (10 M rows: 7 files of 1.28 M and 13 of 80 k)."""
    sizes, left = [], events
    for size in sorted(
        (batch * MERGE_AFTER**k for k in range(len(SIZE_CLASSES) + 1)), reverse=True
    ):
        sizes += [size] * (left // size)
        left %= size
    return sizes + ([left] if left else [])


def generate(
    store: LakeEventStore,
    events: int,
    people: int,
    seed: int,
    now: datetime,
    console: Console,
    file_rows: int = 0,
) -> float:
    """Fill the empty lake `store`; returns seconds.

    Each file is written by DuckDB's COPY straight from the generating query (zstd, as the
    store writes merged and loaded files) and listed in the store's catalog, as
    `LakeEventStore.load` would list it, without building the rows in Arrow first. The files
    are laid out as compaction leaves a history (`compacted_layout`), or `file_rows` each."""
    layout = (
        [file_rows] * (events // file_rows) + ([events % file_rows] if events % file_rows else [])
        if file_rows
        else compacted_layout(events)
    )
    bounds, lo = [], 0
    for rows in layout:
        bounds.append((lo, lo + rows))
        lo += rows
    began = time.perf_counter()
    conn = duckdb.connect()
    conn.execute("SET enable_progress_bar = false")
    (store.root / "0").mkdir(parents=True, exist_ok=True)

    def write_file(lo: int, hi: int) -> EventFile:
        name = f"0/{lo:019d}-generated.parquet"
        path = str(store.root / name).replace("'", "''")
        cursor = conn.cursor()
        try:
            cursor.execute(
                f"COPY ({events_sql(events, people, seed, now, lo, hi)}) TO '{path}'"
                " (FORMAT parquet, COMPRESSION zstd)"
            )
        finally:
            cursor.close()
        size = (store.root / name).stat().st_size
        return EventFile(0, name, 0, lo, hi - 1, hi - lo, size)

    written = []
    # Two files at a time: one COPY leaves a core idle part of the time (its last row groups).
    with (
        Progress(console=console, transient=True) as progress,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        task = progress.add_task(f"generating {events:,} events", total=events)
        futures = [pool.submit(write_file, lo, hi) for lo, hi in bounds]
        for future in as_completed(futures):
            written.append(future.result())
            progress.advance(task, written[-1].rows)
    store.catalog.add(sorted(written, key=lambda f: f.first_position))
    conn.close()
    return time.perf_counter() - began


def file_size(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# -- part 1: batch --------------------------------------------------------------------------------

REFERENCE_SQL = """
WITH e AS (
  SELECT profile_id AS pid, type, event, "timestamp" AS ts, log_offset AS off,
    CASE WHEN type = 'identify' AND (traits -> '$.plan') IS NOT NULL THEN traits -> '$.plan'
         ELSE context -> '$.traits.plan' END AS plan
  FROM events WHERE workspace_id = $workspace AND profile_id IS NOT NULL
), per AS (
  SELECT pid,
    count(*) FILTER (WHERE type = 'track' AND event = 'Order Completed' AND ts >= $since) AS o,
    count(*) FILTER (WHERE type = 'track' AND event = 'Order Refunded' AND ts >= $since) AS r,
    arg_max(plan, (ts, off)) FILTER (WHERE plan IS NOT NULL) AS plan
  FROM e GROUP BY pid
)
SELECT count(*) FROM per
WHERE o >= 2 AND r = 0 AND json_type(plan) = 'VARCHAR' AND (plan ->> '$') = 'pro'
"""
"""`high_value` by hand in one pass: a yardstick, and a check of the engine's member count."""


@dataclass
class Timing:
    name: str
    what: str
    seconds: list[float]
    warmup: float
    rows: int | None = None
    members: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


Job = tuple[str, str, Callable[[], Any], Callable[[Any], tuple[int, int]]]
"""(name, what, work, read): `read` gives (rows, members) of what `work` returned."""


def timed_in_turn(jobs: Sequence[Job], runs: int) -> list[Timing]:
    """A warm-up call of each job, then `runs` rounds calling every job in turn, so that other
    work on the machine falls on all of them alike."""
    warmups, results = [], []
    for _, _, work, _ in jobs:
        began = time.perf_counter()
        work()
        warmups.append(time.perf_counter() - began)
        results.append(None)
    seconds: list[list[float]] = [[] for _ in jobs]
    for _ in range(runs):
        for index, (_, _, work, _) in enumerate(jobs):
            began = time.perf_counter()
            results[index] = work()
            seconds[index].append(time.perf_counter() - began)
    return [
        Timing(name, what, seconds[index], warmups[index], *read(results[index]))
        for index, (name, what, _, read) in enumerate(jobs)
    ]


def reader(store: LakeEventStore) -> duckdb.DuckDBPyConnection:
    """A cursor over the view `events`, as the CLI and the APIs get one (`store.cursor()`)."""
    cursor = store.cursor()
    cursor.execute("SET enable_progress_bar = false")  # it would print between Rich's lines
    return cursor


def run_batch(args: argparse.Namespace, console: Console, root: Path) -> None:
    console.rule(f"[bold]Part 1: batch, {args.events:,} events / {args.profiles:,} profiles")
    catalog = open_state_store(f"sqlite:///{root / 'state.db'}")
    store = LakeEventStore(root / "events", catalog, compact=False)
    console.print(f"store: {store.root}, catalog in {root / 'state.db'}")
    generation = generate(
        store, args.events, args.profiles, args.seed, NOW, console, args.file_rows
    )
    files = store.catalog.live()
    size = sum(f.bytes for f in files)
    conn = reader(store)
    since = NOW - timedelta(days=30)
    facts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE type = 'identify'),"
        " count(*) FILTER (WHERE event = 'Order Completed'),"
        " count(*) FILTER (WHERE event = 'Order Completed' AND timestamp >= $1),"
        " count(DISTINCT profile_id), min(timestamp), max(timestamp) FROM events",
        [since],
    ).fetchone()
    assert facts is not None
    total, identifies, orders, recent_orders, distinct, first, last = facts
    data = Table(title="Generated event store (Parquet lake, LakeEventStore's columns)")
    for column in (
        "events", "profiles", "identify", "Order Completed", "… in 30 d", "from", "to",
        "generate s", "events/s", "files", "MiB", "bytes/event",
    ):  # fmt: skip
        data.add_column(column, justify="right")
    data.add_row(
        f"{total:,}",
        f"{distinct:,}",
        f"{identifies:,}",
        f"{orders:,} ({orders / total:.1%})",
        f"{recent_orders:,}",
        f"{first:%Y-%m-%d}",
        f"{last:%Y-%m-%d %H:%M}",
        f"{generation:.1f}",
        f"{total / generation:,.0f}",
        f"{len(files):,}",
        f"{size / 2**20:,.0f}",
        f"{size / total:.0f}",
    )
    console.print(data)

    definitions = build([], audiences(BATCH_AUDIENCES))
    rules = definitions.only(["high_value"])
    console.print(
        f"rules.only(['high_value']) keeps {list(rules.audiences)} "
        f"(of {list(definitions.audiences)}); reads traits {list(rules.needs.traits)}; "
        f"{len(rules.features)} features"
    )

    old_design = None
    if args.compare_file:
        # The design the lake replaced, as a yardstick in the same run: the same rows in one
        # DuckDB database file with the store's columns.
        with console.status("copying the rows into a DuckDB file (--compare-file) …"):
            old_design = duckdb.connect(str(root / "events.duckdb"))
            old_design.execute("SET enable_progress_bar = false")
            columns = ", ".join(f'"{name}" {sql}' for name, sql in COLUMNS)
            old_design.execute(f"CREATE TABLE events ({columns})")
            listed = ", ".join(_literal(str(store.root / f.path)) for f in files)
            old_design.execute(f"INSERT INTO events SELECT * FROM read_parquet([{listed}])")
            old_design.execute("CHECKPOINT")
        console.print(
            f"DuckDB file with the same rows: {file_size(root / 'events.duckdb') / 2**20:,.0f} MiB"
        )
    conn.close()

    def jobs(label: str, cursor_of: Callable[[], duckdb.DuckDBPyConnection]) -> list[Job]:
        """The three queries, each on a fresh cursor from `cursor_of`, as `ops.engage` takes
        one per call (for the lake: the store checks its catalog)."""

        def compute_all() -> pa.Table:
            with contextlib.closing(cursor_of()) as cursor:
                return compute(duckdb_backend(cursor), WORKSPACE, rules, [], NOW)

        def count_members() -> int:
            with contextlib.closing(cursor_of()) as cursor:
                backend = duckdb_backend(cursor)
                flat = backend.flat(WORKSPACE, rules, [])
                members = compile_members(rules, "high_value", flat, NOW).count()
                return int(backend.execute(members).as_py())

        def reference() -> int:
            with contextlib.closing(cursor_of()) as cursor:
                found = cursor.execute(
                    REFERENCE_SQL, {"workspace": WORKSPACE, "since": since}
                ).fetchone()
            return int(found[0]) if found else -1

        def members_of(table: pa.Table) -> tuple[int, int]:
            return table.num_rows, int(pc.sum(table["high_value"].cast(pa.int64())).as_py() or 0)

        return [
            (f"compute{label}", "every profile's membership → Arrow", compute_all, members_of),
            (f"count{label}", "compile_members(…).count()", count_members, lambda n: (1, n)),
            (f"reference{label}", "hand-written one-pass SQL", reference, lambda n: (1, n)),
        ]

    queued = jobs("", lambda: reader(store))
    if old_design is not None:
        queued += jobs(" (DuckDB file)", old_design.cursor)
    with console.status(f"timing ({args.runs} rounds after a warm-up) …"):
        timings = timed_in_turn(queued, args.runs)
    store.close()
    catalog.dispose()
    if old_design is not None:
        old_design.close()

    full_size = (args.events, args.profiles) == TARGET_SIZE
    table = Table(
        title=(
            f"Engage batch: audience high_value over {args.events:,} events / "
            f"{args.profiles:,} profiles in {len(files)} Parquet files (DuckDB "
            f"{duckdb.__version__}, ibis {ibis.__version__}, {os.cpu_count()} CPUs)"
        )
    )
    for column in (
        "query", "what", "warm-up s", "runs s", "median s", "events/s", "rows", "members",
        "vs compute", f"≤ {TARGET_SECONDS:g} s",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column in ("query", "what") else "right")
    base = timings[0].median
    for t in timings:
        met = t.median <= TARGET_SECONDS
        verdict = "[green]met[/]" if met else "[red]missed[/]"
        table.add_row(
            t.name,
            t.what,
            f"{t.warmup:.2f}",
            " ".join(f"{s:.2f}" for s in t.seconds),
            f"{t.median:.2f}",
            f"{args.events / t.median:,.0f}",
            f"{t.rows:,}",
            f"{t.members:,}",
            f"{t.median / base:.2f}x",
            verdict if t.name in ("compute", "count") else "",
        )
    console.print(table)
    counts = {t.name: t.members for t in timings}
    agree = len(set(counts.values())) == 1
    console.print(
        "member counts "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + (": [green]agree[/]" if agree else ": [bold red]DISAGREE[/]")
    )
    compute_median = timings[0].median
    scope = "" if full_size else f" (the target is set for {TARGET_SIZE[0]:,} / {TARGET_SIZE[1]:,})"
    console.print(
        f"target: compute ≤ {TARGET_SECONDS:g} s{scope}: "
        + (
            f"[green]met[/] ({compute_median:.2f} s)"
            if compute_median <= TARGET_SECONDS
            else f"[red]missed[/] ({compute_median:.2f} s)"
        )
    )


# -- part 2: real time ----------------------------------------------------------------------------


@dataclass
class Configuration:
    label: str
    rules: EngageRules


@dataclass
class Measured:
    config: Configuration
    upsert: list[float] = field(default_factory=list)  # seconds per measured batch
    apply: list[float] = field(default_factory=list)
    record: list[float] = field(default_factory=list)
    changes: int = 0
    warmup_changes: int = 0
    first_batch: float = 0.0  # apply + record of the first batch (hydration)
    warmup: float = 0.0  # apply + record of the other warm-up batches
    states: int = 0
    state_bytes: float = 0.0
    values: int = 0


def _raw(value: Any) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value))


def live_batches(
    count: int, size: int, people: int, first_offset: int, start: datetime, seed: int
) -> list[list[Item]]:
    """Batches of track and identify calls in log order, one per 10 ms from `start`."""
    rng = random.Random(seed)
    names = [name for name, _ in EVENT_MIX]
    weights = [weight for _, weight in EVENT_MIX]
    plans = [name for name, _ in PLANS]
    plan_weights = [share for _, share in PLANS]
    batches = []
    offset = first_offset
    for _ in range(count):
        items = []
        for _ in range(size):
            n = min(people - 1, int(people * rng.random() ** PROFILE_SKEW))
            at = start + timedelta(milliseconds=10 * (offset - first_offset))
            common: dict[str, Any] = {
                "message_id": f"live-{offset}",
                "user_id": f"user-{n}",
                "timestamp": at,
                "received_at": at,
                "context": _raw(
                    {
                        "library": {"name": "analytics-python", "version": "2.3.2"},
                        "ip": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                    }
                ),
            }
            if rng.random() < IDENTIFY_SHARE:
                traits = {
                    "email": f"user{n}@example.com",
                    "plan": rng.choices(plans, plan_weights)[0],
                }
                message = Message(type="identify", traits=_raw(traits), **common)
            else:
                event = rng.choices(names, weights)[0]
                properties: dict[str, Any] = {}
                if event in ORDER_EVENTS:
                    properties = {"total": round(rng.uniform(5, 400), 2)}
                elif event in PRODUCT_EVENTS:
                    properties = {"price": round(rng.uniform(5, 200), 2)}
                if properties:
                    properties["category"] = rng.choice(CATEGORIES)
                message = Message(type="track", event=event, properties=_raw(properties), **common)
            envelope = Envelope(workspace_id=WORKSPACE, source_id=SOURCE, message=message)
            items.append(Item(offset, envelope, f"use_{n}"))
            offset += 1
        batches.append(items)
    return batches


def prepare_stores(base: Path, args: argparse.Namespace, console: Console) -> float:
    """The event store with the history, and a state store with every profile and its traits
    from the history's identify calls; returns the generation seconds. The lake's catalog is in
    the state store, as `seamline serve` keeps it."""
    state = open_state_store(f"sqlite:///{base / 'state.db'}")
    history = LakeEventStore(base / "events", state, compact=False)
    seconds = generate(
        history, args.rt_history, args.rt_profiles, args.seed, NOW, console, args.file_rows
    )
    with state.begin() as conn:
        conn.execute(
            insert(profiles),
            [
                {"id": f"use_{n}", "workspace_id": WORKSPACE, "canonical_id": f"use_{n}",
                 "created_at": NOW - timedelta(days=HISTORY_DAYS)}
                for n in range(args.rt_profiles)
            ],
        )  # fmt: skip
    rows = history.query(
        "SELECT profile_id, traits, timestamp, message_id FROM events WHERE type = 'identify'"
    )
    history.close()
    updates = [
        TraitUpdate(pid, name, value, False, at, SOURCE, message_id)
        for pid, document, at, message_id in rows
        for name, value in msgspec.json.decode(document).items()
    ]
    SqlTraitStore(state).upsert(updates)
    state.dispose()
    return seconds


def run_configuration(
    config: Configuration,
    base: Path,
    root: Path,
    batches: list[list[Item]],
    warmup: int,
    clock_us: int,
    progress: Progress,
) -> Measured:
    """Every batch through trait upsert → engine apply → record, on copies of the base stores."""
    here = Path(tempfile.mkdtemp(prefix=f"rt-{config.label}-", dir=root))
    shutil.copy(base / "state.db", here / "state.db")
    shutil.copytree(base / "events", here / "events")
    state = open_state_store(f"sqlite:///{here / 'state.db'}")
    # No background compaction: this measures the engine (compaction: benchmarks/event_store.py).
    events = LakeEventStore(here / "events", state, compact=False)
    traits_store = SqlTraitStore(state)
    store = SqlEngageStore(state)
    engine = RealtimeEngine(
        store,
        StoredPeople(traits_store, SqlAccountStore(state)),
        events.track_events,
        clock=lambda: clock_us,
    )
    measured = Measured(config)
    task = progress.add_task(f"{config.label} audiences", total=len(batches))
    for index, items in enumerate(batches):
        events.write(items)  # the engage stage runs after the event store
        t0 = time.perf_counter()
        updates = trait_updates(items)
        if updates:
            traits_store.upsert(updates)
        t1 = time.perf_counter()
        changes = engine.apply(WORKSPACE, config.rules, items)
        t2 = time.perf_counter()
        engine.record(changes)
        t3 = time.perf_counter()
        if index == 0:
            measured.first_batch = t3 - t1
            measured.warmup_changes += len(changes)
        elif index < warmup:
            measured.warmup += t3 - t1
            measured.warmup_changes += len(changes)
        else:
            measured.upsert.append(t1 - t0)
            measured.apply.append(t2 - t1)
            measured.record.append(t3 - t2)
            measured.changes += len(changes)
        progress.advance(task)
    with state.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*), coalesce(avg(length(states)), 0) FROM engage_states"
        ).one()
        measured.states, measured.state_bytes = int(found[0]), float(found[1])
        measured.values = int(conn.exec_driver_sql("SELECT count(*) FROM engage_values").scalar())
    events.close()
    state.dispose()
    return measured


def run_realtime(args: argparse.Namespace, console: Console, root: Path) -> None:
    console.rule(
        f"[bold]Part 2: real time, batches of {args.rt_batch_size:,} over "
        f"{args.rt_profiles:,} profiles, history of {args.rt_history:,} events"
    )
    tune_runtime()  # as `seamline serve` does
    base = root / "realtime-base"
    base.mkdir()
    generation = prepare_stores(base, args, console)
    console.print(f"history and state stores prepared in {generation:.1f} s (generation) at {base}")
    total = args.rt_warmup + args.rt_batches
    clock = NOW + timedelta(milliseconds=10 * total * args.rt_batch_size)  # after every event
    batches = live_batches(
        total, args.rt_batch_size, args.rt_profiles, args.rt_history, NOW, args.seed + 17
    )
    full = build(traits(REALTIME_TRAITS), audiences(REALTIME_AUDIENCES))
    configs = [
        Configuration("0", build([], [])),
        Configuration("5", full.only(list(REALTIME_AUDIENCES)[:5])),
        Configuration("20", full),
    ]
    results = []
    with Progress(console=console, transient=True) as progress:
        for config in configs:
            results.append(
                run_configuration(
                    config, base, root, batches, args.rt_warmup,
                    int(clock.timestamp() * 1_000_000), progress,
                )
            )  # fmt: skip

    measured_events = args.rt_batches * args.rt_batch_size
    touched = {item.profile_id for items in batches[args.rt_warmup :] for item in items}
    before = {item.profile_id for items in batches[: args.rt_warmup] for item in items}
    table = Table(
        title=(
            f"Engage real time: cost per event ({args.rt_batches} measured batches of "
            f"{args.rt_batch_size:,} = {measured_events:,} events on {len(touched):,} of "
            f"{args.rt_profiles:,} profiles, {len(touched - before):,} not seen in warm-up; "
            "SQLite state, Parquet lake history)"
        )
    )
    for column in (
        "audiences", "features", "upsert µs/ev", "apply µs/ev", "record µs/ev", "engine µs/ev",
        "÷ upsert", "engine ev/s", "p50 batch ms", "p99 batch ms", "changes/1k ev",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    warm = Table(title="Warm-up and state (same runs)")
    for column in (
        "audiences", "1st batch s", "next warm-up batches s", "warm-up changes",
        "engage_states rows", "state B", "engage_values rows",
    ):  # fmt: skip
        warm.add_column(column, justify="right")
    for m in results:
        rules = m.config.rules
        live = f"{len(rules.audiences)}" + (f" +{len(rules.traits)} traits" if rules.traits else "")
        per_batch = sorted(a + r for a, r in zip(m.apply, m.record, strict=True))
        upsert = sum(m.upsert) / measured_events * 1e6
        apply = sum(m.apply) / measured_events * 1e6
        record = sum(m.record) / measured_events * 1e6
        engine = apply + record
        p99 = per_batch[min(len(per_batch) - 1, int(len(per_batch) * 0.99))]
        table.add_row(
            live,
            str(len(rules.features)),
            f"{upsert:,.1f}",
            f"{apply:,.1f}",
            f"{record:,.1f}",
            f"{engine:,.1f}",
            f"{engine / upsert:.1f}x",
            "—" if rules.empty else f"{1e6 / engine:,.0f}",
            f"{statistics.median(per_batch) * 1000:,.1f}",
            f"{p99 * 1000:,.1f}",
            f"{m.changes / measured_events * 1000:,.0f}",
        )
        warm.add_row(
            live,
            f"{m.first_batch:.2f}",
            f"{m.warmup:.2f}",
            f"{m.warmup_changes:,}",
            f"{m.states:,}",
            f"{m.state_bytes:,.0f}" if m.states else "—",
            f"{m.values:,}",
        )
    console.print(table)
    console.print(warm)
    console.print(
        "features: feature states kept per profile. upsert: trait_updates + SqlTraitStore.upsert "
        "(what the pipeline's trait stage does already). apply: RealtimeEngine.apply. record: "
        "RealtimeEngine.record. engine ev/s: 1e6 / engine µs, the engine alone on one core. "
        "1st batch: apply + record of the first batch, which hydrates every feature from the "
        f"history; it and the next {args.rt_warmup - 1} batches are warm-up. state B: mean JSON "
        "size of an engage_states row (one per profile with events) at the end. changes: values "
        "stored by record (a person's first evaluation stores every non-empty value)."
    )
    console.print(
        "5 audiences: " + ", ".join(configs[1].rules.audiences) + "; 20 adds "
        + ", ".join(k for k in configs[2].rules.audiences if k not in configs[1].rules.audiences)
        + "; traits " + ", ".join(configs[2].rules.traits)
    )  # fmt: skip


# -- command line ---------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("batch", "realtime", "all"), default="all")
    parser.add_argument("--events", type=int, default=10_000_000, help="part 1 events")
    parser.add_argument("--profiles", type=int, default=1_000_000, help="part 1 profiles")
    parser.add_argument("--runs", type=int, default=3, help="part 1 timed runs per query")
    parser.add_argument("--rt-profiles", type=int, default=50_000)
    parser.add_argument("--rt-history", type=int, default=500_000, help="events before the run")
    parser.add_argument("--rt-batches", type=int, default=25, help="measured batches")
    parser.add_argument("--rt-warmup", type=int, default=3, help="batches before measuring")
    parser.add_argument("--rt-batch-size", type=int, default=2_000)
    parser.add_argument(
        "--file-rows",
        type=int,
        default=0,
        help="rows per generated Parquet file (default: the layout compaction leaves; 5000 is"
        " a history of pipeline batches never compacted)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 M events / 100 k profiles; part 2 on 20 k profiles, 10 batches",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-root", default=None, help="where the temporary stores go")
    parser.add_argument("--keep", action="store_true", help="keep the generated stores")
    parser.add_argument(
        "--compare-file",
        action="store_true",
        help="part 1 also on the same rows in a DuckDB database file (the design the lake"
        " replaced), timed in turn with the lake",
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.profiles = 1_000_000, 100_000
        args.rt_profiles, args.rt_history, args.rt_batches = 20_000, 200_000, 10
    if args.events < 2 * args.profiles or args.rt_history < 2 * args.rt_profiles:
        parser.error("give at least two events per profile (one of them is an identify)")
    if args.rt_warmup < 1:
        parser.error("--rt-warmup: at least 1 (the first batch hydrates)")
    console = Console(width=160)
    root = Path(tempfile.mkdtemp(prefix="seamline-engage-bench-", dir=args.data_root))
    console.print(
        f"{os.cpu_count()} CPUs, DuckDB {duckdb.__version__}, ibis {ibis.__version__}; "
        f"load average before: {_load()} (other work on the machine skews the timings)"
    )
    began = time.perf_counter()
    try:
        if args.only in ("batch", "all"):
            run_batch(args, console, root)
        if args.only in ("realtime", "all"):
            run_realtime(args, console, root)
    finally:
        if args.keep:
            console.print(f"stores kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    console.print(
        f"total {time.perf_counter() - began:.0f} s; load average after: {_load()}; command: "
        + shlex.join([".venv/bin/python", "benchmarks/engage.py", *sys.argv[1:]])
    )


if __name__ == "__main__":
    main()

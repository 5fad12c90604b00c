"""Rows per second of a Reverse ETL run on PostgreSQL, against a plain SELECT of the same rows
measured in the same run (the baseline: reading is the floor of any run).

select       the model's query read through a server-side cursor, nothing else
first run    every row is added: read, checksum, map, queue in the outbox, write the snapshot
second run   1 % of the rows changed: read, checksum and diff everything, queue the 1 %
unchanged    a third run with nothing changed

The model is `SELECT id, email, plan, score, updated_at FROM customers` (N rows) with one
mirror subscription to a webhook (`data` = the whole row). The source table and the state store
(outbox, snapshots) are two databases of one PostgreSQL: `--postgres URL` (a server URL), or
an embedded server started for the run (tests/postgres.py). Nothing is delivered.

  .venv/bin/python benchmarks/reverse_etl.py --rows 100000     # ~1 minute on 2 cores

Measured (2 shared cores, load average 5.5): select 89,700 rows/s; first run 3,130 rows/s
(100,000 queued); 1 % changed 30,800 rows/s (0.34x the select); unchanged 32,800 rows/s. The
first run is mostly the outbox's and the snapshot's inserts, which psycopg's executemany sends
a row at a time (pipelined); multi-row VALUES built by SQLAlchemy measured slower (compiling).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from rich.console import Console
from rich.table import Table

from seamline.store.state import open_state_store
from tests.reverse_etl.harness import Harness, harness, plain_url

QUERY = "SELECT id, email, plan, score, updated_at FROM customers"


@contextmanager
def databases(server: str | None) -> Iterator[tuple[str, str]]:
    """Two new databases (the source, the state store) on `server` or an embedded one."""
    from tests.postgres import EmbeddedPostgres, temporary_database

    with contextlib.ExitStack() as stack:
        url = server or stack.enter_context(EmbeddedPostgres()).url
        yield (
            stack.enter_context(temporary_database(url)),
            stack.enter_context(temporary_database(url)),
        )


def fill(url: str, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big (id integer PRIMARY KEY, email text, plan text, score numeric, "
            "updated_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO big SELECT n, 'user' || n || '@example.com', "
            "CASE WHEN n %% 3 = 0 THEN 'pro' ELSE 'free' END, n * 1.5, "
            "timestamptz '2026-11-01' + n * interval '1 minute' FROM generate_series(1, %s) n",
            (rows,),
        )


def plain_select(url: str) -> int:
    count = 0
    with psycopg.connect(url) as conn, conn.cursor(name="baseline") as cursor:
        cursor.execute(QUERY.replace("customers", "big"))
        while chunk := cursor.fetchmany(5000):
            count += len(chunk)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: embedded)")
    args = parser.parse_args()
    console = Console()
    with databases(args.postgres) as (source, state), tempfile.TemporaryDirectory() as tmp:
        fill(plain_url(source), args.rows)
        engine = open_state_store(state)
        found: list[tuple[str, float, int, int]] = []
        started = time.perf_counter()
        read = plain_select(plain_url(source))
        found.append(("select", time.perf_counter() - started, read, 0))
        for models in harness(engine, source, Path(tmp)):
            run(models, args.rows, found)
        engine.dispose()
    table = Table(
        "step", "rows", "queued", "seconds", "rows/s", "vs select", title=f"{args.rows:,} rows"
    )
    base = found[0][2] / found[0][1]
    for step, seconds, rows, queued in found:
        rate = rows / seconds
        shown = (f"{rows:,}", f"{queued:,}", f"{seconds:.2f}", f"{rate:,.0f}")
        table.add_row(step, *shown, f"{rate / base:.2f}x")
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def run(models: Harness, rows: int, found: list[tuple[str, float, int, int]]) -> None:
    model = {
        "source": {"type": "postgres", "url": models.source_url},
        "query": QUERY.replace("customers", "big"),
        "primary_key": "id",
        "max_rows": max(rows, 1),
        "subscriptions": {
            "mirror": {
                "destination": "hook",
                "action": "send",
                "sync_mode": "mirror",
                "mapping": {"url": "https://hooks.example.com/in", "data": {"@path": "$."}},
            }
        },
    }
    models.save("model", "big", model)
    for step, change in (
        ("first run", None),
        ("second run (1 %)", "UPDATE big SET plan = 'changed' WHERE id % 100 = 0"),
        ("unchanged", None),
    ):
        if change:
            models.source(change)
        models.deliver_all()
        started = time.perf_counter()
        done = models.runner.run("default", "big")
        assert done.status == "succeeded", done.error
        found.append((step, time.perf_counter() - started, done.rows_read, done.queued))


if __name__ == "__main__":
    main()

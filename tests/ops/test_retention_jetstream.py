"""Retention with the JetStream log: the pipeline's expiry job purges the expired, committed
records of the partitions it leases, and the lake's rows, in one run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.log.base import PIPELINE_CONSUMER
from seamline.log.nats import NatsLog
from seamline.store.retention_sql import SqlRetention
from tests.log.conftest import drop_stream
from tests.nats_server import nats_server_url
from tests.ops.test_retention import Served

__all__ = ["nats_server_url"]
pytestmark = pytest.mark.anyio


@pytest.fixture
async def on_jetstream(tmp_path: Path, nats_server_url: str) -> AsyncIterator[Served]:
    settings = Settings(data_dir=tmp_path / "data", log_url=nats_server_url, log_partitions=2)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Served(app, source, client)
    finally:
        await app.stop()
        await drop_stream([nats_server_url], "SEAMLINE")


async def records(app: Seamline) -> int:
    """Records in the stream, read by scanners of their own (the pipeline's reader stays)."""
    log = app.log_partitions
    assert isinstance(log, NatsLog)
    found = 0
    for partition in await log.partitions():
        scanner = log.scanner(partition)
        found += len(await scanner.read(0, 1000))
        await scanner.close()
    return found


async def stored(served: Served, count: int) -> None:
    """Wait until the lake holds `count` events and every partition is committed to its end
    (`caught_up` sees JetStream's lag a second late)."""
    log = served.app.log_partitions
    for _ in range(1500):
        if len(served.stored()) == count and all(
            [
                await log.committed(PIPELINE_CONSUMER, p) >= await log.end_offset(p)
                for p in await log.partitions()
            ]
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the lake never held {count} events")


async def test_the_pipeline_purges_expired_committed_records(on_jetstream: Served) -> None:
    app = on_jetstream.app
    await on_jetstream.send("old", 6)
    await stored(on_jetstream, 6)
    assert await records(app) == 6
    SqlRetention(app.state).set("default", "30d")
    worker = app.pipeline.retention if app.pipeline else None
    assert worker is not None
    worker.now = lambda: datetime.now(UTC) + timedelta(days=31)

    run = await worker.run_async()

    assert run is not None and run.events == 6 and on_jetstream.stored() == []
    # Every partition keeps its newest record (its end is read from it); the rest went.
    log = app.log_partitions
    partitions = [p for p in await log.partitions() if await log.end_offset(p)]
    assert run.log_records == 6 - len(partitions) and await records(app) == len(partitions)
    for p in partitions:
        assert await log.committed(PIPELINE_CONSUMER, p) == await log.end_offset(p)
    await on_jetstream.send("new", 2)  # the pipeline goes on from where it was
    await stored(on_jetstream, 2)
    assert sorted(on_jetstream.stored()) == ["new0", "new1"]

"""JetStream fixtures for the log's tests: a server (or cluster) per session, a stream per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest

from seamline.log.nats import NatsLog
from tests.nats_server import nats_cluster, nats_server_url

__all__ = ["nats_cluster", "nats_log", "nats_server_url"]


@pytest.fixture
async def nats_log(nats_server_url: str) -> AsyncIterator[NatsLog]:
    """A log on a stream and subjects of its own, deleted with its offsets bucket afterwards."""
    name = f"T{uuid.uuid4().hex[:12]}"
    log = await NatsLog.connect(
        [nats_server_url], stream=name, partitions=4, subject_prefix=f"{name}.log"
    )
    try:
        yield log
    finally:
        await log.close()
        await drop_stream([nats_server_url], name)


async def drop_stream(urls: list[str], stream: str) -> None:
    """Delete a test's stream and its offsets bucket."""
    client = await nats.connect(servers=urls)
    try:
        js = client.jetstream()
        await js.delete_stream(stream)
        await js.delete_key_value(f"{stream}_offsets")
    finally:
        await client.close()

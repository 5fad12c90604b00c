"""A deletion regulation on the JetStream log: the pipeline worker that runs it deletes the
person's records from the stream (and their rows from the lake), everyone else's stay."""

from __future__ import annotations

import asyncio

import pytest

from seamline.log.nats import NatsLog
from tests.nats_server import nats_server_url
from tests.ops.test_retention import Served
from tests.ops.test_retention_jetstream import on_jetstream, stored

__all__ = ["nats_server_url", "on_jetstream"]
pytestmark = pytest.mark.anyio


async def payloads(served: Served) -> list[bytes]:
    log = served.app.log_partitions
    assert isinstance(log, NatsLog)
    found: list[bytes] = []
    for partition in await log.partitions():
        scanner = log.scanner(partition)
        found += [record.payload for record in await scanner.read(0, 1000)]
        await scanner.close()
    return found


async def test_a_deletion_removes_the_persons_records_from_the_stream(
    on_jetstream: Served,
) -> None:
    await on_jetstream.send("keep", 3)
    await on_jetstream.send("gone", 1)  # userId gone0
    await stored(on_jetstream, 4)
    assert any(b"gone0" in p for p in await payloads(on_jetstream))
    body = {"regulationType": "DELETE_INTERNAL", "subjectType": "USER_ID", "subjectIds": ["gone0"]}
    created = await on_jetstream.client.post(
        "/api/v1/regulations", json=body, headers=on_jetstream.auth
    )
    assert created.status_code == 200, created.text
    regulation_id = created.json()["data"]["regulateId"]
    status = ""
    for _ in range(600):
        answer = await on_jetstream.client.get(
            f"/api/v1/regulations/{regulation_id}", headers=on_jetstream.auth
        )
        status = answer.json()["data"]["regulation"]["overallStatus"]
        if status not in ("INITIALIZED", "RUNNING"):
            break
        await asyncio.sleep(0.05)
    assert status == "FINISHED", answer.text
    left = await payloads(on_jetstream)
    assert not any(b"gone0" in p for p in left)
    assert sum(b"keep" in p for p in left) == 3
    assert on_jetstream.stored() == ["keep0", "keep1", "keep2"]  # message ids

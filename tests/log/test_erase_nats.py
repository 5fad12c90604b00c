"""Erasing a person from the JetStream log, on a real nats-server: their records are deleted
(and their bytes overwritten in the store); a request that held others' messages too is
published again with only those."""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from seamline.log.erase import erase_from_log, needles_of
from seamline.log.nats import NatsLog
from seamline.pipeline.runner import decode_record
from tests.log.conftest import drop_stream
from tests.log.test_erase import ALICE, MARKER, envelope, is_alice
from tests.nats_server import NatsServer

pytestmark = pytest.mark.anyio


def request(*messages: bytes) -> bytes:
    """A record as the Tracking API's requests are published: a JSON array of envelopes."""
    return b"[" + b",".join(messages) + b"]"


async def message_ids(log: NatsLog, partition: int) -> list[tuple[int, list[str]]]:
    records = await log.read(partition, 0, 1000)
    return [
        (r.offset, [e.message.message_id or "" for e in decode_record(r.payload)]) for r in records
    ]


async def fill(log: NatsLog) -> dict[str, int]:
    writer = log.writer()
    return {
        "alice": await writer.append([request(envelope(0, "alice"))], partition=0, msg_id="r0"),
        "bob": await writer.append([request(envelope(1, "bob"))], partition=0, msg_id="r1"),
        "mixed": await writer.append(
            [request(envelope(2, "bob"), envelope(3, "alice"), envelope(4, "bob"))],
            partition=0,
            msg_id="r2",
        ),
        "alice1": await writer.append([request(envelope(6, "alice"))], partition=1, msg_id="r3"),
    }


async def test_a_persons_records_are_deleted_and_a_mixed_request_keeps_the_others(
    nats_log: NatsLog,
) -> None:
    at = await fill(nats_log)
    progress: list[tuple[int, int]] = []

    erased = await erase_from_log(
        nats_log, is_alice, needles=needles_of(ALICE), progress=lambda *a: progress.append(a)
    )

    assert (erased.records_erased, erased.records_rewritten) == (2, 1)
    assert sorted(m.message_id for m in erased.messages) == ["alice-m0", "alice-m3", "alice-m6"]
    partition0 = await message_ids(nats_log, 0)
    assert partition0[0] == (at["bob"], ["bob-m1"])
    # The mixed request's others come back as a new record at the partition's end.
    [(offset, ids)] = partition0[1:]
    assert ids == ["bob-m2", "bob-m4"] and offset > at["alice1"]
    assert await message_ids(nats_log, 1) == []
    assert progress and progress[-1][0] == progress[-1][1]

    again = await erase_from_log(nats_log, is_alice, needles=needles_of(ALICE))
    assert (again.records_erased, again.records_rewritten, again.messages) == (0, 0, [])
    assert await message_ids(nats_log, 0) == partition0


def store_dir(server: NatsServer) -> Path:
    """Where the node keeps its streams, as its monitoring endpoint says."""
    url = f"http://127.0.0.1:{server.nodes[0].monitor_port}/jsz?config=true"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return Path(json.loads(answer.read())["config"]["store_dir"])


async def test_the_deleted_records_bytes_are_gone_from_the_servers_store() -> None:
    with NatsServer() as server:
        name = f"T{uuid.uuid4().hex[:12]}"
        log = await NatsLog.connect(
            [server.url], stream=name, partitions=2, subject_prefix=f"{name}.log"
        )
        try:
            await fill(log)
            files = [p for p in store_dir(server).rglob("*") if p.is_file()]
            assert any(MARKER.encode() in p.read_bytes() for p in files)
            await erase_from_log(log, is_alice, needles=needles_of(ALICE))
            for path in (p for p in store_dir(server).rglob("*") if p.is_file()):
                content = path.read_bytes()
                for secret in (MARKER, ALICE[0], ALICE[1]):
                    assert secret.encode() not in content, (secret, path)
            assert b"bob-m2" in b"".join(
                p.read_bytes() for p in store_dir(server).rglob("*") if p.is_file()
            )
        finally:
            await log.close()
            await drop_stream([server.url], name)

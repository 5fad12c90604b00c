"""The JetStream log against a real nats-server: the local log's behaviours that apply, plus the
duplicate window, partitions, and a stream leader killed while appending on a 3-node cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from datetime import timedelta

import nats
import pytest
from nats.aio.msg import Msg

from seamline.log.nats import NatsLog, NatsUnavailable, NatsWriter, partition_for
from seamline.log.nats_reader import ConsumerLost, _sequences
from tests.log.conftest import drop_stream
from tests.nats_server import NatsCluster, NatsServer, _free_port

pytestmark = pytest.mark.anyio


def payloads(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(count)]


async def read_all(log: NatsLog, partition: int, batch: int = 1000) -> list[tuple[int, bytes]]:
    records: list[tuple[int, bytes]] = []
    offset = 0
    while chunk := await log.read(partition, offset, batch):
        records += chunk
        offset = chunk[-1].offset + 1
    return records


async def consumers_on(url: str, stream: str) -> int:
    """How many consumers the server holds for the stream (asked on a connection of its own)."""
    client = await nats.connect(url)
    try:
        return len(await client.jetstream().consumers_info(stream))
    finally:
        await client.close()


async def test_appends_read_back_in_order_from_any_offset(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    first = await writer.append(payloads("a", 3), partition=0, msg_id="a")
    assert await writer.append(payloads("b", 2), partition=0, msg_id="b") == first + 3
    records = await nats_log.read(0, 0, 100)
    assert [r.payload for r in records] == [*payloads("a", 3), *payloads("b", 2)]
    assert [r.offset for r in records] == list(range(first, first + 5))
    middle = await nats_log.read(0, records[2].offset, 2)
    assert [r.payload for r in middle] == [b"a-2", b"b-0"]
    assert await nats_log.read(0, records[-1].offset + 1, 10) == []
    assert await nats_log.end_offset(0) == records[-1].offset + 1


async def test_sequential_reads_reuse_one_consumer_and_a_seek_starts_another(
    nats_log: NatsLog, nats_server_url: str
) -> None:
    writer = nats_log.writer()
    await writer.append(payloads("r", 10), partition=1, msg_id="r")
    seen: list[bytes] = []
    offset = 0
    for _ in range(4):
        chunk = await nats_log.read(1, offset, 3)
        seen += [r.payload for r in chunk]
        offset = chunk[-1].offset + 1 if chunk else offset
        assert await consumers_on(nats_server_url, nats_log.stream) == 1
    assert seen == payloads("r", 10)
    await writer.append([b"later"], partition=1, msg_id="later")
    assert [r.payload for r in await nats_log.read(1, offset, 10)] == [b"later"]
    back = await nats_log.read(1, 0, 2)  # a seek back: a new consumer, the old one deleted
    assert [r.payload for r in back] == [b"r-0", b"r-1"]
    assert await consumers_on(nats_server_url, nats_log.stream) == 1
    await nats_log.close()  # and nothing is left behind
    assert await consumers_on(nats_server_url, nats_log.stream) == 0


async def test_a_read_continues_after_its_consumer_vanished(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    await writer.append(payloads("v", 4), partition=0, msg_id="v")
    first = await nats_log.read(0, 0, 2)
    # The server drops idle consumers (and those of a node that died): delete it under us.
    [info] = await nats_log._js.consumers_info(nats_log.stream)
    await nats_log._js.delete_consumer(nats_log.stream, info.name)
    rest = await nats_log.read(0, first[-1].offset + 1, 10)
    assert [r.payload for r in first + rest] == payloads("v", 4)


async def test_partitions_are_independent_and_a_reader_sees_only_its_own(
    nats_log: NatsLog,
) -> None:
    writer = nats_log.writer()
    for i in range(6):
        await writer.append([f"p{i % 2}-{i}".encode()], partition=i % 2, msg_id=f"m{i}")
    assert await nats_log.partitions() == [0, 1, 2, 3]
    zero, one = await read_all(nats_log, 0), await read_all(nats_log, 1)
    assert [p for _, p in zero] == [b"p0-0", b"p0-2", b"p0-4"]
    assert [p for _, p in one] == [b"p1-1", b"p1-3", b"p1-5"]
    assert [o for o, _ in zero] == [1, 3, 5]  # offsets are stream sequences: they skip
    assert await read_all(nats_log, 2) == []
    assert await nats_log.end_offset(0) == 6
    assert await nats_log.end_offset(1) == 7
    assert await nats_log.end_offset(2) == 0
    await nats_log.commit("pipeline", 0, 6)
    assert await nats_log.committed("pipeline", 1) == 0
    with pytest.raises(ValueError):
        await nats_log.read(4, 0, 10)


async def test_a_retried_append_with_the_same_id_is_stored_once(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    offset = await writer.append([b"request"], partition=0, msg_id="req-1")
    assert await writer.append([b"request"], partition=0, msg_id="req-1") == offset
    listed = await writer.append([b"x", b"y"], partition=0, msg_id="req-2")
    assert await writer.append([b"x", b"y"], partition=0, msg_id="req-2") == listed
    assert await writer.append([b"request"], partition=0, msg_id="req-3") > listed
    assert [p for _, p in await read_all(nats_log, 0)] == [b"request", b"x", b"y", b"request"]


async def test_committed_offsets_survive_a_reconnect(
    nats_log: NatsLog, nats_server_url: str
) -> None:
    assert await nats_log.committed("pipeline", 2) == 0
    await nats_log.commit("pipeline", 2, 42)
    await nats_log.commit("pipeline", 2, 57)
    await nats_log.commit("other", 2, 5)
    await nats_log.close()
    again = await NatsLog.connect(
        [nats_server_url],
        stream=nats_log.stream,
        partitions=4,
        subject_prefix=nats_log.subject_prefix,
    )
    try:
        assert await again.committed("pipeline", 2) == 57
        assert await again.committed("other", 2) == 5
        assert await again.committed("pipeline", 3) == 0
        with pytest.raises(ValueError):
            await again.commit("../escape", 2, 1)
    finally:
        await again.close()


async def test_wait_wakes_on_an_append_to_a_waited_partition(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    await writer.append([b"old"], partition=0, msg_id="old")
    end = await nats_log.end_offset(0)
    await asyncio.wait_for(nats_log.wait({0: 0}, 60), 10)  # already there: returns at once
    await nats_log.wait({0: end, 1: 0}, 0.2)  # nothing new: returns at the timeout
    waiting = asyncio.create_task(nats_log.wait({0: end}, 60))
    await writer.append([b"elsewhere"], partition=1, msg_id="elsewhere")
    await asyncio.sleep(0.3)
    assert not waiting.done()  # another partition's record does not count
    await writer.append([b"wake"], partition=0, msg_id="wake")
    await asyncio.wait_for(waiting, 10)


async def test_waiting_on_an_idle_log_asks_the_server_about_once_a_second(
    nats_log: NatsLog, nats_server_url: str
) -> None:
    client = await nats.connect(nats_server_url)
    asked: list[str] = []

    async def count(msg: Msg) -> None:
        asked.append(msg.subject)

    # Every look-up of the stream's messages goes to this subject; a plain subscriber sees them.
    await client.subscribe(f"$JS.API.STREAM.MSG.GET.{nats_log.stream}", cb=count)
    await client.flush()
    try:
        await nats_log.wait({0: 0, 1: 0}, 2.5)
        await client.flush()
    finally:
        await client.close()
    # One look per partition at the start and after each 1 s recheck: 6. Polling at 20/s: 100.
    assert 2 <= len(asked) <= 8


@pytest.mark.parametrize(
    ("reply", "sequences"),
    [
        ("$JS.ACK.SEAMLINE.seamline-1f.1.4051.17.1796272001386593204.3", (4051, 17)),
        (
            "$JS.ACK.hub.ACCHASH.SEAMLINE.seamline-1f.1.4051.17.1796272001386593204.3.tok",
            (4051, 17),
        ),
    ],
    ids=["without domain", "with domain and account hash"],
)
def test_a_delivery_subject_gives_the_stream_and_consumer_sequences(
    reply: str, sequences: tuple[int, int]
) -> None:
    assert _sequences(reply) == sequences
    with pytest.raises(ConsumerLost):
        _sequences("_INBOX.not.a.delivery")


async def test_an_existing_stream_with_other_settings_is_kept_with_a_warning(
    nats_log: NatsLog, nats_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await nats_log.writer().append([b"kept"], partition=0, msg_id="kept")
    with caplog.at_level(logging.WARNING, logger="seamline.log.nats_client"):
        other = await NatsLog.connect(
            [nats_server_url],
            stream=nats_log.stream,
            partitions=4,
            subject_prefix=nats_log.subject_prefix,
            duplicate_window=timedelta(minutes=5),
        )
    try:
        assert "duplicate_window is 86400.0, not 300.0" in caplog.text
        assert [p for _, p in await read_all(other, 0)] == [b"kept"]
    finally:
        await other.close()


async def test_connecting_to_no_server_names_the_url() -> None:
    url = f"nats://127.0.0.1:{_free_port()}"
    with pytest.raises(NatsUnavailable, match=f"cannot connect to NATS at {url}"):
        await NatsLog.connect([url])


async def test_a_server_list_skips_a_dead_server(nats_server_url: str) -> None:
    dead = f"nats://127.0.0.1:{_free_port()}"
    name = f"T{uuid.uuid4().hex[:12]}"
    log = await NatsLog.connect([dead, nats_server_url], stream=name, subject_prefix=name)
    try:
        assert await log.writer().append([b"up"], partition=0, msg_id="up") == 1
    finally:
        await log.close()
        await drop_stream([nats_server_url], name)


async def test_an_append_no_server_acknowledges_raises_after_the_deadline() -> None:
    with NatsServer() as server:
        log = await NatsLog.connect([server.url])
        try:
            writer = log.writer(deadline=1.5)
            await writer.append([b"before"], partition=0, msg_id="before")
            server.nodes[0].kill()
            with pytest.raises(NatsUnavailable, match=f"NATS at {server.url} did not acknowledge"):
                await writer.append([b"after"], partition=0, msg_id="after")
        finally:
            await log.close()


def test_keys_land_on_stable_partitions() -> None:
    # CRC-32 of the key: the same in every process (Python's hash() is salted per process).
    assert [partition_for(k, 8) for k in ("user-1", "user-2", "anon-9")] == [4, 6, 0]
    spread = Counter(partition_for(f"key-{i}", 8) for i in range(8000))
    assert sorted(spread) == list(range(8)) and min(spread.values()) > 800


async def test_killing_the_stream_leader_while_appending_loses_and_doubles_nothing(
    nats_cluster: NatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    stream = f"R{uuid.uuid4().hex[:12]}"
    log = await NatsLog.connect(
        nats_cluster.urls, stream=stream, partitions=2, replicas=3, subject_prefix=f"{stream}.log"
    )
    writer: NatsWriter = log.writer(deadline=30)
    acked: list[bytes] = []
    stop = asyncio.Event()

    async def append_in_a_loop(lane: int) -> None:
        i = 0
        while not stop.is_set():
            payload = f"lane{lane}-{i}".encode()
            with contextlib.suppress(NatsUnavailable):  # unacked: may be stored, at most once
                await writer.append([payload], partition=lane % 2, msg_id=payload.decode())
                acked.append(payload)
            i += 1

    killed = None
    with caplog.at_level(logging.DEBUG, logger="seamline.log.nats_writer"):
        lanes = [asyncio.create_task(append_in_a_loop(lane)) for lane in range(3)]
        try:
            while len(acked) < 200:
                await asyncio.sleep(0.05)
            info = await log._js.stream_info(stream)
            assert info.cluster is not None and info.cluster.leader
            killed = nats_cluster.node(info.cluster.leader)
            killed.kill()
            at_kill = len(acked)
            while len(acked) < at_kill + 300:  # until appends go through a new leader
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*lanes)
            if killed is not None:
                nats_cluster.restart(killed)
    try:
        assert "not acknowledged" in caplog.text  # appends did wait out the election
        # Each full read starts a new consumer, placed on any replica: also on the restarted
        # one while it catches up (it answered 200 records short when that went unchecked).
        for _ in range(8):
            records = [*await read_all(log, 0), *await read_all(log, 1)]
            stored = Counter(payload for _, payload in records)
            doubled = sorted(p for p, count in stored.items() if count > 1)
            lost = sorted(p for p in acked if p not in stored)
            assert not doubled and not lost, f"doubled {doubled[:10]}, lost {lost[:10]}"
    finally:
        await log.close()
        await drop_stream(nats_cluster.urls, stream)


@pytest.mark.parametrize("leading", ["stream", "offsets bucket"])
async def test_reads_and_commits_wait_out_an_election(
    nats_cluster: NatsCluster, leading: str
) -> None:
    """A pipeline worker reads, looks up ends and commits while the node leading the stream
    (or the offsets bucket) is SIGKILLed: each call waits for the new leader instead of failing
    (a failed commit ended the only pipeline process left in the cluster test)."""
    stream = f"E{uuid.uuid4().hex[:12]}"
    log = await NatsLog.connect(
        nats_cluster.urls, stream=stream, partitions=2, replicas=3, subject_prefix=f"{stream}.log"
    )
    writer = log.writer(deadline=30)
    killed = None
    try:
        for i in range(20):
            await writer.append([f"r{i}".encode()], partition=i % 2, msg_id=f"r{i}")
        await log.commit("pipeline", 0, 1)
        name = stream if leading == "stream" else f"KV_{stream}_offsets"
        info = await log._js.stream_info(name)
        assert info.cluster is not None and info.cluster.leader
        killed = nats_cluster.node(info.cluster.leader)
        killed.kill()
        loop = asyncio.get_running_loop()
        until = loop.time() + 8  # past the 5-6 s an election takes
        rounds = 0
        while loop.time() < until or rounds < 3:
            for partition in (0, 1):
                records = await log.read(partition, 0, 100)
                assert len(records) == 10
                end = await log.end_offset(partition)
                await log.commit("pipeline", partition, end)
                assert await log.committed("pipeline", partition) == end
            await log.wait({0: 10**6}, 0.05)
            rounds += 1
    finally:
        if killed is not None:
            nats_cluster.restart(killed)
        await log.close()
        await drop_stream(nats_cluster.urls, stream)

"""The embedded log: durable appends, ordered reads, recovery after a torn write."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from seamline.log import LocalLog

pytestmark = pytest.mark.anyio


def payloads(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}-{i}".encode() for i in range(count)]


async def test_appends_get_consecutive_offsets_and_read_back_in_order(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    assert await log.append(payloads("a", 3)) == 0
    assert await log.append(payloads("b", 2)) == 3
    records = await log.read(0, 100)
    assert [r.offset for r in records] == [0, 1, 2, 3, 4]
    assert [r.payload for r in records] == [*payloads("a", 3), *payloads("b", 2)]
    assert [r.payload for r in await log.read(2, 2)] == [b"a-2", b"b-0"]
    assert await log.read(5, 10) == []
    assert await log.end_offset() == 5
    await log.close()


async def test_concurrent_appends_share_group_commits_and_lose_nothing(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    firsts = await asyncio.gather(*(log.append(payloads(f"r{i}", 3)) for i in range(200)))
    assert sorted(firsts) == list(range(0, 600, 3))
    records = await log.read(0, 1000)
    by_offset = {r.offset: r.payload for r in records}
    for i, first in enumerate(firsts):
        assert [by_offset[first + j] for j in range(3)] == payloads(f"r{i}", 3)
    await log.close()


async def test_records_survive_reopening(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    await log.append(payloads("x", 10))
    await log.close()
    again = LocalLog(tmp_path)
    assert await again.end_offset() == 10
    assert await again.append([b"next"]) == 10
    assert (await again.read(9, 5))[1].payload == b"next"
    await again.close()


async def test_a_torn_final_record_is_cut_off_on_recovery(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    await log.append(payloads("ok", 4))
    await log.close()
    [segment] = sorted(tmp_path.glob("*.log"))
    whole = segment.read_bytes()
    with segment.open("ab") as handle:  # a crash in the middle of the next write
        handle.write(b"\x40\x00\x00\x00\x12\x34\x56\x78half a rec")
    recovered = LocalLog(tmp_path)
    assert await recovered.end_offset() == 4
    assert segment.read_bytes() == whole
    assert await recovered.append([b"after"]) == 4
    assert [r.payload for r in await recovered.read(3, 5)] == [b"ok-3", b"after"]
    await recovered.close()


async def test_a_corrupt_record_stops_recovery_at_the_last_good_one(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    await log.append([b"first", b"second"])
    await log.close()
    [segment] = sorted(tmp_path.glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last payload: its checksum no longer matches
    segment.write_bytes(bytes(data))
    recovered = LocalLog(tmp_path)
    assert [r.payload for r in await recovered.read(0, 10)] == [b"first"]
    await recovered.close()


async def test_segments_roll_over_and_reads_cross_them(tmp_path: Path) -> None:
    log = LocalLog(tmp_path, segment_bytes=1024)
    for i in range(30):
        await log.append([bytes([65 + i % 26]) * 100])
    assert len(list(tmp_path.glob("*.log"))) > 2
    records = await log.read(0, 100)
    assert [r.offset for r in records] == list(range(30))
    assert [r.payload[:1] for r in records[:3]] == [b"A", b"B", b"C"]
    middle = await log.read(17, 5)
    assert [r.offset for r in middle] == [17, 18, 19, 20, 21]
    await log.close()
    reopened = LocalLog(tmp_path, segment_bytes=1024)
    assert await reopened.end_offset() == 30
    await reopened.close()


async def test_a_read_only_reader_sees_what_the_writer_made_durable(tmp_path: Path) -> None:
    writer = LocalLog(tmp_path, segment_bytes=512)
    await writer.append(payloads("w", 20))
    reader = LocalLog(tmp_path, writable=False)
    assert reader.end_offset_sync() == 20
    assert [r.payload for r in reader.read_sync(18, 10)] == [b"w-18", b"w-19"]
    await writer.append([b"later"])
    assert [r.payload for r in reader.read_sync(20, 10)] == [b"later"]
    with pytest.raises(RuntimeError):
        reader.submit([b"nope"])
    await writer.close()


async def test_wait_returns_when_a_record_arrives(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    assert await log.wait(0, 0.05) is False
    waiting = asyncio.create_task(log.wait(0, 5))
    await asyncio.sleep(0.05)
    await log.append([b"wake"])
    assert await waiting is True
    await log.close()


async def test_consumer_offsets_are_committed_durably(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    assert await log.committed("pipeline") == 0
    await log.commit("pipeline", 42)
    await log.close()
    assert await LocalLog(tmp_path).committed("pipeline") == 42
    with pytest.raises(ValueError):
        await log.commit("../escape", 1)


async def test_a_failed_write_fails_its_appends_and_keeps_the_log_consistent(
    tmp_path: Path,
) -> None:
    log = LocalLog(tmp_path)
    await log.append([b"kept"])
    os.close(log._active_fd)  # the disk goes away under the writer
    log._active_fd = os.open(os.devnull, os.O_RDONLY)
    with pytest.raises(OSError):
        await log.append([b"lost"])
    assert await log.end_offset() == 1
    with pytest.raises(RuntimeError, match="failed write"):
        await log.append([b"refused"])  # it could not cut back, so it stops appending
    await log.close()
    reopened = LocalLog(tmp_path)
    assert [r.payload for r in await reopened.read(0, 10)] == [b"kept"]
    await reopened.close()


async def test_appending_after_close_is_refused(tmp_path: Path) -> None:
    log = LocalLog(tmp_path)
    await log.close()
    with pytest.raises(RuntimeError):
        await log.append([b"late"])

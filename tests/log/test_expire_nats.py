"""Retention on the JetStream log: expired, committed records are purged from the stream; the
rest, other partitions and the newest record stay, offsets unchanged."""

from __future__ import annotations

import pytest

from seamline.log.expire_nats import expire_nats_partition
from seamline.log.nats import NatsLog
from tests.log.test_expire import NEW, OLD, record, thirty_days

pytestmark = pytest.mark.anyio


def ids(records: list[object]) -> list[str]:
    return [r.payload.decode().split('"messageId":"')[1][:2] for r in records]  # type: ignore[attr-defined]


async def test_expired_committed_records_are_purged(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    first = await writer.append([record(f"o{i}", OLD) for i in range(4)], partition=0, msg_id="o")
    await writer.append([record("n0", NEW)], partition=0, msg_id="n")
    await writer.append([record("x0", OLD)], partition=1, msg_id="x")  # another partition
    # Committed up to o3 (not included): o3 is old but not processed yet, so it stays.
    dropped = await expire_nats_partition(nats_log, 0, first + 3, thirty_days().expired)
    assert dropped.records == 3
    kept = await nats_log.read(0, 0, 100)
    assert ids(kept) == ["o3", "n0"] and kept[0].offset == first + 3
    assert await nats_log.end_offset(0) == first + 5
    assert ids(await nats_log.read(1, 0, 100)) == ["x0"]


async def test_the_newest_record_and_young_ones_stay(nats_log: NatsLog) -> None:
    writer = nats_log.writer()
    first = await writer.append(
        [record("o0", OLD), record("n0", NEW), record("o1", OLD)], partition=2, msg_id="m"
    )
    end = first + 3
    # o0 goes; n0 is young, so it and everything after stays.
    assert (await expire_nats_partition(nats_log, 2, end, thirty_days().expired)).records == 1
    assert ids(await nats_log.read(2, 0, 100)) == ["n0", "o1"]
    # Everything old and committed: still the newest record stays (the end is read from it).
    await writer.append([record("o2", OLD)], partition=3, msg_id="only")
    assert (await expire_nats_partition(nats_log, 3, end + 1, thirty_days().expired)).records == 0
    assert await nats_log.end_offset(3) == end + 1

"""The pipeline: dedup by (source, messageId), exactly-once into the event store, resume."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seamline.log import LocalLog
from seamline.log.partitions import LocalPartitions
from seamline.pipeline import PipelineRunner
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.store_events import StoreEvents
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item, envelope_encoder
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.events_lake import LakeEventStore

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def record(message_id: str, source: str = "src_a", at: datetime = NOW) -> bytes:
    message = Message(type="track", message_id=message_id, user_id="u", event="E", received_at=at)
    return envelope_encoder.encode(
        Envelope(workspace_id="default", source_id=source, message=message)
    )


def item(offset: int, message_id: str, source: str = "src_a", at: datetime = NOW) -> Item:
    message = Message(type="track", message_id=message_id, user_id="u", event="E", received_at=at)
    return Item(offset, Envelope(workspace_id="default", source_id=source, message=message))


@pytest.fixture
def seen(tmp_path: Path) -> SqliteSeenMessages:
    return SqliteSeenMessages(tmp_path / "dedup.sqlite")


CASES = [
    # (what happens, items in, message ids kept)
    ("distinct ids all pass", [(0, "a"), (1, "b"), (2, "c")], ["a", "b", "c"]),
    ("a repeat in the same batch is dropped", [(0, "a"), (1, "a"), (2, "b")], ["a", "b"]),
]


@pytest.mark.parametrize(("_story", "rows", "kept"), CASES)
def test_dedup_within_a_batch(
    seen: SqliteSeenMessages, _story: str, rows: list[tuple[int, str]], kept: list[str]
) -> None:
    stage = DropDuplicates(seen, 86400)
    out = stage([item(offset, mid) for offset, mid in rows])
    assert [i.envelope.message.message_id for i in out] == kept
    assert stage.dropped == len(rows) - len(kept)


def test_dedup_across_batches_and_per_source(seen: SqliteSeenMessages) -> None:
    stage = DropDuplicates(seen, 86400)
    stage([item(0, "a")])
    out = stage([item(1, "a"), item(2, "a", source="src_b")])
    assert [(i.offset, i.envelope.source_id) for i in out] == [(2, "src_b")]


def test_reprocessing_the_same_offsets_is_not_a_duplicate(seen: SqliteSeenMessages) -> None:
    stage = DropDuplicates(seen, 86400)
    first = stage([item(0, "a"), item(1, "b")])
    again = stage([item(0, "a"), item(1, "b")])  # a crash before the offset commit
    assert len(first) == len(again) == 2


def test_ids_older_than_the_window_are_forgotten(seen: SqliteSeenMessages) -> None:
    stage = DropDuplicates(seen, 3600)
    stage([item(0, "old", at=NOW)])
    stage([item(1, "new", at=NOW + timedelta(hours=2))])
    out = stage([item(2, "old", at=NOW + timedelta(hours=2))])
    assert len(out) == 1  # remembered for an hour only


async def run_to_end(
    log: LocalLog, store: LakeEventStore, seen: SqliteSeenMessages
) -> PipelineRunner:
    runner = PipelineRunner(
        log,
        (DropDuplicates(seen, 86400), StoreEvents(store)),
        batch_size=3,
        on_resume=store.truncate_from,
    )
    stop = asyncio.Event()
    stop.set()
    await runner.run(stop)
    return runner


async def test_runner_stores_each_message_once_and_commits(
    tmp_path: Path, seen: SqliteSeenMessages
) -> None:
    log = LocalLog(tmp_path / "log")
    await log.append([record("m1"), record("m2"), record("m1"), record("m3")])
    store = LakeEventStore(tmp_path / "events")
    runner = await run_to_end(log, store, seen)
    assert runner.offset == 4
    assert await log.committed("pipeline") == 4
    assert store.query("SELECT message_id FROM events ORDER BY log_offset") == [
        ("m1",),
        ("m2",),
        ("m3",),
    ]
    await log.close()
    store.close()


async def test_a_crash_between_store_write_and_commit_stores_nothing_twice(
    tmp_path: Path, seen: SqliteSeenMessages
) -> None:
    log = LocalLog(tmp_path / "log")
    await log.append([record(f"m{i}") for i in range(5)])
    store = LakeEventStore(tmp_path / "events")
    # The pipeline wrote every row and recorded the ids, then died before committing.
    batch = [item(i, f"m{i}") for i in range(5)]
    StoreEvents(store)(DropDuplicates(seen, 86400)(batch))
    await log.commit("pipeline", 2)
    await run_to_end(log, store, seen)
    assert store.query("SELECT message_id, count(*) FROM events GROUP BY 1 ORDER BY 1") == [
        (f"m{i}", 1) for i in range(5)
    ]
    await log.close()
    store.close()


async def test_an_undecodable_record_is_counted_not_fatal(
    tmp_path: Path, seen: SqliteSeenMessages
) -> None:
    log = LocalLog(tmp_path / "log")
    await log.append([b"not an envelope", record("ok")])
    store = LakeEventStore(tmp_path / "events")
    runner = await run_to_end(log, store, seen)
    assert runner.undecodable == 1
    assert store.count() == 1
    await log.close()
    store.close()


async def test_a_partition_made_just_before_the_stop_is_drained(
    tmp_path: Path, seen: SqliteSeenMessages
) -> None:
    """`held rerun` beside a running server appends to a partition of its own; a SIGTERM right
    after it must process that record too, not leave it to the next start (the runner looks
    for new partitions only every REFRESH_PARTITIONS otherwise)."""
    log = LocalPartitions(tmp_path / "log")
    first = log.claim(0)
    await first.append([record("m1")])
    store = LakeEventStore(tmp_path / "events")
    runner = PipelineRunner(log, (DropDuplicates(seen, 86400), StoreEvents(store)), batch_size=10)
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    while runner.committed.get(0) != 1:
        await asyncio.sleep(0.01)
    other = LocalPartitions(tmp_path / "log")  # another process's view, as the CLI has
    late = other.claim(1)
    assert late.partition == 1
    await late.append([record("m2")])
    stop.set()
    await asyncio.wait_for(running, 30)
    assert store.query("SELECT message_id FROM events ORDER BY 1") == [("m1",), ("m2",)]
    assert await log.committed("pipeline", 1) == 1
    for closing in (first, late):
        await closing.close()
    await other.close()
    await log.close()
    store.close()

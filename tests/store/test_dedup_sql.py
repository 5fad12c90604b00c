"""Dedup's seen messages in the state store, on SQLite and PostgreSQL: the dedup stage behaves
as over the SQLite file, and pipeline workers with their own engines share one memory."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from seamline.log.base import position
from seamline.pipeline.dedup import DropDuplicates
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item
from seamline.store.dedup_sql import SqlSeenMessages
from seamline.store.state import open_state_store, seen_messages

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = 86400


def item(at: int, message_id: str, source: str = "src_a", received: datetime = NOW) -> Item:
    message = Message(
        type="track", message_id=message_id, user_id="u", event="E", received_at=received
    )
    return Item(at, Envelope(workspace_id="default", source_id=source, message=message))


def kept(batch: list[Item]) -> list[tuple[int, str]]:
    return [(i.offset, i.envelope.message.message_id or "") for i in batch]


@pytest.fixture
def seen(engine: Engine) -> SqlSeenMessages:
    return SqlSeenMessages(engine)


CASES = [
    # (what happens, items in, (position, message id) kept)
    ("distinct ids all pass", [(0, "a"), (1, "b"), (2, "c")], [(0, "a"), (1, "b"), (2, "c")]),
    ("a repeat in the same batch is dropped", [(0, "a"), (1, "a"), (2, "b")], [(0, "a"), (2, "b")]),
]


@pytest.mark.parametrize(("_story", "rows", "expected"), CASES)
def test_dedup_within_a_batch(
    seen: SqlSeenMessages,
    _story: str,
    rows: list[tuple[int, str]],
    expected: list[tuple[int, str]],
) -> None:
    stage = DropDuplicates(seen, DAY)
    assert kept(stage([item(at, mid) for at, mid in rows])) == expected
    assert stage.dropped == len(rows) - len(expected)


def test_dedup_across_batches_and_per_source(seen: SqlSeenMessages) -> None:
    stage = DropDuplicates(seen, DAY)
    stage([item(0, "a")])
    out = stage([item(1, "a"), item(2, "a", source="src_b")])
    assert [(i.offset, i.envelope.source_id) for i in out] == [(2, "src_b")]


def test_reprocessing_the_same_positions_is_not_a_duplicate(seen: SqlSeenMessages) -> None:
    stage = DropDuplicates(seen, DAY)
    # 64-bit positions from the last partitions: they must come back exactly.
    a, b = position(250, 10**9), position(251, 7, 3)
    first = stage([item(a, "a"), item(b, "b")])
    again = stage([item(a, "a"), item(b, "b")])  # a crash before the offset commit
    assert kept(first) == kept(again) == [(a, "a"), (b, "b")]
    assert seen.first_offsets([("src_a", "a"), ("src_a", "b"), ("src_a", "c")]) == {
        ("src_a", "a"): a,
        ("src_a", "b"): b,
    }


def test_ids_older_than_the_window_are_forgotten(seen: SqlSeenMessages) -> None:
    stage = DropDuplicates(seen, 3600)
    stage([item(0, "old", received=NOW)])
    stage([item(1, "new", received=NOW + timedelta(hours=2))])
    out = stage([item(2, "old", received=NOW + timedelta(hours=2))])
    assert kept(out) == [(2, "old")]  # remembered for an hour only


def test_forgetting_goes_through_every_chunk(seen: SqlSeenMessages, engine: Engine) -> None:
    old = [("src_a", f"m{i}", i, 100.0 + i % 7) for i in range(12_000)]  # over two chunks
    seen.remember([*old, ("src_a", "recent", 12_000, 500.0)])
    assert seen.forget_before(200.0) == 12_000
    with engine.connect() as conn:
        assert conn.execute(select(seen_messages.c.message_id)).scalars().all() == ["recent"]
    assert seen.forget_before(200.0) == 0


def test_lookups_past_one_in_list(seen: SqlSeenMessages) -> None:
    entries = [(f"src_{i % 3}", f"m{i}", position(i % 4, i), 1.0) for i in range(11_000)]
    seen.remember(entries[::2])
    found = seen.first_offsets([(s, m) for s, m, _, _ in entries])
    assert found == {(s, m): at for s, m, at, _ in entries[::2]}


def test_workers_share_what_they_have_seen(state_url: str) -> None:
    """Two workers, each with its own engine: a message one stored is a duplicate for the
    other, and the first keeps its own copy when it reprocesses it."""
    engines = [open_state_store(state_url) for _ in range(2)]
    try:
        one, two = (DropDuplicates(SqlSeenMessages(e), DAY) for e in engines)
        first = position(0, 5)
        assert kept(one([item(first, "m")])) == [(first, "m")]
        assert kept(two([item(position(1, 9), "m")])) == []  # a retry in another partition
        assert kept(one([item(first, "m")])) == [(first, "m")]
    finally:
        for e in engines:
            e.dispose()


def test_concurrent_workers_remember_overlapping_keys(state_url: str) -> None:
    """Two threads with their own engines insert the same keys at once, in opposite orders:
    no error, no deadlock, and every key keeps one first position that never changes."""
    rounds, per_round = 8, 400
    start = threading.Barrier(2)
    seen_by: list[dict[tuple[str, str], int]] = [{}, {}]
    errors: list[BaseException] = []

    # Opened here, one after the other: migrating the same database from two threads at once
    # is not what this test is about.
    engines = [open_state_store(state_url) for _ in range(2)]

    def worker(partition: int) -> None:
        store = SqlSeenMessages(engines[partition])
        try:
            for r in range(rounds):
                keys = [("src_a", f"r{r}-m{i}") for i in range(per_round)]
                if partition == 1:
                    keys.reverse()
                entries = [
                    (s, m, position(partition, r * per_round + i), 1.0)
                    for i, (s, m) in enumerate(keys)
                ]
                start.wait(timeout=60)
                store.remember(entries)
                seen_by[partition].update(store.first_offsets(keys))
        except BaseException as exc:  # reported to the test below, with its traceback
            errors.append(exc)
            start.abort()
        finally:
            engines[partition].dispose()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert len(seen_by[0]) == rounds * per_round
    assert seen_by[0] == seen_by[1]  # both read the same first position for every key
    engine = open_state_store(state_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(seen_messages)).scalar_one()
        assert stored == rounds * per_round
        assert SqlSeenMessages(engine).first_offsets(list(seen_by[0])) == seen_by[0]
    finally:
        engine.dispose()


def test_concurrent_workers_prune_each_row_once(state_url: str) -> None:
    """Two workers pruning the same expired rows at once: no error, and together they delete
    each row once (on PostgreSQL each skips the rows the other holds)."""
    engines = [open_state_store(state_url) for _ in range(2)]
    try:
        stores = [SqlSeenMessages(e) for e in engines]
        stores[0].remember([("src_a", f"m{i}", i, float(i % 100)) for i in range(20_000)])
        start = threading.Barrier(2)
        counts = [0, 0]
        errors: list[BaseException] = []

        def prune(worker: int) -> None:
            try:
                start.wait(timeout=60)
                counts[worker] = stores[worker].forget_before(1000.0)
            except BaseException as exc:  # reported to the test below, with its traceback
                errors.append(exc)

        threads = [threading.Thread(target=prune, args=(w,)) for w in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        # SKIP LOCKED may leave a worker a short last chunk while the other still deletes:
        # whatever one left, the other (or the next call) takes.
        assert sum(counts) + stores[0].forget_before(1000.0) == 20_000
        assert stores[1].first_offsets([("src_a", "m1")]) == {}
    finally:
        for e in engines:
            e.dispose()


def test_two_workers_passing_one_message_at_once_keep_it_once(state_url: str) -> None:
    """The same (source, messageId) in two partitions, deduplicated by two workers at the same
    moment, round after round: exactly one of them keeps each message (the claim is atomic),
    and each keeps it again when it reprocesses its own batch."""
    rounds, per_round = 30, 200
    start = threading.Barrier(2)
    kept_by: list[list[set[str]]] = [[], []]
    again_by: list[list[set[str]]] = [[], []]
    errors: list[BaseException] = []
    engines = [open_state_store(state_url) for _ in range(2)]

    def worker(partition: int) -> None:
        stage = DropDuplicates(SqlSeenMessages(engines[partition]), DAY)
        try:
            for r in range(rounds):
                batch = [
                    item(position(partition, r * per_round + i), f"r{r}-m{i}")
                    for i in range(per_round)
                ]
                start.wait(timeout=60)
                kept_by[partition].append(
                    {i.envelope.message.message_id or "" for i in stage(batch)}
                )
                again_by[partition].append(
                    {i.envelope.message.message_id or "" for i in stage(batch)}
                )
        except BaseException as exc:  # reported to the test below, with its traceback
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (0, 1)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for e in engines:
            e.dispose()
    if errors:
        raise errors[0]
    for r in range(rounds):
        one, two = kept_by[0][r], kept_by[1][r]
        assert not one & two, f"round {r}: {len(one & two)} messages kept by both workers"
        assert len(one | two) == per_round
        assert again_by[0][r] == one and again_by[1][r] == two  # a replay keeps its own

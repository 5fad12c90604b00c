"""Partition leases: pipeline workers share the log's partitions and take over a dead one's."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine

from seamline.store.leases_sql import PartitionLeases, next_epoch
from seamline.store.state import open_state_store

PARTITIONS = list(range(8))


def test_workers_share_partitions_and_take_over_when_one_stops_renewing(tmp_path: Path) -> None:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    a = PartitionLeases(engine, "a", ttl=0.5)
    b = PartitionLeases(engine, "b", ttl=0.5)
    assert list(a.claim("pipeline", PARTITIONS)) == PARTITIONS  # alone: everything
    # b joins: a gives back what is over its share at its next claim, and b takes it.
    assert list(b.claim("pipeline", PARTITIONS)) == []  # nothing free yet
    held_a = list(a.claim("pipeline", PARTITIONS))
    held_b = list(b.claim("pipeline", PARTITIONS))
    assert len(held_a) == len(held_b) == 4
    assert sorted(held_a + held_b) == PARTITIONS
    # a dies (stops renewing): once its leases expire, b takes them all.
    time.sleep(0.6)
    assert list(b.claim("pipeline", PARTITIONS)) == PARTITIONS
    engine.dispose()


def test_a_released_worker_hands_over_at_once(tmp_path: Path) -> None:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    a = PartitionLeases(engine, "a", ttl=30)
    b = PartitionLeases(engine, "b", ttl=30)
    a.claim("pipeline", PARTITIONS)
    a.release("pipeline")
    assert list(b.claim("pipeline", PARTITIONS)) == PARTITIONS
    # Another consumer's leases are its own.
    assert list(a.claim("other", PARTITIONS)) == PARTITIONS
    engine.dispose()


def test_an_epoch_grows_on_every_takeover_and_stays_while_renewed(engine: Engine) -> None:
    """The epoch is the fencing token a commit carries: the same while one worker keeps a
    lease, higher whenever the partition changes hands (taken over after expiry, given back
    over the share and taken, released and taken), on SQLite and PostgreSQL."""
    a = PartitionLeases(engine, "a", ttl=0.3)
    b = PartitionLeases(engine, "b", ttl=30)
    first = a.claim("pipeline", PARTITIONS)
    assert a.claim("pipeline", PARTITIONS) == first  # renewed: same epochs
    time.sleep(0.4)  # a stalls past its lease
    taken = b.claim("pipeline", PARTITIONS)
    assert list(taken) == PARTITIONS
    assert all(taken[p] > first[p] for p in PARTITIONS)
    # a wakes up: b holds everything; a is now live again, so b gives half back at its next
    # claim and a takes those under epochs above b's.
    assert a.claim("pipeline", PARTITIONS) == {}
    kept = b.claim("pipeline", PARTITIONS)
    again = a.claim("pipeline", PARTITIONS)
    assert len(kept) == len(again) == 4
    assert all(again[p] > taken[p] for p in again)
    assert all(kept[p] == taken[p] for p in kept)
    # A clean stop keeps the epochs: the next holder's are higher still.
    b.release("pipeline")
    after = a.claim("pipeline", PARTITIONS)
    assert list(after) == PARTITIONS
    assert all(after[p] > kept[p] for p in kept)
    assert all(after[p] == again[p] for p in again)


def test_epochs_stay_above_the_last_when_the_clock_says_less() -> None:
    assert next_epoch(10**15) == 10**15 + 1  # an epoch from a clock that ran ahead
    assert next_epoch(0) > 1_700_000_000_000  # else the time in milliseconds

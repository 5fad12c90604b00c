"""Partition leases: pipeline workers share the log's partitions and take over a dead one's."""

from __future__ import annotations

import time
from pathlib import Path

from seamline.store.leases_sql import PartitionLeases
from seamline.store.state import open_state_store

PARTITIONS = list(range(8))


def test_workers_share_partitions_and_take_over_when_one_stops_renewing(tmp_path: Path) -> None:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    a = PartitionLeases(engine, "a", ttl=0.5)
    b = PartitionLeases(engine, "b", ttl=0.5)
    assert a.claim("pipeline", PARTITIONS) == PARTITIONS  # alone: everything
    # b joins: a gives back what is over its share at its next claim, and b takes it.
    assert b.claim("pipeline", PARTITIONS) == []  # nothing free yet
    held_a = a.claim("pipeline", PARTITIONS)
    held_b = b.claim("pipeline", PARTITIONS)
    assert len(held_a) == len(held_b) == 4
    assert sorted(held_a + held_b) == PARTITIONS
    # a dies (stops renewing): once its leases expire, b takes them all.
    time.sleep(0.6)
    assert b.claim("pipeline", PARTITIONS) == PARTITIONS
    engine.dispose()


def test_a_released_worker_hands_over_at_once(tmp_path: Path) -> None:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    a = PartitionLeases(engine, "a", ttl=30)
    b = PartitionLeases(engine, "b", ttl=30)
    a.claim("pipeline", PARTITIONS)
    a.release("pipeline")
    assert b.claim("pipeline", PARTITIONS) == PARTITIONS
    # Another consumer's leases are its own.
    assert a.claim("other", PARTITIONS) == PARTITIONS
    engine.dispose()

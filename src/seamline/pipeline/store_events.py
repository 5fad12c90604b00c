"""Event-store stage: writes the batch to the event store and passes it on unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from seamline.pipeline.batch import Batch
from seamline.spec.envelope import Item


class EventWriter(Protocol):
    def write(self, items: Sequence[Item]) -> int: ...


class StoreEvents:
    """Appends every message of the batch to the event store."""

    def __init__(self, store: EventWriter) -> None:
        self._store = store
        self.stored = 0

    def __call__(self, batch: Batch) -> Batch:
        self.stored += self._store.write(batch)
        return batch

"""Dedup stage: a (source, messageId) seen within the window is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from seamline.pipeline.batch import Batch
from seamline.spec.envelope import Item


class SeenMessages(Protocol):
    """Remembered message keys with the offset each was first seen at."""

    def first_offsets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    def remember(self, entries: Sequence[tuple[str, str, int, float]]) -> None: ...

    def forget_before(self, seen_at: float) -> int: ...


class DropDuplicates:
    """Keeps the first message per (source, messageId) inside the window; counts the rest.

    A key is a duplicate only when it was first seen at a different offset, so reprocessing
    the same log records after a crash keeps them.
    """

    def __init__(self, seen: SeenMessages, window_seconds: float) -> None:
        self._seen = seen
        self._window = window_seconds
        self.dropped = 0

    def __call__(self, batch: Batch) -> Batch:
        keys = [_key(item) for item in batch]
        known = self._seen.first_offsets(keys)
        kept: Batch = []
        fresh: list[tuple[str, str, int, float]] = []
        for item, key in zip(batch, keys, strict=True):
            first = known.get(key)
            if first is not None and first != item.offset:
                continue
            if first is None:
                known[key] = item.offset
                received = item.envelope.message.received_at
                fresh.append((*key, item.offset, received.timestamp() if received else 0.0))
            kept.append(item)
        self.dropped += len(batch) - len(kept)
        if fresh:
            self._seen.remember(fresh)
            newest = max(entry[3] for entry in fresh)
            self._seen.forget_before(newest - self._window)
        return kept


def _key(item: Item) -> tuple[str, str]:
    envelope = item.envelope
    message_id = envelope.message.message_id or ""
    if envelope.rerun is not None:
        message_id = f"{message_id}#rerun-{envelope.rerun}"
    return envelope.source_id, message_id

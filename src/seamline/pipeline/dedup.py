"""Dedup stage: a (source, messageId) seen within the window is dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder, log_place
from seamline.spec.envelope import Item


class SeenMessages(Protocol):
    """Remembered message keys with the offset each was first seen at."""

    def first_offsets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    def claim(self, entries: Sequence[tuple[str, str, int, float]]) -> dict[tuple[str, str], int]:
        """Remember each (source, messageId, offset, seen_at) not seen yet and return the
        offset every key was first seen at, as one atomic step: of two workers claiming one
        key at once, both read the same winner."""
        ...

    def remember(self, entries: Sequence[tuple[str, str, int, float]]) -> None: ...

    def forget_before(self, seen_at: float) -> int: ...


class DropDuplicates:
    """Keeps the first message per (source, messageId) inside the window; counts the rest.

    A key is a duplicate only when it was first seen at a different offset (positions are
    unique across partitions), so reprocessing the same log records after a crash keeps them.
    """

    def __init__(
        self, seen: SeenMessages, window_seconds: float, trace: TraceRecorder | None = None
    ) -> None:
        self._seen = seen
        self._window = window_seconds
        self._trace = trace
        self.dropped = 0

    def __call__(self, batch: Batch) -> Batch:
        keys = [_key(item) for item in batch]
        # The first of each key in the batch is claimed at its offset; the store answers with
        # whichever offset holds the key (this one's, an earlier one's, or that of another
        # worker that claimed it at the same moment), so lookup and insert are never apart.
        claims: dict[tuple[str, str], tuple[str, str, int, float]] = {}
        for item, key in zip(batch, keys, strict=True):
            if key not in claims:
                received = item.envelope.message.received_at
                seen_at = received.timestamp() if received else 0.0
                claims[key] = (*key, item.offset, seen_at)
        first = self._seen.claim(list(claims.values())) if claims else {}
        kept: Batch = [
            item for item, key in zip(batch, keys, strict=True) if first[key] == item.offset
        ]
        trace = self._trace
        if trace is not None:
            # The first stage: every message's trace starts here, duplicates' end here.
            trace.accept(batch)
            for item, key in zip(batch, keys, strict=True):
                if first[key] != item.offset:
                    place = log_place(first[key])
                    trace.put(item.offset, "dedup", {"duplicateOf": place})
                    trace.stop(
                        item.offset,
                        f"duplicate of partition {place['partition']} offset {place['offset']}",
                    )
        self.dropped += len(batch) - len(kept)
        won = [entry[3] for key, entry in claims.items() if first[key] == entry[2]]
        if won:
            self._seen.forget_before(max(won) - self._window)
        return kept


def _key(item: Item) -> tuple[str, str]:
    envelope = item.envelope
    message_id = envelope.message.message_id or ""
    if envelope.rerun is not None:
        message_id = f"{message_id}#rerun-{envelope.rerun}"
    return envelope.source_id, message_id

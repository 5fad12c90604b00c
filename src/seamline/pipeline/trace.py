"""The message trace's recorder: what each stage did to each message of a batch.

Stages given a `TraceRecorder` note what they did per log position (`note`, `stop`); nothing
is written until `WriteTraces`, the last tail stage, stores the batch's traces in one
multi-row statement. The tail of one batch runs while the head works on the next, so a trace
is taken by position: the survivors of the batch the tail holds, and every trace stopped
early (a duplicate, a held message), which is complete once stopped.

What other tables already hold by messageId is not copied: the merge a message caused
(`merges`) and its dead letters are read with the trace (`api/messages.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from seamline.log.base import PARTITION_SHIFT, RECORD_SHIFT
from seamline.pipeline.batch import Batch
from seamline.spec.envelope import Item

_encode = msgspec.json.Encoder().encode

PRUNE_BATCH = 1000
"""Rows of each table one pruning deletes at most: short transactions beside the writers."""
PRUNE_EVERY = 60.0
"""Seconds between retention's prunings while each finds less than a full batch to delete."""


def log_place(position: int) -> dict[str, int]:
    """A log position as the log's partition, record offset and index in the record."""
    return {
        "partition": position >> PARTITION_SHIFT,
        "offset": (position & ((1 << PARTITION_SHIFT) - 1)) >> RECORD_SHIFT,
        "index": position & ((1 << RECORD_SHIFT) - 1),
    }


class TraceStore(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    def prune(self, before: float, limit: int = ...) -> int: ...


class _Trace:
    __slots__ = ("body", "message_id", "stages", "workspace_id")

    def __init__(self, item: Item) -> None:
        envelope = item.envelope
        message = envelope.message
        self.workspace_id = envelope.workspace_id
        self.message_id = message.message_id or ""
        self.body = _encode(message).decode()
        accepted: dict[str, Any] = {"sourceId": envelope.source_id}
        if envelope.rerun is not None:
            accepted["rerunOf"] = envelope.rerun
        self.stages: dict[str, Any] = {"accepted": accepted}


class TraceRecorder:
    """Traces of the messages in flight, by log position (thread-safe: head and tail stages
    run in different threads)."""

    def __init__(self) -> None:
        self._open: dict[int, _Trace] = {}
        self._stopped: list[int] = []
        self._lock = threading.Lock()

    def accept(self, batch: Batch) -> None:
        """Start a trace for every message of a batch as it enters the pipeline."""
        traces = [(item.offset, _Trace(item)) for item in batch]
        with self._lock:
            self._open.update(traces)

    def note(self, position: int, stage: str, value: Any) -> None:
        """Add `value` to the list a stage keeps for the message at `position`."""
        trace = self._open.get(position)
        if trace is not None:
            trace.stages.setdefault(stage, []).append(value)

    def put(self, position: int, stage: str, value: Any) -> None:
        """Set what a stage did to the message at `position` (one value per stage)."""
        trace = self._open.get(position)
        if trace is not None:
            trace.stages[stage] = value

    def stop(self, position: int, reason: str) -> None:
        """The message at `position` goes no further, for `reason`."""
        with self._lock:
            trace = self._open.get(position)
            if trace is not None and "stopped" not in trace.stages:
                trace.stages["stopped"] = reason
                self._stopped.append(position)

    def take(self, batch: Batch, now: float) -> list[dict[str, Any]]:
        """The rows of the batch's traces and of every stopped one, forgotten here."""
        rows: list[dict[str, Any]] = []
        with self._lock:
            stopped, self._stopped = self._stopped, []
            taken: list[tuple[int, str | None]] = [(p, None) for p in stopped]
            taken += [(item.offset, item.profile_id) for item in batch]
            for position, profile_id in taken:
                trace = self._open.pop(position, None)
                if trace is None:
                    continue
                rows.append(
                    {
                        "position": position,
                        "workspace_id": trace.workspace_id,
                        "message_id": trace.message_id[:200],
                        "profile_id": profile_id,
                        "traced_at": now,
                        "body": trace.body,
                        "stages": trace.stages,
                    }
                )
        return rows

    def discard(self, positions: list[int]) -> None:
        """Forget these messages' traces: nothing of them is written."""
        with self._lock:
            for position in positions:
                self._open.pop(position, None)

    def forget(self, start: int, end: int) -> None:
        """Drop traces of positions in [start, end): a partition resumed from its commit
        processes them again."""
        with self._lock:
            for position in [p for p in self._open if start <= p < end]:
                del self._open[position]
            self._stopped = [p for p in self._stopped if not start <= p < end]


class WriteTraces:
    """The last tail stage: stores the batch's traces, and prunes those older than the
    retention in small batches (every `PRUNE_EVERY` seconds, or at once while a pruning
    found a full batch)."""

    def __init__(
        self,
        recorder: TraceRecorder,
        store: TraceStore,
        retention_hours: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._recorder = recorder
        self._store = store
        self._retention = retention_hours * 3600.0
        self._clock = clock
        self._pruned_at = 0.0
        self._behind = False
        self.pruned = 0

    def __call__(self, batch: Batch) -> Batch:
        now = self._clock()
        rows = self._recorder.take(batch, now)
        if rows:
            self._store.write(rows)
        if self._behind or now - self._pruned_at >= PRUNE_EVERY:
            self.prune(now)
        return batch

    def prune(self, now: float) -> int:
        """One small pruning of traces past the retention; returns the rows deleted."""
        self._pruned_at = now
        deleted = self._store.prune(now - self._retention, PRUNE_BATCH)
        self._behind = deleted >= PRUNE_BATCH
        self.pruned += deleted
        return deleted


class Untraced:
    """Wraps a stage whose dropped messages must leave no trace at all: a suppressed
    person's messages are not to be kept anywhere, a trace included."""

    def __init__(self, stage: Callable[[Batch], Batch], recorder: TraceRecorder) -> None:
        self._stage = stage
        self._recorder = recorder
        self.__name__ = type(stage).__name__

    def __call__(self, batch: Batch) -> Batch:
        kept = self._stage(batch)
        if len(kept) != len(batch):
            left = {item.offset for item in kept}
            self._recorder.discard([i.offset for i in batch if i.offset not in left])
        return kept

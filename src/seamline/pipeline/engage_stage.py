"""Engage stage (in the tail, after the event store): updates computed traits and audience
memberships of the people in the batch and announces what changed.

A rebuild's replay passes again through what was announced before it (`announced_below`).
Those records still fold, but the changes they make are neither announced nor recorded and the
sweep waits: a replay sees intermediate values (a plan still free) and announcing them would
exit and re-enter people. The stored values stay what destinations were told, so what arrives
after the marks announces the net change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from seamline.engage.effects import Identifiers, messages_for
from seamline.engage.realtime import Change, RealtimeEngine
from seamline.engage.rules import EngageRules
from seamline.log.base import partition_of
from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder
from seamline.spec.envelope import Envelope, Item

logger = logging.getLogger(__name__)

Emit = Callable[[list[Envelope]], None]
"""Appends messages to the log and returns once they are durable."""


class EvaluateEngage:
    def __init__(
        self,
        rules_of: Callable[[str], EngageRules],
        engine: RealtimeEngine,
        identifiers: Identifiers,
        emit: Emit,
        trace: TraceRecorder | None = None,
    ) -> None:
        self.trace = trace
        """The pipeline's trace recorder, when tracing is on (the role sets it)."""
        self._rules_of = rules_of
        self._engine = engine
        self._identifiers = identifiers
        self._emit = emit
        self.changes = 0
        self.announced_below: dict[int, int] = {}
        """Partition → the first position not processed before a rebuild (the replay sets it):
        changes that items below it make are not announced again."""

    def __call__(self, batch: Batch) -> Batch:
        by_workspace: dict[str, list[Item]] = {}
        for item in batch:
            by_workspace.setdefault(item.envelope.workspace_id, []).append(item)
        marks = self.announced_below
        for workspace_id, items in by_workspace.items():
            rules = self._rules_of(workspace_id)
            if rules.empty:
                continue
            if marks:
                known = [i for i in items if i.offset < marks.get(partition_of(i.offset), 0)]
                if known:
                    self._engine.apply(workspace_id, rules, known)  # folded, not announced
                    items = [i for i in items if i.offset >= marks.get(partition_of(i.offset), 0)]
            changes = self._engine.apply(workspace_id, rules, items)
            if self.trace is not None and changes:
                _trace_changes(self.trace, rules, items, changes)
            self._announce(rules, changes)
        return batch

    def sweep(self) -> int:
        """Re-evaluate people whose windows moved on; returns how many values changed."""
        if self.announced_below:
            return 0  # a replay's values are partial: the server's sweep comes after it
        changes = self._engine.recheck(self._rules_of)
        by_workspace: dict[str, list[Change]] = {}
        for change in changes:
            by_workspace.setdefault(change.workspace_id, []).append(change)
        for workspace_id, found in by_workspace.items():
            self._announce(self._rules_of(workspace_id), found)
        return len(changes)

    def announce(self, rules: EngageRules, changes: Sequence[Change]) -> None:
        """Emit the messages of changes computed elsewhere (a batch compute), then record them."""
        self._announce(rules, changes)

    def _announce(self, rules: EngageRules, changes: Sequence[Change]) -> None:
        if not changes:
            return
        messages = messages_for(changes, set(rules.audiences), self._identifiers, datetime.now(UTC))
        # Durable first, recorded second: a crash in between emits the same ids again, which
        # dedup drops; the other order could lose the announcement.
        if messages:
            self._emit(messages)
        self._engine.record(changes)
        self.changes += len(changes)


def _trace_changes(
    trace: TraceRecorder, rules: EngageRules, items: list[Item], changes: Sequence[Change]
) -> None:
    """Each change goes to the trace of the person's last message in the batch: the one after
    which the value moved (the engine folds a person's messages of a batch together)."""
    last = {item.profile_id: item.offset for item in items if item.profile_id is not None}
    audiences = set(rules.audiences)
    for change in changes:
        position = last.get(change.profile_id)
        if position is None:
            continue
        if change.key in audiences:
            moved = "entered" if change.after else "exited"
            trace.note(position, "audiences", {"key": change.key, "moved": moved})
        else:
            trace.note(position, "computedTraits", {"key": change.key})

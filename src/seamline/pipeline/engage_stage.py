"""Engage stage (in the tail, after the event store): updates computed traits and audience
memberships of the people in the batch and announces what changed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from seamline.engage.effects import Identifiers, messages_for
from seamline.engage.realtime import Change, RealtimeEngine
from seamline.engage.rules import EngageRules
from seamline.pipeline.batch import Batch
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
    ) -> None:
        self._rules_of = rules_of
        self._engine = engine
        self._identifiers = identifiers
        self._emit = emit
        self.changes = 0

    def __call__(self, batch: Batch) -> Batch:
        by_workspace: dict[str, list[Item]] = {}
        for item in batch:
            by_workspace.setdefault(item.envelope.workspace_id, []).append(item)
        for workspace_id, items in by_workspace.items():
            rules = self._rules_of(workspace_id)
            if not rules.empty:
                self._announce(rules, self._engine.apply(workspace_id, rules, items))
        return batch

    def sweep(self) -> int:
        """Re-evaluate people whose windows moved on; returns how many values changed."""
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

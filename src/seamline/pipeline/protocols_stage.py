"""Protocols stage: the workspace's transformations in order, then naming rules and
tracking-plan validation with schema controls — on the sources that have any configured.

Transformations come first so that they can fix what validation would otherwise flag or hold
(an event renamed to its planned name is planned), and so that violations describe the data
that goes on. A held message keeps the message as it arrived, ready to re-run.

A message that does not go on (blocked, quarantined, dropped by a transformation, failed by a
custom function) is held with the reason, so nothing accepted disappears without a trace.
Messages of sources with no protocols configuration pass through untouched and undecoded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder
from seamline.protocols.enforce import enforce
from seamline.protocols.records import (
    HeldDisposition,
    HeldMessage,
    ProtocolsStore,
    ViolationRecord,
    hold,
)
from seamline.protocols.transforms import Transformation
from seamline.protocols.validate import Violation
from seamline.spec.envelope import Envelope, Item
from seamline.spec.plain import from_plain, to_plain
from seamline.workspace.compiled import WorkspaceRules

_encode = msgspec.json.Encoder().encode


class _Pending:
    """A message on its way through the stage, as a dict while rules work on it."""

    __slots__ = ("changed", "item", "message")

    def __init__(self, item: Item, message: dict[str, Any], changed: bool) -> None:
        self.item = item
        self.message = message
        self.changed = changed


class ApplyProtocols:
    def __init__(
        self,
        rules: Callable[[str], WorkspaceRules],
        store: ProtocolsStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        trace: TraceRecorder | None = None,
    ) -> None:
        self._rules = rules
        self._store = store
        self._now = now
        self._trace = trace
        self.held = 0
        self.violations = 0

    def __call__(self, batch: Batch) -> Batch:
        now = self._now()
        found: list[ViolationRecord] = []
        held: list[HeldMessage] = []
        results: list[Item | _Pending] = []
        pending: dict[str, list[_Pending]] = {}
        workspaces: dict[str, WorkspaceRules] = {}
        for item in batch:
            envelope = item.envelope
            rules = workspaces.get(envelope.workspace_id)
            if rules is None:
                rules = workspaces[envelope.workspace_id] = self._rules(envelope.workspace_id)
            if not rules.touches(envelope.source_id):
                results.append(item)
                continue
            entry = _Pending(item, to_plain(envelope.message, rules.plain_parts), False)
            results.append(entry)
            pending.setdefault(envelope.workspace_id, []).append(entry)
        for workspace_id, entries in pending.items():
            for transformation in workspaces[workspace_id].transformations:
                self._transform(transformation, workspaces[workspace_id], entries, now, held)
                entries = [entry for entry in entries if entry.message is not None]
            for entry in entries:
                self._check(entry, workspaces[workspace_id], now, found, held)
        out: Batch = []
        for result in results:
            if isinstance(result, Item):
                out.append(result)
            elif result.message is not None:
                parts = workspaces[result.item.envelope.workspace_id].plain_parts
                finished = self._finish(result, parts, now, held)
                if finished is not None:
                    out.append(finished)
        self._store.record(found, held)
        if self._trace is not None:
            _trace_outcomes(self._trace, found, held)
        self.held += len(held)
        self.violations += len(found)
        return out

    def _check(
        self,
        entry: _Pending,
        rules: WorkspaceRules,
        now: datetime,
        found: list[ViolationRecord],
        held: list[HeldMessage],
    ) -> None:
        """Naming rules, then the plan; holds the message (sets it to None) when controls say."""
        source = rules.sources.get(entry.item.envelope.source_id)
        if source is None:
            return
        message = entry.message
        if source.naming is not None:
            named = source.naming.check(message)
            # Names fixed on the way are still reported: the instrumentation should change.
            found.extend(_records(entry.item, message, named.violations + named.fixed, now))
            if named.message is not message:
                message = entry.message = named.message
                entry.changed = True
        if source.plan is not None:
            decision = enforce(message, source.plan.check(message), source.controls)
            found.extend(_records(entry.item, message, decision.violations, now))
            if decision.disposition != "keep":
                held.append(hold(entry.item, decision.disposition, decision.reason, now))
                entry.message = None  # type: ignore[assignment]
            elif decision.omitted:
                entry.changed = True

    def _transform(
        self,
        transformation: Transformation,
        rules: WorkspaceRules,
        entries: list[_Pending],
        now: datetime,
        held: list[HeldMessage],
    ) -> None:
        chosen = [
            entry
            for entry in entries
            if transformation.applies_to(entry.item.envelope.source_id, entry.message)
        ]
        if not chosen:
            return
        trace = self._trace
        if transformation.function is None:
            for entry in chosen:
                changed = transformation.apply(entry.message)
                if trace is not None:
                    did = "dropped" if changed is None else "changed" if changed else "unchanged"
                    _trace_transformation(trace, entry.item, transformation, did)
                if changed is None:
                    reason = f"dropped by transformation {transformation.name!r}"
                    held.append(hold(entry.item, "drop", reason, now))
                    entry.message = None  # type: ignore[assignment]
                elif changed:
                    entry.changed = True
            return
        runner = rules.functions.get(transformation.function)
        if runner is None:
            reason = f"transformation {transformation.name!r} names a function that does not exist"
            for entry in chosen:
                held.append(hold(entry.item, "function_error", reason, now))
                entry.message = None  # type: ignore[assignment]
            return
        outcomes = runner.run([entry.message for entry in chosen])
        for entry, outcome in zip(chosen, outcomes, strict=True):
            if trace is not None:
                did = {"ok": "changed", "dropped": "dropped"}.get(outcome.kind, "failed")
                _trace_transformation(trace, entry.item, transformation, did)
            if outcome.kind == "ok" and outcome.event is not None:
                entry.message, entry.changed = outcome.event, True
                continue
            if outcome.kind == "dropped":
                disposition: HeldDisposition = "drop"
                reason = f"dropped by function {transformation.function!r}"
            else:
                disposition = "function_error"
                reason = f"function {transformation.function!r}: {outcome.error}"
            held.append(hold(entry.item, disposition, reason, now))
            entry.message = None  # type: ignore[assignment]

    def _finish(
        self, entry: _Pending, parts: tuple[str, ...], now: datetime, held: list[HeldMessage]
    ) -> Item | None:
        if not entry.changed:
            return entry.item
        envelope = entry.item.envelope
        try:
            message = from_plain(envelope.message, entry.message, parts)
        except (msgspec.ValidationError, TypeError) as error:
            reason = f"the transformed message is not a valid Segment message: {error}"
            held.append(hold(entry.item, "function_error", reason, now))
            return None
        return entry.item._replace(
            envelope=Envelope(
                workspace_id=envelope.workspace_id,
                source_id=envelope.source_id,
                message=message,
                rerun=envelope.rerun,
            )
        )


def _records(
    item: Item, message: dict[str, Any], violations: Any, now: datetime
) -> list[ViolationRecord]:
    if not violations:
        return []
    envelope = item.envelope
    kind = message.get("type")
    name = message.get("event") if kind == "track" else message.get("name")
    found: list[Violation] = list(violations)
    return [
        ViolationRecord(
            workspace_id=envelope.workspace_id,
            source_id=envelope.source_id,
            log_offset=item.offset,
            message_id=envelope.message.message_id,
            message_type=kind if isinstance(kind, str) else None,
            event_name=str(name)[:500] if name is not None else None,
            path=v.path[:500],
            rule=v.rule[:100],
            expected=v.expected[:500],
            actual=v.actual[:500],
            recorded_at=now,
        )
        for v in found
    ]


def _trace_transformation(
    trace: TraceRecorder, item: Item, transformation: Transformation, did: str
) -> None:
    trace.note(
        item.offset,
        "transformations",
        {"name": transformation.name, "kind": transformation.spec.kind, "did": did},
    )


def _trace_outcomes(
    trace: TraceRecorder, found: list[ViolationRecord], held: list[HeldMessage]
) -> None:
    for violation in found:
        trace.note(
            violation.log_offset, "violations", {"rule": violation.rule, "path": violation.path}
        )
    for message in held:
        trace.put(
            message.log_offset,
            "held",
            {"disposition": message.disposition, "reason": message.reason},
        )
        trace.stop(message.log_offset, message.reason)

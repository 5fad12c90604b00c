"""Privacy stages: PII controls and the data inventory before identity; consent after it.

`ControlPersonalData` classifies every field (by name, and by value), records the data
inventory, and applies the workspace's ingest-scope PII controls (those not limited to some
destinations) before anything is stored: hash, mask or drop a field, or block the message
(held, never silently dropped). `RecordConsent` keeps each profile's latest consent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder
from seamline.privacy.consent import ConsentStore, ProfileConsent, preferences_of
from seamline.privacy.fields import PARTS, FieldClassifier, PiiControl, control_fields, leaves
from seamline.privacy.inventory import Inventory, InventoryBatch
from seamline.privacy.pii import Match
from seamline.privacy.prefilter import Prefilter
from seamline.protocols.records import HeldMessage, ProtocolsStore, hold
from seamline.spec.envelope import Envelope
from seamline.workspace.compiled import WorkspaceRules

_encode = msgspec.json.Encoder().encode
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode


def _parts(message: Any, wanted: Callable[[bytes], bool] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in PARTS:
        raw = getattr(message, part)
        if raw and (wanted is None or wanted(bytes(raw))):
            found[part] = _as_dict(raw)
    return found


class ControlPersonalData:
    """See the module docstring. The data inventory is fed from a sample: every message of a
    source until it has sent `SAMPLE_ALL_FIRST`, then one message in `SAMPLE_EVERY`, so a
    field is listed (and classified) soon after it first appears at a fraction of the cost;
    its count is the number of sampled messages that had it. PII controls are applied to
    every message."""

    SAMPLE_ALL_FIRST = 1_000
    SAMPLE_EVERY = 16

    def __init__(
        self,
        rules: Callable[[str], WorkspaceRules],
        salt: Callable[[str], bytes],
        inventory: Inventory,
        holds: ProtocolsStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        trace: TraceRecorder | None = None,
    ) -> None:
        self._rules = rules
        self._salt = salt
        self._inventory = inventory
        self._holds = holds
        self._now = now
        self._trace = trace
        self._classifiers: dict[str, tuple[int, FieldClassifier, Prefilter]] = {}
        self._seen_per_source: dict[str, int] = {}
        self.blocked = 0

    def __call__(self, batch: Batch) -> Batch:
        now = self._now()
        seen = InventoryBatch(now)
        held: list[HeldMessage] = []
        out: Batch = []
        for item in batch:
            envelope = item.envelope
            workspace_id, source_id = envelope.workspace_id, envelope.source_id
            rules = self._rules(workspace_id)
            controls = rules.ingest_controls
            sampled = self._sampled(source_id)
            if not controls and not sampled:
                out.append(item)
                continue
            classifier, prefilter = self._classifier(workspace_id, rules)
            if sampled:
                parts = _parts(envelope.message)
            else:
                # Controls only: decode just the parts a control may apply to.
                parts = _parts(envelope.message, prefilter.may_apply)
                if not parts:
                    out.append(item)
                    continue
            changed, blocked = False, None
            if controls:
                paths: list[str] | None = [] if sampled else None
                classified: list[tuple[str, list[Match]]] | None = [] if sampled else None
                changed, blocked = control_fields(
                    parts, classifier, controls, self._salt(workspace_id), paths, classified
                )
                if paths is not None and classified is not None:
                    seen.count(workspace_id, source_id, item.offset, paths)
                    for path, matches in classified:
                        seen.classify(workspace_id, source_id, path, matches)
            else:
                pairs = leaves(parts)
                seen.count(workspace_id, source_id, item.offset, [path for path, _ in pairs])
                for path, value in pairs:
                    matches = classifier.classify(path, value)
                    if matches:
                        seen.classify(workspace_id, source_id, path, matches)
            if self._trace is not None and (changed or blocked is not None):
                applied = _applied(envelope.message, classifier, controls)
                self._trace.put(item.offset, "pii", applied)
            if blocked is not None:
                reason = f"carries {blocked} data, which a PII control blocks"
                held.append(hold(item, "block", reason, now))
                if self._trace is not None:
                    self._trace.put(item.offset, "held", {"disposition": "block", "reason": reason})
                    self._trace.stop(item.offset, reason)
                continue
            if changed:
                message = msgspec.structs.replace(
                    envelope.message,
                    **{part: msgspec.Raw(_encode(value)) for part, value in parts.items()},
                )
                item = item._replace(
                    envelope=Envelope(
                        workspace_id=workspace_id,
                        source_id=source_id,
                        message=message,
                        rerun=envelope.rerun,
                    )
                )
            out.append(item)
        self._inventory.merge(seen.entries())
        if held:
            self._holds.record([], held)
            self.blocked += len(held)
        return out

    def _sampled(self, source_id: str) -> bool:
        seen = self._seen_per_source.get(source_id, 0) + 1
        self._seen_per_source[source_id] = seen
        return seen <= self.SAMPLE_ALL_FIRST or seen % self.SAMPLE_EVERY == 0

    def _classifier(
        self, workspace_id: str, rules: WorkspaceRules
    ) -> tuple[FieldClassifier, Prefilter]:
        cached = self._classifiers.get(workspace_id)
        if cached is None or cached[0] != rules.revision:
            cached = (
                rules.revision,
                FieldClassifier(rules.matchers),
                Prefilter(rules.ingest_controls, rules.matchers),
            )
            self._classifiers[workspace_id] = cached
        return cached[1], cached[2]


class RecordConsent:
    """Keeps each profile's latest `context.consent.categoryPreferences` (after identity)."""

    def __init__(self, store: ConsentStore) -> None:
        self._store = store

    def __call__(self, batch: Batch) -> Batch:
        found: list[ProfileConsent] = []
        for item in batch:
            message = item.envelope.message
            if item.profile_id is None or b"categoryPreferences" not in bytes(message.context):
                continue
            preferences = preferences_of(_as_dict(message.context))
            if preferences is None:
                continue
            found.append(
                ProfileConsent(
                    workspace_id=item.envelope.workspace_id,
                    profile_id=item.profile_id,
                    preferences=preferences,
                    updated_at=message.timestamp or message.received_at or datetime.now(UTC),
                    message_id=message.message_id,
                    log_offset=item.offset,
                )
            )
        self._store.record(found)
        return batch


def _applied(
    message: Any, classifier: FieldClassifier, controls: Sequence[PiiControl]
) -> list[dict[str, Any]]:
    """For a trace: the fields of the message as it came that ingest controls acted on, each
    with its kind, classification and control. Runs the controls again on a copy (only for
    messages they changed, so tracing costs nothing where no control applies)."""
    classified: list[tuple[str, list[Match]]] = []
    control_fields(_parts(message), classifier, controls, b"", None, classified)
    applied: list[dict[str, Any]] = []
    for path, matches in classified:
        for control in controls:
            match = next((m for m in matches if control.selects(m)), None)
            if match is None:
                continue
            if control.control != "allow":
                applied.append(
                    {
                        "path": path,
                        "kind": match.kind,
                        "classification": match.classification,
                        "control": control.control,
                    }
                )
            break
    return applied

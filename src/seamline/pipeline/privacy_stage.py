"""Privacy stages: PII controls and the data inventory before identity; consent after it.

`ControlPersonalData` classifies every field (by name, and by value), records the data
inventory, and applies the workspace's ingest-scope PII controls (those not limited to some
destinations) before anything is stored: hash, mask or drop a field, or block the message
(held, never silently dropped). `RecordConsent` keeps each profile's latest consent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.pipeline.batch import Batch
from seamline.privacy.consent import ConsentStore, ProfileConsent, preferences_of
from seamline.privacy.fields import PARTS, FieldClassifier, control_fields
from seamline.privacy.inventory import Inventory, InventoryBatch
from seamline.protocols.records import HeldMessage, ProtocolsStore
from seamline.spec.envelope import Envelope, Item
from seamline.workspace.compiled import WorkspaceRules

_encode = msgspec.json.Encoder().encode
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode


def _parts(message: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in PARTS:
        raw = getattr(message, part)
        if raw:
            found[part] = _as_dict(raw)
    return found


class ControlPersonalData:
    def __init__(
        self,
        rules: Callable[[str], WorkspaceRules],
        salt: Callable[[str], bytes],
        inventory: Inventory,
        holds: ProtocolsStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rules = rules
        self._salt = salt
        self._inventory = inventory
        self._holds = holds
        self._now = now
        self._classifiers: dict[str, tuple[int, FieldClassifier]] = {}
        self.blocked = 0

    def __call__(self, batch: Batch) -> Batch:
        now = self._now()
        seen = InventoryBatch(now)
        held: list[HeldMessage] = []
        out: Batch = []
        for item in batch:
            envelope = item.envelope
            rules = self._rules(envelope.workspace_id)
            classifier = self._classifier(envelope.workspace_id, rules)
            controls = rules.ingest_controls
            salt = self._salt(envelope.workspace_id) if controls else b""
            parts = _parts(envelope.message)
            workspace_id, source_id = envelope.workspace_id, envelope.source_id
            observe = functools.partial(seen.observe, workspace_id, source_id, item.offset)
            changed, blocked = control_fields(parts, classifier, controls, salt, observe)
            if blocked is not None:
                reason = f"carries {blocked} data, which a PII control blocks"
                held.append(_held(item, reason, now))
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

    def _classifier(self, workspace_id: str, rules: WorkspaceRules) -> FieldClassifier:
        cached = self._classifiers.get(workspace_id)
        if cached is None or cached[0] != rules.revision:
            cached = (rules.revision, FieldClassifier(rules.matchers))
            self._classifiers[workspace_id] = cached
        return cached[1]


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


def _held(item: Item, reason: str, now: datetime) -> HeldMessage:
    envelope = item.envelope
    return HeldMessage(
        workspace_id=envelope.workspace_id,
        source_id=envelope.source_id,
        log_offset=item.offset,
        message_id=envelope.message.message_id,
        disposition="block",
        reason=reason,
        message=_encode(envelope.message).decode(),
        held_at=now,
    )

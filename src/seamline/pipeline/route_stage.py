"""Route stage: each stored message goes to the outbox of every subscription it triggers.

Per destination instance, in order: consent and the destination's PII controls (privacy's
egress), the destination's filters, its sampling; then per subscription the FQL trigger, the
mapping and the payload's validation against the action's fields. What passes is queued in
the outbox (idempotently: replaying the log queues nothing twice); what does not is counted
with its reason. The delivery workers take it from there.

An offline rebuild replays the whole log; what was routed before it is skipped (`routed_below`)
rather than queued again, since delivered rows have left the outbox.

In-process `destinations` (anything with a `slug` and `send(messages)`) receive the egress
view directly; tests use them to see what would leave Seamline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from seamline.destinations.errors import InvalidPayload
from seamline.destinations.instances import CompiledDestination
from seamline.destinations.mapping import validate_payload
from seamline.log.base import partition_of
from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder
from seamline.privacy.egress import Egress
from seamline.spec.envelope import Item
from seamline.store.outbox_sql import new_delivery
from seamline.workspace.compiled import WorkspaceRules

_encode = msgspec.json.Encoder().encode
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode

CountKey = tuple[str, str, str, datetime, str, str]


class Destination(Protocol):
    slug: str

    def send(self, messages: list[dict[str, Any]]) -> None: ...


class Outbox(Protocol):
    def enqueue(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def count(self, found: dict[CountKey, int]) -> None: ...


class RouteToDestinations:
    def __init__(
        self,
        rules: Callable[[str], WorkspaceRules],
        egress: Callable[[str], Egress],
        outbox: Outbox,
        *,
        local: Sequence[Destination] = (),
        queued: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        trace: TraceRecorder | None = None,
    ) -> None:
        self._trace = trace
        self._rules = rules
        self._egress = egress
        self._outbox = outbox
        self._local = tuple(local)
        self._queued = queued
        self._now = now
        self.counts: Counter[tuple[str, str]] = Counter()
        """(destination, outcome) → messages, since start: outcome is sent (local ones),
        queued, or the reason a message did not go (consent, pii:<kind>, filter, sampled,
        invalid)."""
        self.routed_below: dict[int, int] = {}
        """Partition → the first position not routed yet: items below it were routed before
        (a rebuild's replay sets it) and are neither routed nor counted again."""

    def __call__(self, batch: Batch) -> Batch:
        now = self._now()
        minute = now.replace(second=0, microsecond=0)
        rows: list[dict[str, Any]] = []
        counted: Counter[CountKey] = Counter()
        local: dict[str, list[dict[str, Any]]] = {d.slug: [] for d in self._local}
        skip = self.routed_below
        for item in batch:
            if skip and item.offset < skip.get(partition_of(item.offset), 0):
                continue
            workspace_id = item.envelope.workspace_id
            rules = self._rules(workspace_id)
            if not rules.destinations and not self._local:
                continue
            egress = self._egress(workspace_id)
            message = _as_dict(_encode(item.envelope.message))
            for destination in self._local:
                prepared = egress.prepare(destination.slug, message)
                if prepared.message is None:
                    self.counts[destination.slug, prepared.reason] += 1
                else:
                    local[destination.slug].append(prepared.message)
                    self.counts[destination.slug, "sent"] += 1
            for instance in rules.destinations.values():
                if not instance.subscriptions:
                    continue
                where = (workspace_id, instance.name)
                counted[(*where, "*", minute, "received", "")] += 1
                routed = route(instance, egress, message)
                if self._trace is not None:
                    _trace_route(self._trace, item.offset, rules, instance, routed)
                if isinstance(routed, str):
                    counted[(*where, "*", minute, "filtered", routed)] += 1
                    self.counts[instance.name, routed] += 1
                    continue
                for subscription, payload in routed:
                    if isinstance(payload, InvalidPayload):
                        reason = str(payload)[:300]
                        counted[(*where, subscription, minute, "invalid", reason)] += 1
                        self.counts[instance.name, "invalid"] += 1
                        continue
                    rows.append(_row(item, instance.name, subscription, payload, now))
                    counted[(*where, subscription, minute, "mapped", "")] += 1
                    self.counts[instance.name, "queued"] += 1
        for destination in self._local:
            if local[destination.slug]:
                destination.send(local[destination.slug])
        if rows:
            self._outbox.enqueue(rows)
            self._queued()
        self._outbox.count(dict(counted))
        return batch


def route(
    instance: CompiledDestination, egress: Egress, message: dict[str, Any]
) -> str | list[tuple[str, dict[str, Any] | InvalidPayload]]:
    """Where one message goes in one destination instance: the reason it goes nowhere
    (consent, pii:<kind>, filter, sampled), or each triggered subscription with its
    validated payload (or why the payload is invalid)."""
    prepared = egress.prepare(instance.name, message)
    view = prepared.message
    if view is None:
        return prepared.reason
    view = instance.filtered(view)
    if view is None:
        return "filter"
    if not instance.sampled(str(message.get("messageId"))):
        return "sampled"
    found: list[tuple[str, dict[str, Any] | InvalidPayload]] = []
    for subscription in instance.subscriptions:
        if subscription.trigger(view):
            try:
                found.append(
                    (
                        subscription.name,
                        validate_payload(subscription.mapper(view), subscription.action.fields),
                    )
                )
            except InvalidPayload as error:
                found.append((subscription.name, error))
    return found


def _row(
    item: Item, destination: str, subscription: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    message = item.envelope.message
    message_id = message.message_id or str(item.offset)
    user = message.user_id if message.user_id is not None else message.anonymous_id
    return new_delivery(
        item.envelope.workspace_id,
        destination,
        subscription,
        message_id,
        payload,  # JSON data already: mapped from the message's JSON form
        now,
        profile_key=item.profile_id or (str(user) if user is not None else None),
    )


def _trace_route(
    trace: TraceRecorder,
    position: int,
    rules: WorkspaceRules,
    instance: CompiledDestination,
    routed: str | list[tuple[str, dict[str, Any] | InvalidPayload]],
) -> None:
    """Per subscription of the instance: queued, or filtered with why (consent, pii:<kind>,
    filter, sampled, trigger false, invalid: …); and the PII controls limited to it."""
    chosen = {} if isinstance(routed, str) else dict(routed)
    for subscription in instance.subscriptions:
        entry: dict[str, Any] = {"destination": instance.name, "subscription": subscription.name}
        if isinstance(routed, str):
            entry.update(outcome="filtered", reason=routed)
        elif subscription.name not in chosen:
            entry.update(outcome="filtered", reason="trigger false")
        elif isinstance(payload := chosen[subscription.name], InvalidPayload):
            entry.update(outcome="filtered", reason=f"invalid: {payload}"[:300])
        else:
            entry.update(outcome="queued")
        trace.note(position, "subscriptions", entry)
    controls = [
        {"kind": c.kind, "classification": c.classification, "control": c.control}
        for c in rules.pii_controls
        if instance.name in c.destinations
    ]
    if controls:
        trace.note(position, "destinationPii", {"destination": instance.name, "controls": controls})

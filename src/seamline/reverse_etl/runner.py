"""One run of a model: read its rows, diff each subscription's snapshot, queue the changes it
sends in the delivery outbox, then advance the snapshots.

The order is what makes a crash harmless: the outbox rows are durable before the snapshot
moves, and they are keyed by the snapshot's generation, so a run retried after a crash between
the two finds the same changes and queues them again — rows still queued are not doubled
(enqueueing is idempotent by key), rows delivered meanwhile are sent once more. Nothing is lost.
Bad rows (no key column, duplicate keys) fail the run before anything is queued.

A payload its action refuses (a required field missing in that row) is counted `invalid` and
kept out of the snapshot, so the row is sent once the mapping or the data is fixed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from seamline.access.sealing import Sealer
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.instances import CompiledDestination
from seamline.destinations.mapping import validate_payload
from seamline.errors import Conflict, NotFound, SeamlineError
from seamline.reverse_etl.diff import Records, diff, records_of
from seamline.reverse_etl.models import READABLE_WAREHOUSES, subscription_name
from seamline.reverse_etl.sources import Result, read_events, read_postgres
from seamline.store.models_sql import Claim, RunRecord, SqlModelState, SubscriptionChanges
from seamline.store.outbox_sql import new_delivery
from seamline.workspace.resources import ResourceStore

if TYPE_CHECKING:
    from seamline.store.events_lake import LakeEventStore

logger = logging.getLogger(__name__)

MANUAL, SCHEDULE = "manual", "schedule"
_QUEUE_CHUNK = 2_000
_HOLD_MARGIN = timedelta(minutes=5)
"""A claim lasts the query's timeout plus this (queueing and the snapshot), renewed after the
query: a runner that dies leaves the model to others once it expires."""


class Outbox(Protocol):
    def enqueue(self, rows: list[dict[str, Any]]) -> None: ...


@dataclass
class _Counts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    queued: int = 0
    invalid: int = 0
    first_invalid: str | None = None
    skipped: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "queued": self.queued,
            "invalid": self.invalid,
        }
        if self.first_invalid:
            shown["first_invalid"] = self.first_invalid
        if self.skipped:
            shown["skipped"] = self.skipped
        return shown


@dataclass
class _Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[str, SubscriptionChanges] = field(default_factory=dict)
    counts: dict[str, _Counts] = field(default_factory=dict)


class ModelRunner:
    """Runs models of the workspaces' `model` resources; `destinations` gives the enabled
    destination instances (with the models' subscriptions), `readable` every instance (a
    disabled warehouse may still be read)."""

    def __init__(
        self,
        state: SqlModelState,
        resources: ResourceStore,
        outbox: Outbox,
        sealer: Sealer,
        destinations: Callable[[str], Mapping[str, CompiledDestination]],
        readable: Callable[[str], Mapping[str, CompiledDestination]],
        events: Callable[[], LakeEventStore] | None = None,
        *,
        queued: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner: str | None = None,
    ) -> None:
        self.state = state
        self.resources = resources
        self._outbox = outbox
        self._sealer = sealer
        self._destinations = destinations
        self._readable = readable
        self._events = events
        self._queued = queued
        self._now = now
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"

    def run(self, workspace_id: str, name: str, trigger: str = MANUAL) -> RunRecord:
        """Run model `name` now and return its run as recorded (status `succeeded` or
        `failed`, with the error). NotFound for no such model, Conflict when it is running."""
        resource = self.resources.get(workspace_id, "model", name)
        if resource is None:
            raise NotFound(f"no model named {name!r}")
        model = resource.document
        timeout = float(model.get("timeout_seconds", 300.0))
        claim = self.state.claim(
            workspace_id, name, self.owner, self._now(), timedelta(seconds=timeout) + _HOLD_MARGIN
        )
        if claim is None:
            raise Conflict(f"model {name!r} is running already; see its runs")
        run_id = self.state.start_run(workspace_id, name, trigger, self._now())
        try:
            self._run(claim, model, run_id, timeout)
        except SeamlineError as error:
            self._failed(run_id, error.message)
        except Exception as error:
            logger.exception("model %s of workspace %s failed", name, workspace_id)
            self._failed(run_id, f"{type(error).__name__}: {error}")
        finally:
            self.state.release(claim)
        return self.state.runs(workspace_id, name, limit=1)[0]

    def _run(self, claim: Claim, model: dict[str, Any], run_id: int, timeout: float) -> None:
        result = self._read(claim.workspace_id, model, timeout)
        key_column = str(model["primary_key"])
        records = records_of(result.columns, result.rows, key_column)
        if not self.state.renew(claim, self._now() + _HOLD_MARGIN):
            raise Conflict("the model's claim expired while its query ran; run it again")
        plan = self._plan(claim, model, records, key_column)
        for start in range(0, len(plan.rows), _QUEUE_CHUNK):
            self._outbox.enqueue(plan.rows[start : start + _QUEUE_CHUNK])
        if plan.rows:
            self._queued()
        keep = list((model.get("subscriptions") or {}).keys())
        if not self.state.advance(claim, key_column, plan.snapshots, keep):
            raise Conflict("another runner took the model over; its changes are queued")
        counts = plan.counts.values()
        self.state.finish_run(
            run_id,
            self._now(),
            "succeeded",
            rows_read=len(records.rows),
            added=sum(c.added for c in counts),
            updated=sum(c.updated for c in counts),
            deleted=sum(c.deleted for c in counts),
            queued=sum(c.queued for c in counts),
            subscriptions={n: c.as_json() for n, c in plan.counts.items()},
        )

    def _read(self, workspace_id: str, model: dict[str, Any], timeout: float) -> Result:
        source = model["source"]
        query, max_rows = str(model["query"]), int(model.get("max_rows", 1_000_000))
        if source["type"] == "events":
            if self._events is None:
                raise NotFound("this process has no event store to read")
            return read_events(self._events(), query, max_rows=max_rows, timeout=timeout)
        if source["type"] == "postgres":
            url = self._sealer.unseal(source["url"])
            return read_postgres(str(url), query, max_rows=max_rows, timeout=timeout)
        name = str(source["destination"])
        instance = self._readable(workspace_id).get(name)
        if instance is None:
            raise NotFound(f"the model reads destination {name!r}, which no longer exists")
        url = instance.settings.get(READABLE_WAREHOUSES[instance.definition.slug])
        schema = instance.settings.get("schema") or "seamline"
        return read_postgres(
            str(url), query, max_rows=max_rows, timeout=timeout, schema=str(schema)
        )

    def _plan(
        self, claim: Claim, model: dict[str, Any], records: Records, key_column: str
    ) -> _Plan:
        plan = _Plan()
        instances = self._destinations(claim.workspace_id)
        now = self._now()
        restarted = claim.key_column != key_column  # a new key: the old snapshot means nothing
        for name, sub in sorted((model.get("subscriptions") or {}).items()):
            counts = plan.counts[name] = _Counts()
            instance = instances.get(str(sub["destination"]))
            full_name = subscription_name(claim.model, name)
            compiled = None
            if instance is not None and sub.get("enabled", True):
                compiled = next((s for s in instance.subscriptions if s.name == full_name), None)
            if instance is None or compiled is None:
                # Its snapshot stays as it is: the changes are sent once it is enabled again.
                counts.skipped = "disabled (the subscription or its destination)"
                continue
            snapshot = (
                {} if restarted else self.state.snapshot(claim.workspace_id, claim.model, name)
            )
            changes = diff(snapshot, records)
            counts.added, counts.updated = len(changes.added), len(changes.updated)
            counts.deleted = len(changes.deleted)
            wanted = set(sub.get("records") or ())
            change = plan.snapshots[name] = SubscriptionChanges()
            nulls = dict.fromkeys(records.columns)
            for kind, ids in (
                ("added", changes.added),
                ("updated", changes.updated),
                ("deleted", changes.deleted),
            ):
                for record_id in ids:
                    if kind not in wanted:
                        _note(change, kind, record_id, records)
                        continue
                    values = nulls if kind == "deleted" else records.rows[record_id][1]
                    event = {**values, "__segment_id": record_id, "__change": kind}
                    try:
                        payload = validate_payload(compiled.mapper(event), compiled.action.fields)
                    except InvalidPayload as error:
                        counts.invalid += 1
                        counts.first_invalid = counts.first_invalid or str(error)[:300]
                        continue
                    plan.rows.append(
                        _delivery(claim, instance.name, full_name, record_id, payload, now)
                    )
                    counts.queued += 1
                    _note(change, kind, record_id, records)
        return plan

    def _failed(self, run_id: int, error: str) -> None:
        self.state.finish_run(run_id, self._now(), "failed", error=error[:2000])


def _note(change: SubscriptionChanges, kind: str, record_id: str, records: Records) -> None:
    """The snapshot's new entry for a record this run dealt with."""
    if kind == "deleted":
        change.drop.append(record_id)
    else:
        change.put[record_id] = records.rows[record_id][0]


def _delivery(
    claim: Claim,
    destination: str,
    subscription: str,
    record_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    # Keyed by the snapshot's generation: the same run retried queues the same keys.
    seed = f"{claim.workspace_id}\0{subscription}\0{claim.generation}\0{record_id}"
    message_id = "retl-" + hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()
    return new_delivery(
        claim.workspace_id,
        destination,
        subscription,
        message_id,
        payload,
        now,
        profile_key=record_id[:300],
    )

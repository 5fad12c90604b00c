"""The source-function stage: raw webhook requests in the log become Segment messages.

It runs first, before dedup, so what a function emits goes through every stage as a Tracking
API message would. A request whose function fails (raises, times out, crashes, emits
something that is not a valid message) or whose source has no function is held, raw, with the
reason (disposition `function_error`); re-running it after the fix emits the same messageIds.
Batches without webhook requests pass through untouched (one set of message types per batch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from seamline.collect.webhook_record import RAW_TYPE, is_raw, read_raw, request_document
from seamline.pipeline.batch import Batch
from seamline.protocols.records import HeldMessage, ViolationRecord, hold
from seamline.sources.emitted import InvalidEmitted, emitted_items
from seamline.spec import Limits
from seamline.spec.envelope import Item
from seamline.store.webhooks_sql import WebhookSource

logger = logging.getLogger(__name__)
RECEIVED_AT_HEADER = "x-seamline-received-at"


class SourceOutcome(Protocol):
    """What the function runtime reports for one request (see docs/functions.md)."""

    @property
    def status(self) -> str: ...  # "ok", "error", "timeout", "crashed" or "invalid"

    @property
    def messages(self) -> Sequence[Any]: ...

    @property
    def objects(self) -> Sequence[Any]: ...  # `set(collection, id, properties)` calls

    @property
    def error(self) -> str | None: ...


class SourceRunner(Protocol):
    """Runs one source function over a list of requests, one outcome per request, in order."""

    def run(self, requests: list[dict[str, Any]]) -> Sequence[SourceOutcome]: ...


RunnerFor = Callable[[WebhookSource], SourceRunner | str]
"""The runner of a webhook source's function, or why there is none (held with that reason)."""
Record = Callable[[list[ViolationRecord], list[HeldMessage]], None]


class RunSourceFunctions:
    """Replaces each raw webhook record with the messages its source's function emits."""

    name = "source_functions"

    def __init__(
        self,
        webhooks: Callable[[str], WebhookSource | None],
        runner_for: RunnerFor,
        record: Record,
        limits: Limits,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._webhooks = webhooks
        self._runner_for = runner_for
        self._record = record
        self._limits = limits
        self._now = now
        self.held = 0
        self.emitted = 0

    def __call__(self, batch: Batch) -> Batch:
        # One set of types per batch: ~0.2 µs a message (a generator over `is_raw`: 0.6 µs).
        if RAW_TYPE not in {item.envelope.message.type for item in batch}:
            return batch
        now = self._now()
        held: list[HeldMessage] = []
        by_source: dict[str, list[Item]] = {}
        for item in batch:
            if is_raw(item.envelope.message):
                by_source.setdefault(item.envelope.source_id, []).append(item)
        produced: dict[int, list[Item]] = {}
        for source_id, items in by_source.items():
            self._run(source_id, items, produced, held, now)
        out: Batch = []
        for item in batch:
            if is_raw(item.envelope.message):
                out.extend(produced.get(item.offset, ()))
            else:
                out.append(item)
        if held:
            self._record([], held)
            self.held += len(held)
        return out

    def _run(
        self,
        source_id: str,
        items: list[Item],
        produced: dict[int, list[Item]],
        held: list[HeldMessage],
        now: datetime,
    ) -> None:
        webhook = self._webhooks(source_id)
        if webhook is None or not webhook.function:
            reason = (
                f"source {source_id!r} is not a webhook source any more"
                if webhook is None
                else f"webhook source {source_id!r} has no source function; set one and re-run"
            )
            held.extend(hold(item, "function_error", reason, now) for item in items)
            return
        runner = self._runner_for(webhook)
        if isinstance(runner, str):
            held.extend(hold(item, "function_error", runner, now) for item in items)
            return
        requests: list[dict[str, Any]] = []
        runnable: list[Item] = []
        for item in items:
            try:
                requests.append(_request(item))
            except msgspec.DecodeError as error:
                held.append(hold(item, "function_error", f"not a webhook request: {error}", now))
                continue
            runnable.append(item)
        if not runnable:
            return
        outcomes = runner.run(requests)
        name = webhook.function
        for item, outcome in zip(runnable, outcomes, strict=True):
            if outcome.status != "ok":
                reason = f"source function {name!r} {outcome.status}: {outcome.error or ''}"
                held.append(hold(item, "function_error", reason.strip()[:4000], now))
                continue
            try:
                emitted = [*outcome.messages, *objects_as_messages(outcome.objects)]
                made = emitted_items(item, emitted, self._limits)
            except InvalidEmitted as error:
                reason = f"source function {name!r} emitted an invalid message: {error}"
                held.append(hold(item, "function_error", reason[:4000], now))
                continue
            produced[item.offset] = made
            self.emitted += len(made)


def _request(item: Item) -> dict[str, Any]:
    """The request document of a raw record, with when Seamline received it (a replay checks
    a signature's timestamp against that, not against today)."""
    message = item.envelope.message
    document = request_document(read_raw(message))
    if message.received_at is not None:
        received = f"{message.received_at.timestamp():.3f}"
        document["headers"] = {**document["headers"], RECEIVED_AT_HEADER: received}
    return document


def objects_as_messages(objects: Sequence[Any]) -> list[dict[str, Any]]:
    """Objects saved with `set`: a `users` object is the person's traits (an identify with
    `userId` = its id); other collections have no place in Seamline yet, so the request is
    held (InvalidEmitted) rather than losing them quietly."""
    messages: list[dict[str, Any]] = []
    for found in objects:
        collection = found.get("collection") if isinstance(found, dict) else None
        if collection != "users":
            raise InvalidEmitted(
                f"set() of collection {collection!r}: Seamline keeps only `users` objects "
                "(as the person's traits); emit a track or group call instead"
            )
        messages.append(
            {"type": "identify", "userId": found.get("id"), "traits": found.get("properties") or {}}
        )
    return messages

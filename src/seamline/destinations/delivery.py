"""Delivery: workers take ready rows from the outbox, call the destination's action, and
record the outcome — delivered, retried later, or dead-lettered.

- Retryable failures (timeouts, 5xx, 429) are retried with exponential backoff and jitter, or
  after the tool's Retry-After, for `period` (4 hours by default, as Segment retries event
  streams for hours); after that the row becomes a dead letter.
- Permanent failures (4xx, invalid payloads) become dead letters at once, with the request
  and response that show why.
- A circuit breaker per destination instance stops calling a tool that keeps failing, so its
  rows wait instead of tying up workers; each instance has its own workers, so a slow or down
  tool never slows the others. A token bucket keeps to the tool's documented rate limit.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context
from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.instances import CompiledDestination, CompiledSubscription
from seamline.store.outbox_sql import OutboxRow, SqlOutbox
from seamline.store.traces_sql import attempt_row


@dataclass(frozen=True)
class RetryPolicy:
    period: timedelta = timedelta(hours=4)
    base: float = 1.0
    cap: float = 600.0

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds until the next attempt: the tool's Retry-After, else exponential backoff
        (1 s, 2 s, 4 s … up to 10 min) with jitter so retries of many rows spread out."""
        if retry_after is not None:
            return min(retry_after, self.period.total_seconds())
        return min(self.cap, self.base * 2.0 ** min(attempts, 30)) * rng.uniform(0.5, 1.0)


class CircuitBreaker:
    """Open after `threshold` consecutive failed calls; closed again by one success after the
    cool-down (which doubles, up to `max_cool`, while the tool keeps failing)."""

    def __init__(self, threshold: int = 5, cool: float = 5.0, max_cool: float = 300.0) -> None:
        self._threshold = threshold
        self._cool = cool
        self._max_cool = max_cool
        self._failures = 0
        self._open_until = 0.0
        self._current_cool = cool

    def wait(self, now: float) -> float:
        """Seconds to wait before the next call (0 when closed or half-open)."""
        return max(0.0, self._open_until - now)

    def success(self) -> None:
        self._failures = 0
        self._open_until = 0.0
        self._current_cool = self._cool

    def failure(self, now: float) -> None:
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = now + self._current_cool
            self._current_cool = min(self._max_cool, self._current_cool * 2)

    @property
    def open(self) -> bool:
        return self._failures >= self._threshold


class TokenBucket:
    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self._rate = rate
        self._capacity = burst or max(1.0, rate or 1.0)
        self._tokens = self._capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> float:
        """Take `count` tokens; returns how long to sleep first (0 with no limit)."""
        if not self._rate:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            self._tokens -= count
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


CountKey = tuple[str, str, str, datetime, str, str]
CLAIM_LIMIT = 500


@dataclass
class Attempt:
    """What one `deliver_once` did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    counts: Counter[CountKey] = field(default_factory=Counter)


class InstanceDelivery:
    """Delivers one destination instance's outbox rows (thread-safe: its workers share it)."""

    def __init__(
        self,
        workspace_id: str,
        outbox: SqlOutbox,
        *,
        policy: RetryPolicy,
        timeout: float,
        clock: Callable[[], datetime],
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
        trace: bool = False,
    ) -> None:
        """`trace`: record every attempt for the message trace (GET /api/v1/messages/{id})."""
        self.workspace_id = workspace_id
        self._trace = trace
        self._outbox = outbox
        self._policy = policy
        self._timeout = timeout
        self._clock = clock
        # Public addresses only by default: a test or an on-premise deployment passes a
        # client that allows its private ranges (`destination_client`).
        self._client = client or destination_client()
        self._rng = rng or random.Random()
        self._state: dict[str, Any] = {}
        self.breaker = CircuitBreaker()
        self._bucket: TokenBucket | None = None
        self._lease = timedelta(seconds=60)
        self._lease_until = clock()
        self._held: set[int] = set()

    def close(self) -> None:
        """Release the client and what actions keep in the instance's state (a warehouse's
        database connections): left to the garbage collector they close at a random moment."""
        self._client.close()
        for kept in list(self._state.values()):
            closer = getattr(kept, "close", None)
            if callable(closer):
                closer()
        self._state.clear()

    def deliver_once(self, instance: CompiledDestination) -> Attempt:
        """Claim ready rows, deliver them, record the outcomes."""
        attempt = Attempt()
        now = self._clock()
        subscriptions = {s.name: s for s in instance.subscriptions}
        largest = max((s.action.max_batch for s in subscriptions.values()), default=1)
        ordered = [s.name for s in subscriptions.values() if s.action.ordered]
        # The lease is short, so rows a killed worker held are delivered again within a
        # minute; a worker still busy with its claim renews the lease as it goes (see
        # `_deliver`), so a long claim sent one request per row never expires under it.
        limit = max(10, min(largest, CLAIM_LIMIT))
        lease = timedelta(seconds=max(60.0, self._timeout * 4))
        rows = self._outbox.claim(self.workspace_id, instance.name, limit, now, lease, ordered)
        attempt.claimed = len(rows)
        self._lease, self._lease_until = lease, now + lease
        self._held = {row.id for row in rows}
        groups: dict[str, list[OutboxRow]] = {}
        for row in rows:
            groups.setdefault(row.subscription, []).append(row)
        for name, group in groups.items():
            subscription = subscriptions.get(name)
            if subscription is None:
                self._dead(
                    group, PermanentError(f"subscription {name!r} no longer exists"), attempt
                )
                continue
            self._deliver(instance, subscription, group, attempt)
        self._outbox.count(dict(attempt.counts))
        return attempt

    def _deliver(
        self,
        instance: CompiledDestination,
        subscription: CompiledSubscription,
        rows: list[OutboxRow],
        attempt: Attempt,
    ) -> None:
        action = subscription.action
        context = Context(
            settings=instance.settings,
            http=Http(self._client, self._timeout, instance.secret_values()),
            state=self._state,
        )
        if self._bucket is None:
            self._bucket = TokenBucket(instance.rate_limit or instance.definition.rate_limit)
        chunks: Sequence[list[OutboxRow]]
        if action.perform_batch is not None and action.max_batch > 1:
            size = action.max_batch
            chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        else:
            chunks = [[row] for row in rows]
        for chunk in chunks:
            self._keep_claim()
            pause = self._bucket.take()
            if pause:
                time.sleep(pause)
            try:
                if action.perform_batch is not None and action.max_batch > 1:
                    results = action.perform_batch(context, [row.payload for row in chunk])
                else:
                    action.perform(context, chunk[0].payload)
                    results = None
            except PermanentError as error:
                if len(chunk) > 1:
                    # One bad payload must not sink the batch: each goes alone, so only the
                    # one the tool refuses becomes a dead letter.
                    self._one_by_one(instance, subscription, context, chunk, attempt)
                else:
                    self._failed(instance, subscription, chunk, error, attempt)
                continue
            except DeliveryError as error:
                self._failed(instance, subscription, chunk, error, attempt)
                continue
            except Exception as error:  # a bug in a destination: retried, and reported
                wrapped = RetryableError(f"{type(error).__name__}: {error}")
                self._failed(instance, subscription, chunk, wrapped, attempt)
                continue
            if isinstance(results, list) and len(results) == len(chunk):
                # Per-item outcomes of a batch call: None for delivered, an error otherwise.
                if all(isinstance(r, RetryableError) for r in results):
                    self.breaker.failure(time.monotonic())
                else:
                    self.breaker.success()
                done: list[OutboxRow] = []
                for row, result in zip(chunk, results, strict=True):
                    if isinstance(result, DeliveryError):
                        self._failed(instance, subscription, [row], result, attempt, count=False)
                    else:
                        done.append(row)
                if done:
                    # One transaction for the chunk's delivered rows, not one per row: this
                    # took a 500-event webhook batch from 542 to 5,894 events/s.
                    self._delivered(instance, subscription, done, attempt)
            else:
                self.breaker.success()
                self._delivered(instance, subscription, chunk, attempt)

    def _keep_claim(self) -> None:
        """Renew the lease of the claim's unfinished rows once half of it has passed."""
        now = self._clock()
        if self._held and now >= self._lease_until - self._lease / 2:
            self._lease_until = now + self._lease
            self._outbox.renew(sorted(self._held), self._lease_until)

    def _one_by_one(
        self,
        instance: CompiledDestination,
        subscription: CompiledSubscription,
        context: Context,
        rows: list[OutboxRow],
        attempt: Attempt,
    ) -> None:
        for row in rows:
            try:
                subscription.action.perform(context, row.payload)
            except DeliveryError as error:
                self._failed(instance, subscription, [row], error, attempt)
            except Exception as error:  # a bug in a destination: retried, and reported
                wrapped = RetryableError(f"{type(error).__name__}: {error}")
                self._failed(instance, subscription, [row], wrapped, attempt)
            else:
                self._delivered(instance, subscription, [row], attempt)

    def _delivered(
        self,
        instance: CompiledDestination,
        subscription: CompiledSubscription,
        rows: list[OutboxRow],
        attempt: Attempt,
    ) -> None:
        traced = self._traced(rows, "delivered", None)
        self._outbox.delivered([row.id for row in rows], traced)
        self._held.difference_update(row.id for row in rows)
        attempt.delivered += len(rows)
        self._count(instance, subscription, "delivered", "", len(rows), attempt)

    def _failed(
        self,
        instance: CompiledDestination,
        subscription: CompiledSubscription,
        rows: list[OutboxRow],
        error: DeliveryError,
        attempt: Attempt,
        count: bool = True,
    ) -> None:
        now = self._clock()
        if count:
            self.breaker.failure(time.monotonic())
        reason = error.message[:300]
        if isinstance(error, RetryableError):
            expired = [r for r in rows if now - r.enqueued_at >= self._policy.period]
            waiting = [r for r in rows if r not in expired]
            if waiting:
                delay = self._policy.delay(
                    max(r.attempts for r in waiting), error.retry_after, self._rng
                )
                self._outbox.retry_later(
                    [r.id for r in waiting],
                    now + timedelta(seconds=delay),
                    error.message,
                    self._traced(waiting, "retry", error),
                )
                self._held.difference_update(r.id for r in waiting)
                attempt.retried += len(waiting)
                self._count(instance, subscription, "retried", reason, len(waiting), attempt)
            if expired:
                self._dead(expired, error, attempt, gave_up=True)
                self._count(
                    instance,
                    subscription,
                    "failed",
                    "retries exhausted: " + reason,
                    len(expired),
                    attempt,
                )
            return
        self._dead(rows, error, attempt)
        self._count(instance, subscription, "failed", reason, len(rows), attempt)

    def _dead(
        self, rows: list[OutboxRow], error: DeliveryError, attempt: Attempt, gave_up: bool = False
    ) -> None:
        message = ("gave up retrying: " if gave_up else "") + error.message
        self._outbox.give_up(
            rows,
            self._clock(),
            message,
            error.status,
            error.request,
            error.response,
            self._traced(rows, "dead", error, message),
        )
        self._held.difference_update(row.id for row in rows)
        attempt.dead += len(rows)

    def _traced(
        self,
        rows: list[OutboxRow],
        outcome: str,
        error: DeliveryError | None,
        message: str | None = None,
    ) -> list[dict[str, Any]]:
        """The attempts' rows for the message trace (none when tracing is off)."""
        if not self._trace:
            return []
        at = self._clock().timestamp()
        status = error.status if error is not None else None
        text = message if message is not None else error.message if error is not None else None
        return [
            attempt_row(
                row.workspace_id,
                row.message_id,
                row.profile_key,
                row.destination,
                row.subscription,
                row.attempts + 1,
                outcome,
                status,
                text,
                at,
            )
            for row in rows
        ]

    def _count(
        self,
        instance: CompiledDestination,
        subscription: CompiledSubscription,
        outcome: str,
        reason: str,
        n: int,
        attempt: Attempt,
    ) -> None:
        minute = self._clock().replace(second=0, microsecond=0)
        attempt.counts[
            self.workspace_id, instance.name, subscription.name, minute, outcome, reason
        ] += n

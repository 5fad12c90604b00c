"""What the cluster test sends through the official Python SDK: people browsing anonymously, then
identifying, some on two devices, some also aliasing a third anonymous id; a few never log in.

Every link between two identifiers carries the person's userId, and no person has more than
three anonymous ids (the limit is five a week), so however the messages are ordered across
partitions the identity graph groups the same identifiers into one profile per person.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import segment.analytics as segment_analytics

PAGES = ("Home", "Pricing", "Docs", "Blog")
EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


@dataclass(frozen=True)
class Call:
    """One SDK call: the method, its keyword arguments, and which client (device) sends it."""

    method: str
    client: int
    kwargs: dict[str, Any]


def plan(total: int, seed: int = 12) -> list[Call]:
    """At least `total` calls for people interleaved in time, each person's calls in order."""
    rng = random.Random(seed)
    timed: list[tuple[float, int, dict[str, Any], str, int]] = []
    person = count = 0
    while count < total:
        calls = _person(rng, person)
        start = rng.random()
        for step, (method, client, kwargs) in enumerate(calls):
            timed.append((start + step * 0.0005, len(timed), kwargs, method, client))
        count += len(calls)
        person += 1
    timed.sort()
    return [
        Call(method, client, {**kwargs, "message_id": f"cl-{n:06d}"})
        for n, (_, _, kwargs, method, client) in enumerate(timed)
    ]


def _person(rng: random.Random, n: int) -> list[tuple[str, int, dict[str, Any]]]:
    user_id = f"user-{n}"
    devices = [f"anon-{n}-{d}" for d in range(2 if rng.random() < 0.35 else 1)]
    calls: list[tuple[str, int, dict[str, Any]]] = []
    for client, anonymous_id in enumerate(devices):
        calls += _browse(rng, client, anonymous_id, rng.randint(1, 3))
    if rng.random() < 0.1:  # never logs in
        return calls
    traits = {"email": f"{user_id}@example.com", "plan": rng.choice(("free", "pro"))}
    for client, anonymous_id in enumerate(devices):
        calls.append(
            (
                "identify",
                client,
                {"user_id": user_id, "anonymous_id": anonymous_id, "traits": traits},
            )
        )
        for _ in range(rng.randint(2, 5)):
            properties = {"sku": f"sku-{rng.randint(1, 500)}", "price": rng.randint(1, 300)}
            track = {"event": rng.choice(EVENTS), "properties": properties}
            calls.append(
                ("track", client, {"user_id": user_id, "anonymous_id": anonymous_id, **track})
            )
    if rng.random() < 0.25:  # a third anonymous id, linked by alias (as Seamline documents)
        alias = f"anon-{n}-alias"
        client = n % 2
        calls += _browse(rng, client, alias, 1)
        calls.append(("alias", client, {"previous_id": alias, "user_id": user_id}))
        calls.append(("track", client, {"user_id": user_id, "event": "Signed In"}))
    return calls


def _browse(
    rng: random.Random, client: int, anonymous_id: str, calls: int
) -> list[tuple[str, int, dict[str, Any]]]:
    out: list[tuple[str, int, dict[str, Any]]] = []
    for _ in range(calls):
        if rng.random() < 0.5:
            page = {"name": rng.choice(PAGES), "properties": {"path": f"/{rng.randint(1, 50)}"}}
            out.append(("page", client, {"anonymous_id": anonymous_id, **page}))
        else:
            event = {"event": "Product Viewed", "properties": {"sku": f"sku-{rng.randint(1, 9)}"}}
            out.append(("track", client, {"anonymous_id": anonymous_id, **event}))
    return out


@dataclass
class Sender:
    """Two SDK clients, one per collect URL, fed at `rate` calls a second."""

    write_key: str
    urls: Sequence[str]
    calls: Sequence[Call]
    rate: float
    failed: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    enqueued: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, at_progress: Callable[[int], None]) -> None:
        """Enqueue every call (telling `at_progress` how many so far), then flush both clients."""
        clients = [
            segment_analytics.Client(
                self.write_key,
                host=url,
                on_error=self._on_error,
                max_retries=1000,  # nothing is given up while a process or node is down
                max_queue_size=len(self.calls) + 1,
                timeout=30,
            )
            for url in self.urls
        ]
        began = time.monotonic()
        try:
            for n, call in enumerate(self.calls):
                ahead = began + n / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                at_progress(n)
                queued, _ = getattr(clients[call.client], call.method)(**call.kwargs)
                if not queued:
                    self._on_error(
                        RuntimeError("not queued"), [{"messageId": call.kwargs["message_id"]}]
                    )
                self.enqueued = n + 1
        finally:
            for client in clients:
                client.shutdown()  # flushes what is queued (retrying as long as it takes)

    def _on_error(self, error: Exception, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self.failed.update(str(message["messageId"]) for message in batch)
            self.errors.append(f"{type(error).__name__}: {error}")

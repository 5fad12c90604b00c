"""The delivery role: one set of workers per destination instance, kept in step with the
configuration, woken when the route stage queues something."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from seamline.destinations.client import destination_client
from seamline.destinations.delivery import Attempt, InstanceDelivery, RetryPolicy
from seamline.destinations.instances import CompiledDestination
from seamline.store.outbox_sql import SqlOutbox

logger = logging.getLogger(__name__)
Key = tuple[str, str]  # (workspace, destination instance)


class DeliveryService:
    def __init__(
        self,
        destinations: Callable[[str], dict[str, CompiledDestination]],
        workspaces: Callable[[], set[str]],
        outbox: SqlOutbox,
        *,
        policy: RetryPolicy,
        timeout: float,
        poll: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        client: Callable[[], httpx.Client] = destination_client,
        observe: Callable[[str, Attempt], None] = lambda _name, _attempt: None,
        trace: bool = False,
    ) -> None:
        self._trace = trace  # record every attempt for the message trace
        self._destinations = destinations
        self._workspaces = workspaces
        self._outbox = outbox
        self._policy = policy
        self._timeout = timeout
        self._poll = poll
        self._clock = clock
        self._client = client  # builds each instance's client (see `destination_client`)
        self._observe = observe  # told each attempt's outcomes (the metrics)
        # Deliveries block on the network: their own threads, so a hung tool never starves
        # the pipeline's or the API's.
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="deliver")
        self._deliveries: dict[Key, InstanceDelivery] = {}
        self._workers: dict[tuple[str, str, int], asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work = asyncio.Event()
        self._stopping = False
        self._draining = False  # stopping: each worker ends once nothing is due

    def queued(self) -> None:
        """Wake idle workers (callable from any thread: the route stage runs in one)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._work.set)

    async def run(self, stop: asyncio.Event, drain: float = 0.0) -> None:
        """Deliver until `stop`; then for up to `drain` seconds deliver what is due already."""
        self._loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                await self._reconcile()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            if drain > 0 and self._workers:
                self._draining = True
                self._work.set()
                await asyncio.wait(list(self._workers.values()), timeout=drain)
        finally:
            self._stopping = True
            self._work.set()
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._pool.shutdown(wait=True, cancel_futures=True)
            for delivery in self._deliveries.values():
                delivery.close()

    async def _reconcile(self) -> None:
        wanted: dict[tuple[str, str, int], None] = {}
        workspaces = await asyncio.to_thread(self._workspaces)
        for workspace_id in workspaces:
            found = await asyncio.to_thread(self._destinations, workspace_id)
            for instance in found.values():
                if instance.subscriptions:
                    for n in range(instance.concurrency):
                        wanted[workspace_id, instance.name, n] = None
        for key in list(self._workers):
            if key not in wanted or self._workers[key].done():
                self._workers.pop(key).cancel()
        for key in wanted:
            if key not in self._workers:
                if key[:2] not in self._deliveries:
                    self._deliveries[key[:2]] = InstanceDelivery(
                        key[0],
                        self._outbox,
                        policy=self._policy,
                        timeout=self._timeout,
                        clock=self._clock,
                        client=self._client(),
                        trace=self._trace,
                    )
                self._workers[key] = asyncio.create_task(self._worker(key[0], key[1]))

    async def _worker(self, workspace_id: str, name: str) -> None:
        delivery = self._deliveries[workspace_id, name]
        loop = asyncio.get_running_loop()
        while not self._stopping:
            instance = (await asyncio.to_thread(self._destinations, workspace_id)).get(name)
            if instance is None:
                return
            pause = delivery.breaker.wait(time.monotonic())
            if pause and self._draining:
                return
            if pause:
                await asyncio.sleep(min(pause, 5.0))
                continue
            try:
                attempt = await loop.run_in_executor(self._pool, delivery.deliver_once, instance)
            except Exception:
                logger.exception("delivery to %s failed; retrying shortly", name)
                await asyncio.sleep(self._poll)
                continue
            self._observe(name, attempt)
            if attempt.claimed == 0:
                if self._draining:
                    return
                self._work.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), self._poll)

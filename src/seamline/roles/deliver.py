"""The deliver role: the outbox's workers, one per destination instance and concurrency slot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from seamline.destinations.client import destination_client
from seamline.destinations.delivery import RetryPolicy
from seamline.destinations.service import DeliveryService
from seamline.roles.parts import Parts


def delivery_service(parts: Parts) -> DeliveryService:
    settings = parts.settings
    return DeliveryService(
        lambda workspace_id: parts.rules.get(workspace_id).deliverable,
        lambda: {source.workspace_id for source in parts.sources.list()},
        parts.outbox,
        policy=RetryPolicy(period=timedelta(hours=settings.delivery_retry_hours)),
        timeout=settings.delivery_timeout,
        poll=settings.delivery_poll,
        client=lambda: destination_client(settings.destinations_allow_private),
        observe=lambda name, attempt: parts.metrics.delivered(
            name, attempt.delivered, attempt.retried, attempt.dead
        ),
        trace=settings.trace_retention_hours > 0,
    )


class DeliverRole:
    """Runs `service` until `stop`; then for `drain` seconds delivers what is due. `beside`
    are loops run with it until stop (the Reverse ETL scheduler)."""

    def __init__(
        self,
        service: DeliveryService,
        beside: Sequence[Callable[[asyncio.Event], Awaitable[None]]] = (),
    ) -> None:
        self.service = service
        self.drain = 0.0
        self._beside = tuple(beside)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._others: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.service.run(self._stop, self.drain), name="delivery")
        self._others = [asyncio.create_task(_loop(run, self._stop)) for run in self._beside]

    async def stop(self) -> None:
        if self._task is not None:
            # Rows in flight keep their lease and are delivered again after a restart.
            self._stop.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        for task in self._others:
            with contextlib.suppress(Exception):
                await task
        self._others = []


async def _loop(run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event) -> None:
    await run(stop)

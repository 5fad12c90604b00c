"""The deliver role: the outbox's workers, one per destination instance and concurrency slot."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from seamline.destinations.client import destination_client
from seamline.destinations.delivery import RetryPolicy
from seamline.destinations.service import DeliveryService
from seamline.roles.parts import Parts


def delivery_service(parts: Parts) -> DeliveryService:
    settings = parts.settings
    return DeliveryService(
        lambda workspace_id: parts.rules.get(workspace_id).destinations,
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
    """Runs `service` until `stop`; then for `drain` seconds delivers what is due."""

    def __init__(self, service: DeliveryService) -> None:
        self.service = service
        self.drain = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.service.run(self._stop, self.drain), name="delivery")

    async def stop(self) -> None:
        if self._task is not None:
            # Rows in flight keep their lease and are delivered again after a restart.
            self._stop.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None

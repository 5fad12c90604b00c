"""The log as one process sees it: local partitions in the data directory, or JetStream; the
writer it appends with; and what it knows of every partition's end and committed offset."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.log.base import PartitionedLog
from seamline.log.partitions import LazyWriter, LocalPartitions, LocalWriter
from seamline.pipeline.runner import CONSUMER
from seamline.roles.leased_partitions import LeasedPartitions
from seamline.roles.names import COLLECT, PIPELINE
from seamline.store.leases_sql import PartitionLeases

if TYPE_CHECKING:
    # The NATS client loads only where the log is JetStream (~0.5 s of every role's start).
    from seamline.log.nats import NatsLog
    from seamline.log.nats_requests import RequestWriter

logger = logging.getLogger(__name__)


class LogAccess:
    """`writer` appends (a partition of its own when local, claimed at once by collect workers
    and on first use by others); `partitions` is what the pipeline reads."""

    def __init__(self, settings: Settings, roles: frozenset[str], state: Engine) -> None:
        self._settings = settings
        self.local: LocalPartitions | None = None
        self._nats: NatsLog | None = None
        self._seen: dict[int, tuple[int, int]] = {}  # JetStream: partition → (end, committed)
        self._watch_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.writer: LocalWriter | LazyWriter | RequestWriter
        if settings.log_url:
            from seamline.log.nats_requests import RequestWriter

            self.writer = RequestWriter()
        else:
            self.local = LocalPartitions(
                DataDir(settings.data_dir).log,
                fsync=settings.log_fsync,
                segment_bytes=settings.log_segment_bytes,
            )
            self.writer = self.local.claim(0) if COLLECT in roles else LazyWriter(self.local)
        # Pipeline workers on several machines share JetStream's partitions through leases.
        self.leases: PartitionLeases | None = None
        self.shared: LeasedPartitions | None = None  # with fenced commits, once connected
        if settings.log_url and PIPELINE in roles:
            owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
            self.leases = PartitionLeases(state, owner)

    @property
    def partitions(self) -> PartitionedLog:
        if self.local is not None:
            return self.local
        if self._nats is None:
            raise RuntimeError("the JetStream log is connected when the app starts")
        return self._nats

    def erasable(self) -> LocalPartitions | NatsLog:
        """The log as a regulation erases it (`log.erase`)."""
        found = self.local if self.local is not None else self._nats
        if found is None:
            raise RuntimeError("the JetStream log is connected when the app starts")
        return found

    async def connect(self) -> None:
        """Connect to JetStream (a no-op for the local log or when connected)."""
        if self._settings.log_url is None or self._nats is not None:
            return
        from seamline.log.nats import NatsLog
        from seamline.log.nats_requests import RequestWriter

        assert isinstance(self.writer, RequestWriter)
        servers = [url.strip() for url in self._settings.log_url.split(",") if url.strip()]
        self._nats = await NatsLog.connect(
            servers,
            partitions=self._settings.log_partitions,
            replicas=self._settings.log_replicas,
        )
        self.writer.connect(self._nats.writer(), asyncio.get_running_loop())
        if self.leases is not None:
            self.shared = LeasedPartitions(self._nats, self.leases)
        self._stop.clear()
        self._watch_task = asyncio.create_task(self._watch(), name="log-status")

    async def _watch(self) -> None:
        """JetStream's ends and commits, every second, for /metrics and `caught_up`."""
        log = self.partitions
        while not self._stop.is_set():
            try:
                seen = {}
                for partition in await log.partitions():
                    end = await log.end_offset(partition)
                    seen[partition] = (end, await log.committed(CONSUMER, partition))
                self._seen = seen
            except Exception as error:
                logger.warning("cannot read the log's state: %s", error)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    def state(self) -> dict[int, tuple[int, int]]:
        """(end, committed) per partition: read now from local files, else the last seen."""
        if self.local is None:
            return dict(self._seen)
        log = self.local
        return {p: (end, log.committed_sync(CONSUMER, p)) for p, end in log.end_offsets().items()}

    def caught_up(self) -> bool:
        """Whether the pipeline has committed every record durable in the log now."""
        return all(committed >= end for end, committed in self.state().values())

    async def close(self) -> None:
        self._stop.set()
        if self._watch_task is not None:
            with contextlib.suppress(Exception):
                await self._watch_task
            self._watch_task = None
        if self.leases is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.leases.release, CONSUMER)
        if self.local is not None:
            await self.local.close()
        if self._nats is not None:
            await self._nats.close()
            self._nats = None

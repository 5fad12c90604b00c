"""The expiry job inside the pipeline's process: every `retention_check_seconds` (hourly by
default), and at once when `seamline retention expire` asks through the data directory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from seamline.log.partitions import LocalPartitions
from seamline.ops.retention import expire, expire_jetstream, request_path
from seamline.privacy.retention import Cutoffs, Expired
from seamline.roles.log_access import LogAccess
from seamline.roles.parts import Parts
from seamline.store.retention_sql import SqlRetention

logger = logging.getLogger(__name__)

_LOOK = 2.0
"""Seconds between looks for a request from the CLI while waiting for the next run."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RetentionWorker:
    """Runs the expiry job over what this pipeline process writes: the local log's partitions
    and the whole lake, or with JetStream the partitions it leases (as compaction does)."""

    def __init__(
        self, parts: Parts, log: LogAccess, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._parts = parts
        self._log = log
        self.now = now  # the clock: tests move it on
        self.store = SqlRetention(parts.state)
        self._request = request_path(parts.paths.root)

    def run_once(self) -> Expired | None:
        """Expire now (the local log and the lake; see `run_async` for JetStream)."""
        owned = None if self._log.local is not None else set(self._parts.owned_partitions())
        return expire(self.store, self._parts.events, self._log.local, self.now(), owned=owned)

    async def run_async(self) -> Expired | None:
        """Expire now, the JetStream log's leased partitions included."""
        log = self._log.erasable()
        if isinstance(log, LocalPartitions):
            return await asyncio.to_thread(self.run_once)
        now, owned = self.now(), set(self._parts.owned_partitions())
        cutoffs = Cutoffs(await asyncio.to_thread(self.store.settings), now)
        purged = await expire_jetstream(log, cutoffs, owned)
        return await asyncio.to_thread(
            expire, self.store, self._parts.events, None, now, owned=owned, jetstream=purged
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Expire at start, then every interval or when asked, until `stop`."""
        every = self._parts.settings.retention_check_seconds
        while not stop.is_set():
            try:
                await self.run_async()
            except Exception:
                logger.exception("the retention expiry failed; retrying at the next run")
            waited = 0.0
            while not stop.is_set() and waited < every:
                step = min(_LOOK, every - waited)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), step)
                waited += step
                if self._asked():
                    break

    def _asked(self) -> bool:
        try:
            self._request.unlink()
        except FileNotFoundError:
            return False
        return True

"""Profiles Sync in the deliver role: every `interval` seconds, each destination instance that
takes Profiles Sync gets what changed in the identity graph and the traits since its last run.

A run claims its target for `LEASE` (a compare-and-set in the state store), so deliver workers
on several machines never sync one target at once; a worker that dies leaves the claim to
expire. A failed run is recorded with its error and tried again at the next interval: the
snapshot did not move, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from seamline.destinations.client import destination_client
from seamline.destinations.http import Http
from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.run import Writer, sync_once
from seamline.profiles_sync.targets import writer_for
from seamline.roles.parts import Parts
from seamline.store.profiles_sync_sql import SqlProfilesSyncRuns

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)


class ProfilesSyncLoop:
    def __init__(self, parts: Parts, interval: float) -> None:
        self._parts = parts
        self._interval = interval
        self.runs = SqlProfilesSyncRuns(parts.state)

    async def run(self, stop: asyncio.Event) -> None:
        """Sync every target each interval until `stop`."""
        while not stop.is_set():
            await asyncio.to_thread(self.run_once)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)

    def run_once(self) -> dict[str, str]:
        """One round over every target; returns each target's outcome (for tests and logs)."""
        outcomes: dict[str, str] = {}
        settings = self._parts.settings
        with destination_client(settings.destinations_allow_private) as client:
            for workspace_id in sorted({s.workspace_id for s in self._parts.sources.list()}):
                rules = self._parts.rules.get(workspace_id)
                for name, instance in sorted(rules.destinations.items()):
                    # The cloud warehouses' requests go through the destinations' client: its
                    # address guard, and the instance's secrets hidden from what is recorded.
                    http = Http(client, settings.delivery_timeout, instance.secret_values())
                    try:
                        writer = writer_for(instance, http)
                    except Exception as error:  # settings that cannot work: a failed run
                        writer = _Refused(error)
                    if writer is not None:
                        target = f"{workspace_id}/{name}"
                        outcomes[target] = self._sync(target, workspace_id, writer)
        return outcomes

    def _sync(self, target: str, workspace_id: str, writer: Writer) -> str:
        now = datetime.now(UTC)
        if not self.runs.claim(target, workspace_id, now, now + LEASE):
            return "claimed elsewhere"
        try:
            delta = sync_once(self._parts.state, target, workspace_id, writer, now)
        except Exception as error:  # recorded, retried next round
            log.warning("profiles sync to %s failed: %s", target, error)
            self.runs.finish(target, datetime.now(UTC), "FAILED", {}, str(error)[:2000])
            return "FAILED"
        self.runs.finish(target, datetime.now(UTC), "FINISHED", delta.counts(), None)
        return "FINISHED"


class _Refused:
    """A writer for settings the destination refused: every run fails with its reason."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def apply(self, delta: Delta) -> None:
        raise self.error

"""Probabilistic matching in the deliver role: every `interval` seconds, each workspace whose
identity document enables `matching:` gets a matching run (`ops.identity_matching`).

The run claims its workspace in the state store, so deliver workers on several machines (and
an on-demand run from the API) never match one workspace at once; a failed run is recorded and
tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from seamline.ops.identity_matching import MatchingJob, workspace_matching
from seamline.roles.parts import Parts

log = logging.getLogger(__name__)


def matching_job(parts: Parts) -> MatchingJob:
    """The job over this process's state store and each workspace's identity document."""
    return MatchingJob(parts.state, workspace_matching(parts.state, parts.identity_rules))


class MatchingLoop:
    def __init__(self, parts: Parts, interval: float) -> None:
        self._parts = parts
        self._interval = interval
        self.job = matching_job(parts)

    async def run(self, stop: asyncio.Event) -> None:
        """Match every workspace each interval until `stop`."""
        while not stop.is_set():
            await asyncio.to_thread(self.run_once)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)

    def run_once(self) -> dict[str, dict[str, Any]]:
        """One round over every workspace; returns each one's outcome."""
        outcomes = {}
        for workspace_id in sorted({s.workspace_id for s in self._parts.sources.list()}):
            try:
                outcomes[workspace_id] = self.job.run_once(workspace_id)
            except Exception as error:  # an unreadable document: the next round tries again
                log.warning("identity matching of %s did not start: %s", workspace_id, error)
                outcomes[workspace_id] = {"status": "FAILED", "error": str(error)}
        return outcomes

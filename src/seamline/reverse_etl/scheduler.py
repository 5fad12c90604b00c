"""Running models when their schedules say, in the deliver role's process.

Every `poll` seconds the scheduler looks at each workspace's enabled models and runs those due
(`schedule.next_due`), one at a time, in a thread. Several deliver processes may run it: a run
claims its model first (`SqlModelState.claim`), so a model due in two processes runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.reverse_etl.runner import SCHEDULE, ModelRunner
from seamline.reverse_etl.schedule import next_due, parse_schedule
from seamline.store.models_sql import RunRecord
from seamline.workspace.resources import ResourceStore

logger = logging.getLogger(__name__)


class ModelScheduler:
    def __init__(
        self,
        runner: ModelRunner,
        resources: ResourceStore,
        workspaces: Callable[[], set[str]],
        *,
        poll: float = 5.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._runner = runner
        self._resources = resources
        self._workspaces = workspaces
        self._poll = poll
        self._now = now

    async def run(self, stop: asyncio.Event) -> None:
        """Run due models until `stop` (a run under way finishes first)."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_due)
            except Exception:
                logger.exception("the model scheduler failed; looking again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll)

    def run_due(self) -> list[RunRecord]:
        """Run every enabled model that is due now; their runs."""
        done: list[RunRecord] = []
        state = self._runner.state
        for workspace_id in sorted(self._workspaces()):
            models = self._resources.list(workspace_id, "model")
            known = state.schedule_state(workspace_id)
            # A deleted model's snapshots go with it: one made again under its name starts anew.
            state.forget(workspace_id, sorted(set(known) - {m.name for m in models}))
            for model in models:
                if not model.document.get("enabled", True):
                    continue
                try:
                    schedule = parse_schedule(str(model.document.get("schedule", "manual")))
                except InvalidInput:
                    continue  # checked when saved; an older rule may refuse it now
                now = self._now()
                if model.name not in known:
                    state.seen(workspace_id, model.name, now)
                    since, last = now, None
                else:
                    since, last = known[model.name]
                due = next_due(schedule, last, since)
                if due is None or due > now:
                    continue
                try:
                    done.append(self._runner.run(workspace_id, model.name, SCHEDULE))
                except (Conflict, NotFound):
                    continue  # running in another process, or deleted meanwhile
        return done

"""The pipeline role: the stages in order over every partition of the log (or the partitions
this worker leases), Engage's sweep, and what it tells the other roles about its health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from seamline.pipeline.batch import Stage
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.pipeline.guard import StageGuard
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.privacy_stage import ControlPersonalData, RecordConsent
from seamline.pipeline.profiles_stage import UpdateAccounts, UpdateTraits
from seamline.pipeline.protocols_stage import ApplyProtocols
from seamline.pipeline.route_stage import Destination, RouteToDestinations
from seamline.pipeline.runner import PipelineRunner
from seamline.pipeline.store_events import StoreEvents
from seamline.pipeline.trace import TraceRecorder, Untraced, WriteTraces
from seamline.privacy.suppression import DropSuppressed
from seamline.protocols.records import hold
from seamline.roles.log_access import LogAccess
from seamline.roles.parts import Parts
from seamline.roles.regulations import RegulationWorker
from seamline.roles.retention import RetentionWorker
from seamline.sources.runners import SourceRunners, start_sandboxed
from seamline.sources.stage import RunSourceFunctions
from seamline.spec import Limits
from seamline.spec.envelope import Item
from seamline.store.dedup_sql import SqlSeenMessages
from seamline.store.dedup_sqlite import SqliteSeenMessages

logger = logging.getLogger(__name__)


class PipelineRole:
    """Builds the stages and the runner; `start` runs them until `stop`."""

    def __init__(
        self,
        parts: Parts,
        log: LogAccess,
        engage: EvaluateEngage,
        *,
        queued: Callable[[], None],
        destinations: tuple[Destination, ...] = (),
        yield_for: Callable[[float], float] | None = None,
        expires: bool = True,
    ) -> None:
        """`expires`: run the retention expiry job (not in a rebuild's shadow, which only
        replays the live log)."""
        self._parts = parts
        self._log = log
        self._engage = engage
        self._yield_for = yield_for
        settings = parts.settings
        self.guard = StageGuard(self._hold_failed)
        # Dedup: a SQLite file beside the one pipeline; the state store (PostgreSQL) when
        # pipeline workers may run on several machines.
        self._seen: SqliteSeenMessages | SqlSeenMessages = (
            SqlSeenMessages(parts.state)
            if settings.database_url
            else SqliteSeenMessages(parts.paths.dedup)
        )
        # Message traces (GET /api/v1/messages/{id}): every stage notes what it did.
        trace = self.trace = TraceRecorder() if settings.trace_retention_hours > 0 else None
        self.traces = parts.traces  # one store per process, closed with the parts
        engage.trace = trace
        self.dedup = DropDuplicates(self._seen, settings.dedup_window_seconds, trace)
        self.suppress = DropSuppressed(parts.suppressions, parts.salt, parts.identity_rules_of)
        self.protocols = ApplyProtocols(parts.rules.get, parts.protocols, trace=trace)
        # Webhook sources: raw requests become messages first (sources/stage.py).
        webhooks = parts.webhooks
        self.source_runners = SourceRunners(parts.resources, webhooks.ops.unsealed, start_sandboxed)
        self.source_functions = RunSourceFunctions(
            webhooks.lookup.source,
            self.source_runners,
            parts.protocols.record,
            Limits(settings.max_message_bytes, settings.max_request_bytes),
        )
        self.personal_data = ControlPersonalData(
            parts.rules.get, parts.salt, parts.inventory, parts.protocols, trace=trace
        )
        self.route = RouteToDestinations(
            parts.rules.get,
            parts.egress_for,
            parts.outbox,
            local=destinations,
            queued=queued,
            trace=trace,
        )
        self.runner: PipelineRunner | None = None
        self.failure: BaseException | None = None  # why the pipeline task ended, if it did
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runner_task: asyncio.Task[None] | None = None
        self._stored_total = 0
        self.on_failure: Callable[[], None] = lambda: None
        self.retention = RetentionWorker(parts, log) if expires else None

    def build(self) -> PipelineRunner:
        parts = self._parts
        trace = self.trace
        tail: tuple[Stage, ...] = (StoreEvents(parts.events), self._engage, self.route)
        if trace is not None:
            retention = parts.settings.trace_retention_hours
            tail = (*tail, WriteTraces(trace, self.traces, retention))
        self.runner = PipelineRunner(
            self._log.partitions,
            (
                self.source_functions,
                self.dedup,
                self.protocols,
                self.personal_data,
                ResolveIdentities(parts.identity, parts.identity_rules_of),
                self.suppress if trace is None else Untraced(self.suppress, trace),
                RecordConsent(parts.consent),
                UpdateTraits(parts.traits, trace),
                UpdateAccounts(parts.accounts, parts.traits),
            ),
            tail=tail,
            yield_for=self._yield_for,
            batch_size=parts.settings.pipeline_batch_size,
            on_resume=self._resume,
            on_commit=self._committed,
            guard=self.guard,
            claims=self._log.shared,
        )
        runner = self.runner
        parts.owned_partitions = lambda: set(runner.committed)
        return runner

    def start(self) -> None:
        runner = self.runner or self.build()
        self._stop.clear()
        self._runner_task = asyncio.create_task(runner.run(self._stop), name="pipeline")
        self._runner_task.add_done_callback(self._ended)
        self.regulations = RegulationWorker(
            self._parts, self._log, runner.exclusively, self._forget, self.route
        )
        self._tasks = [
            asyncio.create_task(self.regulations.run(self._stop), name="regulations"),
            asyncio.create_task(self._sweep_engage(), name="engage-sweep"),
            asyncio.create_task(self._report_health(), name="health"),
        ]
        if self.retention is not None:
            expiring = self.retention.run(self._stop)
            self._tasks.append(asyncio.create_task(expiring, name="retention"))

    async def stop(self) -> None:
        """Let the runner drain what the log holds now, then stop the side tasks."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        self._tasks = []
        if self._runner_task is not None:
            # A pipeline that failed was reported when it stopped; closing must go on anyway.
            with contextlib.suppress(Exception):
                await self._runner_task
            self._runner_task = None

    def close(self) -> None:
        self._seen.close()
        self.source_runners.close()

    def _forget(self, keys: list[tuple[str, str]]) -> int:
        """A deletion regulation's erased messages leave dedup and the trace file."""
        return self._seen.forget_messages(keys) + self.traces.forget_messages(keys)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Only a bug in the runner itself gets here (records are held, outages waited out).
        # Accepted messages stay safe in the log; /healthz fails so the process is restarted.
        self.failure = task.exception()
        logger.error("the pipeline stopped", exc_info=self.failure)
        self.on_failure()

    async def _sweep_engage(self) -> None:
        """Exit people from windowed audiences as their events age out, while traffic is quiet
        too (the pipeline only evaluates people it sees)."""
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._parts.settings.engage_sweep_seconds)
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(self._engage.sweep)
            except Exception:
                logger.exception("engage sweep failed; retrying at the next one")

    async def _report_health(self) -> None:
        """Tell the other roles' /readyz whether the pipeline is stalled (see `stalled`)."""
        health = self._parts.paths.health
        written: object = ()
        while not self._stop.is_set():
            stalled = self.guard.stalled
            if stalled != written:
                await asyncio.to_thread(write_json, health, {"stalled": stalled})
                written = stalled
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)
        await asyncio.to_thread(write_json, health, {"stalled": None})

    def _hold_failed(self, items: list[Item], stage: str, error: BaseException) -> None:
        """Hold the records a stage raised on (disposition `error`), to re-run once fixed."""
        now = datetime.now(UTC)
        reason = f"stage {stage} raised {type(error).__name__}: {error}"
        self._parts.protocols.record([], [hold(item, "error", reason, now) for item in items])
        if self.trace is not None:
            for item in items:
                self.trace.stop(item.offset, reason)

    def _resume(self, start: int, end: int) -> None:
        if self.trace is not None:
            self.trace.forget(start, end)
        self._parts.events.truncate_from(start, end)
        self._parts.protocols.truncate_from(start, end)
        self._stored_total = self._parts.events.count()

    def _committed(self, partition: int, offset: int, processed: int) -> None:
        metrics = self._parts.metrics
        metrics.pipeline_processed.inc(processed)
        metrics.pipeline_totals(
            duplicates=self.dedup.dropped,
            suppressed=self.suppress.dropped,
            held={
                "plan": self.protocols.held,
                "function": self.source_functions.held,
                "privacy": self.personal_data.blocked,
                "error": self.guard.errors_held,
            },
            violations=self.protocols.violations,
            engage_changes=self._engage.changes,
        )
        self._stored_total += processed
        runner = self.runner
        progress = {
            "committed": {str(p): o for p, o in runner.committed.items()} if runner else {},
            "stored": self._stored_total,
            "duplicates_dropped": self.dedup.dropped,
            "suppressed_dropped": self.suppress.dropped,
            "held": self.protocols.held
            + self.personal_data.blocked
            + self.guard.errors_held
            + self.source_functions.held,
            "errors_held": self.guard.errors_held,
            "violations": self.protocols.violations,
        }
        write_json(self._parts.paths.progress, progress)


def stalled(health: Path) -> str | None:
    """What the pipeline's process said it is retrying, if anything."""
    try:
        found = json.loads(health.read_text())
    except (FileNotFoundError, ValueError):
        return None
    reason = found.get("stalled")
    return str(reason) if reason else None


def write_json(path: Path, value: object) -> None:
    """Replace `path` atomically: readers in other processes see the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)

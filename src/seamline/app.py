"""The composition root: one process's roles, built over shared parts (`roles/`).

`Seamline(settings, roles=…)` is what a process runs: `ALL_ROLES` for `serve --role all` and
the in-process tests; one role for `serve --role R`; no role for the CLI's tools, which read
the stores and append to the log beside a running server.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator

import msgspec

from seamline.bootstrap import bootstrap
from seamline.collect.client_ip import ClientAddress
from seamline.collect.pixel import PixelAPI, pixel_type
from seamline.collect.tracking import INGEST_PATHS, Receive, Scope, Send, TrackingAPI
from seamline.collect.webhook import WebhookAPI, webhook_route
from seamline.config import Settings
from seamline.log.base import PartitionedLog
from seamline.log.partitions import LocalPartitions
from seamline.ops import status
from seamline.ops.destinations import DestinationOps
from seamline.ops.engage import EngageOps
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.pipeline.guard import StageGuard
from seamline.pipeline.route_stage import Destination, RouteToDestinations
from seamline.pipeline.runner import PipelineRunner
from seamline.privacy.suppression import SuppressedAtCollect
from seamline.protocols.records import HeldMessage
from seamline.roles.deliver import DeliverRole, delivery_service
from seamline.roles.http import http_app
from seamline.roles.identity_matching import MatchingLoop
from seamline.roles.locks import ServeLock
from seamline.roles.log_access import LogAccess
from seamline.roles.models import model_runner, model_scheduler
from seamline.roles.names import ALL_ROLES, COLLECT, DELIVER, EXCLUSIVE_ROLES, PIPELINE
from seamline.roles.parts import Parts, events_root, identity_rules
from seamline.roles.pipeline import PipelineRole, stalled
from seamline.roles.profiles_sync import ProfilesSyncLoop
from seamline.spec import Limits
from seamline.spec.envelope import Envelope, envelope_encoder
from seamline.spec.messages import Message
from seamline.store.events_lake import LakeEventStore
from seamline.store.retention_sql import SqlRetention

__all__ = [
    "ALL_ROLES",
    "COLLECT",
    "DELIVER",
    "PIPELINE",
    "Seamline",
    "ServeLock",
    "bootstrap",
    "events_root",
    "identity_rules",
    "tune_runtime",
]

logger = logging.getLogger(__name__)


def tune_runtime() -> None:
    """Process-wide settings for a long-running Seamline.

    The pipeline allocates many short-lived objects per batch; collecting the youngest
    generation every 50,000 allocations instead of 700 measured +13 % pipeline throughput
    (benchmarks/pipeline.py, 300 k events) with no memory growth.
    """
    gc.set_threshold(50_000, 20, 100)


class Seamline:
    """One process's Seamline: the ASGI app (Tracking API first, then the rest) and the roles
    in `roles`, started by `start` (or uvicorn's lifespan) and stopped in order by `stop`.

    `destinations` receive what the route stage sends them (tests use it to see what would
    leave Seamline without a delivery).
    """

    def __init__(
        self,
        settings: Settings,
        destinations: tuple[Destination, ...] = (),
        roles: frozenset[str] = ALL_ROLES,
    ) -> None:
        self.settings = settings
        self.roles = roles
        # One pipeline and one delivery loop per data directory; collect workers and the CLI
        # share it freely. Taken before any store is opened for writing.
        self._locks = [
            ServeLock(settings.data_dir / f".{role}.lock", role)
            for role in sorted(roles & EXCLUSIVE_ROLES)
        ]
        parts = self.parts = Parts(settings, roles)
        try:
            for lock in self._locks:
                lock.acquire()
        except BaseException:
            parts.close()
            raise
        # The parts under the names the CLI and the tests use.
        self.paths, self.metrics, self.state = parts.paths, parts.metrics, parts.state
        self.sources, self.write_keys, self.tokens = parts.sources, parts.write_keys, parts.tokens
        self.identity_rules, self.identity = parts.identity_rules, parts.identity
        self.traits, self.accounts, self.consent = parts.traits, parts.accounts, parts.consent
        self.suppressions, self.inventory = parts.suppressions, parts.inventory
        self.resources, self.protocols, self.secrets = (
            parts.resources,
            parts.protocols,
            parts.secrets,
        )
        self.sealer, self.rules, self.outbox = parts.sealer, parts.rules, parts.outbox
        self.engage_store, self.engage_engine = parts.engage_store, parts.engage_engine

        self.logs = LogAccess(settings, roles, parts.state)
        self.log = self.logs.writer
        self.delivery = delivery_service(parts)
        self.models = model_runner(parts, self.delivery.queued)  # Reverse ETL
        self.profiles_sync = ProfilesSyncLoop(parts, settings.profiles_sync_interval)
        self.matching = MatchingLoop(parts, settings.identity_matching_interval)
        self.deliver = DeliverRole(
            self.delivery,
            beside=(
                model_scheduler(parts, self.models).run,
                self.profiles_sync.run,
                self.matching.run,
            ),
        )
        self.engage = EvaluateEngage(
            lambda workspace_id: parts.rules.get(workspace_id).engage,
            parts.engage_engine,
            parts.engage_store.identifiers_of_people,
            self._emit,
        )
        self.pipeline: PipelineRole | None = None
        if PIPELINE in roles:
            self.pipeline = PipelineRole(
                parts,
                self.logs,
                self.engage,
                queued=self.delivery.queued,
                destinations=destinations,
                yield_for=self._yield_to_ingest,
            )
            self.pipeline.on_failure = self._pipeline_failed
        self.accepting = False
        self._metrics_stop = asyncio.Event()
        self._metrics_task: asyncio.Task[None] | None = None
        self.tracking = TrackingAPI(
            write_keys=parts.write_keys,
            log=self.log,
            limits=Limits(settings.max_message_bytes, settings.max_request_bytes),
            client_address=ClientAddress(settings.trusted_proxies),
            metrics=parts.metrics,
            accepting=lambda: self.accepting,
            suppressed=SuppressedAtCollect(
                parts.suppressions.everywhere, parts.salt, parts.identity_rules_of
            ),
        )
        self.webhook = WebhookAPI(
            write_keys=parts.write_keys,
            webhooks=parts.webhooks.lookup,
            log=self.log,
            metrics=parts.metrics,
            accepting=lambda: self.accepting,
        )
        self.pixel = PixelAPI(self.tracking.ingest, parts.metrics)
        self.engage_ops = EngageOps(
            lambda workspace_id: parts.rules.get(workspace_id).engage,
            parts.events,
            parts.engage_store,
            parts.engage_engine,
            lambda: self.engage,
        )
        self.destination_ops = DestinationOps(
            lambda workspace_id: parts.rules.get(workspace_id).destinations,
            parts.egress_for,
            parts.outbox,
            parts.events,
            self.delivery.queued,
            settings.delivery_timeout,
            settings.destinations_allow_private,
        )
        self._framework = http_app(
            parts,
            engage_ops=self.engage_ops,
            destination_ops=self.destination_ops,
            rerun=self.rerun,
            ready=self._readiness,
            alive=self._liveness,
            refresh_metrics=self._refresh_metrics,
            lifespan=self._lifespan,
            logs=self.logs,
        )

    # --- what tests and tools look at -----------------------------------------------------

    @property
    def event_store(self) -> LakeEventStore:
        return self.parts.events

    @property
    def runner(self) -> PipelineRunner | None:
        return self.pipeline.runner if self.pipeline is not None else None

    @property
    def guard(self) -> StageGuard:
        if self.pipeline is None:
            raise RuntimeError("this process runs no pipeline")
        return self.pipeline.guard

    @property
    def route(self) -> RouteToDestinations:
        if self.pipeline is None:
            raise RuntimeError("this process runs no pipeline")
        return self.pipeline.route

    @property
    def failure(self) -> BaseException | None:
        """Why the pipeline task ended, if it did."""
        return self.pipeline.failure if self.pipeline is not None else None

    @property
    def local_log(self) -> LocalPartitions | None:
        return self.logs.local

    @property
    def log_partitions(self) -> PartitionedLog:
        return self.logs.partitions

    @property
    def delivery_drain(self) -> float:
        return self.deliver.drain

    @delivery_drain.setter
    def delivery_drain(self, seconds: float) -> None:
        self.deliver.drain = seconds

    def caught_up(self) -> bool:
        """Whether the pipeline has committed every record durable in the log now."""
        return self.logs.caught_up()

    def sweep_engage(self) -> int:
        """Run one sweep now (tests, the CLI); returns how many values changed."""
        return self.engage.sweep()

    # --- serving --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            kind = INGEST_PATHS.get(path.rstrip("/") if len(path) > 1 else path)
            if kind is not None:
                await self.tracking(scope, receive, send, kind)
                return
            if path.startswith("/v1/"):
                pixel = pixel_type(path)
                if pixel is not None:
                    await self.pixel(scope, receive, send, pixel)
                    return
                webhook = webhook_route(path)
                if webhook is not None:
                    await self.webhook(scope, receive, send, webhook)
                    return
        await self._framework(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Start this process's roles: the pipeline and delivery loops; then accept events."""
        await self.logs.connect()
        if self.pipeline is not None:
            self.pipeline.start()
        if DELIVER in self.roles:
            if self.state.dialect.name == "sqlite":
                # The embedded outbox has one delivery worker, this one (`.deliver.lock`): rows
                # a killed predecessor held are delivered now, not when its lease runs out.
                await asyncio.to_thread(self.parts.outbox.release_claims)
            self.deliver.start()
        self._metrics_stop.clear()
        self._metrics_task = asyncio.create_task(
            self.metrics.share.run(self._metrics_stop), name="metrics-snapshot"
        )
        self.accepting = COLLECT in self.roles

    async def stop(self) -> None:
        """Stop accepting, let the pipeline drain what was accepted, close everything."""
        self.accepting = False
        if self.pipeline is not None:
            await self.pipeline.stop()
        await self.deliver.stop()
        self._metrics_stop.set()  # a last snapshot, with what the drain counted
        if self._metrics_task is not None:
            await self._metrics_task
            self._metrics_task = None
        await self.logs.close()
        if self.pipeline is not None:
            self.pipeline.close()
        self.parts.close()
        for lock in self._locks:
            lock.release()

    async def rerun(self, held: list[HeldMessage]) -> int:
        """Append held messages to the log again, as they first arrived, to go through the
        pipeline under today's configuration. Each is marked re-run once durable; re-running
        one twice (a crash between the two steps) is dropped by dedup as the same re-run."""
        pending = [h for h in held if h.id is not None and h.rerun_at is None]
        if not pending:
            return 0
        await self.logs.connect()
        await self.log.append(
            [
                envelope_encoder.encode(
                    Envelope(
                        workspace_id=h.workspace_id,
                        source_id=h.source_id,
                        message=msgspec.json.decode(h.message, type=Message),
                        rerun=h.id,
                    )
                )
                for h in pending
            ]
        )
        await asyncio.to_thread(self.protocols.mark_rerun, [h.id for h in pending if h.id])
        return len(pending)

    def _emit(self, envelopes: list[Envelope]) -> None:
        """Append Engage's messages to the log (from a worker thread), durably."""
        self.log.submit([envelope_encoder.encode(e) for e in envelopes])

    def _yield_to_ingest(self, busy: float) -> float:
        """How long the pipeline pauses after a batch that took `busy` seconds.

        When the pipeline shares the process (and its GIL) with the Tracking API (`--role
        all`), it pauses as long as it worked while events are arriving, so acceptance keeps
        at least half the interpreter; the log absorbs the backlog, which is processed at full
        speed once the traffic calms. With no recent traffic it does not pause at all.
        """
        recently = time.monotonic() - self.tracking.last_accepted < 1.0
        return busy * self.settings.pipeline_yield if recently else 0.0

    def _pipeline_failed(self) -> None:
        self.accepting = False

    def _readiness(self) -> str | None:
        """None when events are accepted and processed; otherwise why not."""
        dead = self._liveness()
        if dead is not None:
            return dead
        if self.pipeline is not None:
            retrying = self.pipeline.guard.stalled
        else:
            retrying = stalled(self.paths.health)  # as the pipeline's process reported it
        if retrying is not None:
            return f"the pipeline is retrying {retrying}"
        if not self.accepting:
            return "not accepting events (starting or stopping)"
        return None

    def _liveness(self) -> str | None:
        """None while the process does its work; otherwise why it should be restarted."""
        failure = self.failure
        if failure is not None:
            return f"the pipeline stopped: {type(failure).__name__}: {failure}"
        return None

    def _refresh_metrics(self) -> None:
        """What the log and the stores say, so any process's /metrics tells the same."""
        state = self.logs.state()
        self.metrics.log_end.set(sum(end for end, _ in state.values()))
        self.metrics.pipeline_offset.set(sum(committed for _, committed in state.values()))
        for partition, (end, committed) in state.items():
            self.metrics.log_lag.labels(str(partition)).set(end - committed)
        running: dict[str, int] = dict.fromkeys(sorted(ALL_ROLES), 0)
        restarts: dict[str, int] = dict.fromkeys(sorted(ALL_ROLES), 0)
        for process in status.processes(self.paths.roles):
            running[process["role"]] += 1 if process["running"] else 0
            restarts[process["role"]] += int(process["restarts"])
        for role in running:
            self.metrics.role_processes.labels(role).set(running[role])
            self.metrics.role_restarts.labels(role).set(restarts[role])
        found = status.deliveries(self.state)
        self.metrics.deliveries_pending.set(found["pending"])
        self.metrics.dead_letters.set(found["dead_letters"])
        expired = SqlRetention(self.state).totals()
        self.metrics.retention.update(
            expired.events,
            expired.log_records,
            expired.runs,
            None if expired.last_run is None else expired.last_run.timestamp(),
        )

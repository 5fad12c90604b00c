"""The composition root: builds every part from `Settings` and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import msgspec
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from seamline import __version__
from seamline.access.sealing import Sealer, key_from
from seamline.api.auth import token_dependency
from seamline.api.destinations import DestinationsAPI
from seamline.api.destinations import router as destinations_router
from seamline.api.docs_pages import docs_routes
from seamline.api.engage import router as engage_router
from seamline.api.json_body import JsonBodies
from seamline.api.profiles import ProfileAPI
from seamline.api.profiles import router as profile_router
from seamline.api.routes import (
    json_http_error,
    json_seamline_error,
    json_validation_error,
    routes,
)
from seamline.api.workspace import WorkspaceAPI
from seamline.api.workspace import router as workspace_router
from seamline.collect.client_ip import ClientAddress
from seamline.collect.sources import (
    DEFAULT_WORKSPACE_ID,
    Source,
    WriteKeys,
    new_source,
    same_name,
)
from seamline.collect.tracking import INGEST_PATHS, Receive, Scope, Send, TrackingAPI
from seamline.config import Settings
from seamline.data_dir import DataDir, make_private, open_state
from seamline.destinations.client import destination_client
from seamline.destinations.delivery import RetryPolicy
from seamline.destinations.service import DeliveryService
from seamline.engage.people import StoredPeople
from seamline.engage.realtime import RealtimeEngine
from seamline.errors import Conflict, SeamlineError
from seamline.identity.rules import (
    DEFAULT_BLOCKED,
    DEFAULT_RULES,
    IdentifierRule,
    IdentityRules,
)
from seamline.log.base import PartitionedLog
from seamline.log.nats import NatsLog
from seamline.log.nats_requests import RequestWriter
from seamline.log.partitions import LazyWriter, LocalPartitions, LocalWriter
from seamline.metrics import Metrics
from seamline.ops import status
from seamline.ops.destinations import DestinationOps
from seamline.ops.engage import EngageOps
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.pipeline.guard import StageGuard
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.privacy_stage import ControlPersonalData, RecordConsent
from seamline.pipeline.profiles_stage import UpdateAccounts, UpdateTraits
from seamline.pipeline.protocols_stage import ApplyProtocols
from seamline.pipeline.route_stage import Destination, RouteToDestinations
from seamline.pipeline.runner import CONSUMER, PipelineRunner
from seamline.pipeline.store_events import StoreEvents
from seamline.privacy.egress import Egress
from seamline.privacy.fields import FieldClassifier
from seamline.privacy.suppression import DropSuppressed
from seamline.protocols.records import HeldMessage, hold
from seamline.spec import Limits
from seamline.spec.envelope import Envelope, Item, envelope_encoder
from seamline.spec.messages import Message
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.consent_sql import SqlConsentStore
from seamline.store.dedup_sql import SqlSeenMessages
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.inventory_sql import SqlInventory
from seamline.store.leases_sql import PartitionLeases
from seamline.store.outbox_sql import SqlOutbox
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.secrets_sql import PII_SALT, SqlWorkspaceSecrets
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.suppressions_sql import SqlSuppressionList
from seamline.store.tokens_sql import SqlTokenStore
from seamline.store.traits_sql import SqlTraitStore
from seamline.workspace.compiled import RulesCache, WorkspaceRules

DEV_SOURCE_NAME = "Development"
logger = logging.getLogger(__name__)


def tune_runtime() -> None:
    """Process-wide settings for a long-running Seamline.

    The pipeline allocates many short-lived objects per batch; collecting the youngest
    generation every 50,000 allocations instead of 700 measured +13 % pipeline throughput
    (benchmarks/pipeline.py, 300 k events) with no memory growth.
    """
    gc.set_threshold(50_000, 20, 100)


def identity_rules(settings: Settings) -> IdentityRules:
    """The identity resolution rules the settings describe, on top of the defaults."""
    rules = dict(DEFAULT_RULES)
    for name, rule in settings.identity_types.items():
        rules[name] = IdentifierRule(rule.priority, rule.limit, rule.window_seconds)
    return IdentityRules(
        rules,
        blocked_values=(
            DEFAULT_BLOCKED
            if settings.identity_blocked_values is None
            else settings.identity_blocked_values
        ),
        blocked_patterns=settings.identity_blocked_patterns,
        custom=[(c.name, c.path) for c in settings.identity_custom_identifiers],
    )


def bootstrap(settings: Settings) -> Source:
    """Create the default workspace and its development source unless they exist."""
    engine = open_state(settings)
    try:
        store = SqlSourceStore(engine)
        store.ensure_workspace(DEFAULT_WORKSPACE_ID, "Default")
        found = _development_source(store)
        if found is not None:
            return found
        try:
            return store.create(new_source(DEV_SOURCE_NAME, DEFAULT_WORKSPACE_ID))
        except Conflict:
            # Roles starting together on one database: another process made it meanwhile.
            found = _development_source(store)
            if found is None:
                raise
            return found
    finally:
        engine.dispose()


def _development_source(store: SqlSourceStore) -> Source | None:
    for source in store.list(DEFAULT_WORKSPACE_ID):
        if same_name(source.name, DEV_SOURCE_NAME):  # names are unique ignoring case
            return source
    return None


COLLECT, PIPELINE, DELIVER = "collect", "pipeline", "deliver"
ALL_ROLES = frozenset({COLLECT, PIPELINE, DELIVER})
EXCLUSIVE_ROLES = frozenset({PIPELINE, DELIVER})
"""Roles of which one process per data directory may run (embedded mode)."""


class ServeLock:
    """One holder per data directory: a second `serve` (or a second pipeline) fails fast
    instead of corrupting it."""

    def __init__(self, path: Path, what: str = "server") -> None:
        self._path = path
        self._what = what
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Conflict(
                f"another Seamline {self._what} is using {self._path.parent}; stop it or "
                "pick another --data-dir"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Seamline:
    """Everything `serve` runs in one process: Tracking API, log, pipeline, event store.

    `destinations` receive what the route stage sends them (until the delivery framework
    lands, tests use it to see what would leave Seamline).
    """

    def __init__(
        self,
        settings: Settings,
        destinations: tuple[Destination, ...] = (),
        roles: frozenset[str] = ALL_ROLES,
    ) -> None:
        self.settings = settings
        self.paths = DataDir(settings.data_dir)
        make_private(self.paths.root)  # before any store creates a file in it
        self.metrics = Metrics()
        self.state = open_state(settings)
        self.sources = SqlSourceStore(self.state)
        self.identity_rules = identity_rules(settings)
        self.identity = SqlIdentityGraph(self.state)
        self.traits = SqlTraitStore(self.state)
        self.accounts = SqlAccountStore(self.state)
        self.suppressions = SqlSuppressionList(self.state)
        self.resources = SqlResourceStore(self.state)
        self.protocols = SqlProtocolsStore(self.state)
        self.inventory = SqlInventory(self.state)
        self.consent = SqlConsentStore(self.state)
        self.secrets = SqlWorkspaceSecrets(self.state)
        self.sealer = Sealer(key_from(settings.secret_key, self.paths.root))
        self.rules = RulesCache(self.resources, self.paths.functions, sealer=self.sealer)
        self.outbox = SqlOutbox(self.state)
        self.delivery = DeliveryService(
            lambda workspace_id: self.rules.get(workspace_id).destinations,
            lambda: {source.workspace_id for source in self.sources.list()},
            self.outbox,
            policy=RetryPolicy(period=timedelta(hours=settings.delivery_retry_hours)),
            timeout=settings.delivery_timeout,
            poll=settings.delivery_poll,
            client=lambda: destination_client(settings.destinations_allow_private),
        )
        self._delivery_stop = asyncio.Event()
        self._delivery_task: asyncio.Task[None] | None = None
        self._destinations = destinations
        self._salts: dict[str, bytes] = {}
        self._egress: dict[str, tuple[int, Egress]] = {}
        self.write_keys = WriteKeys(self.sources)
        self.accepting = False
        self.roles = roles
        self.delivery_drain = 0.0  # the deliver role's process sets it: drain what is due
        # One pipeline and one delivery loop per data directory (the local log's offsets and
        # the outbox's leases are not shared between processes); collect workers and the CLI
        # share the directory freely.
        self._locks = [
            ServeLock(self.paths.root / f".{role}.lock", role)
            for role in sorted(roles & EXCLUSIVE_ROLES)
        ]
        for lock in self._locks:
            lock.acquire()
        # The log: local partitions in the data directory, or JetStream (connected in start).
        self.local_log: LocalPartitions | None = None
        self._nats: NatsLog | None = None
        self._log_seen: dict[int, tuple[int, int]] = {}  # partition → (end, committed), JetStream
        self.log: LocalWriter | LazyWriter | RequestWriter
        if settings.log_url:
            self.log = RequestWriter()
        else:
            self.local_log = LocalPartitions(
                self.paths.log, fsync=settings.log_fsync, segment_bytes=settings.log_segment_bytes
            )
            self.log = self.local_log.claim(0) if COLLECT in roles else LazyWriter(self.local_log)
        self.leases: PartitionLeases | None = None
        if settings.log_url and PIPELINE in roles:
            owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
            self.leases = PartitionLeases(self.state, owner)
        self._events = LakeEventStore(
            events_root(settings),
            self.state,
            writable=PIPELINE in roles,
            compact=PIPELINE in roles,
            owned=lambda: set(self.runner.committed) if self.runner is not None else set(),
        )
        # Dedup: a SQLite file beside the one pipeline; the state store (PostgreSQL) when
        # pipeline workers may run on several machines.
        self._seen: SqliteSeenMessages | SqlSeenMessages = (
            SqlSeenMessages(self.state)
            if settings.database_url
            else SqliteSeenMessages(self.paths.dedup)
        )
        self.tokens = SqlTokenStore(self.state)
        self.engage_store = SqlEngageStore(self.state)
        self.engage_engine = RealtimeEngine(
            self.engage_store,
            StoredPeople(self.traits, self.accounts),
            self._events.track_events,
        )
        self.engage: EvaluateEngage | None = None
        self._engage_task: asyncio.Task[None] | None = None
        self._health_task: asyncio.Task[None] | None = None
        self._log_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._runner_task: asyncio.Task[None] | None = None
        self.runner: PipelineRunner | None = None
        self.guard = StageGuard(self._hold_failed)
        self.failure: BaseException | None = None  # why the pipeline task ended, if it did
        self.tracking = TrackingAPI(
            write_keys=self.write_keys,
            log=self.log,
            limits=Limits(settings.max_message_bytes, settings.max_request_bytes),
            client_address=ClientAddress(settings.trusted_proxies),
            metrics=self.metrics,
            accepting=lambda: self.accepting,
        )
        self._framework = FastAPI(
            title="Seamline",
            version=__version__,
            docs_url=None,  # served by docs_routes, without a CDN
            redoc_url=None,
            routes=routes(
                write_keys=self.write_keys,
                metrics=self.metrics,
                ready=self._readiness,
                alive=self._liveness,
                public_url=settings.public_url,
                refresh_metrics=self._refresh_metrics,
                metrics_token=settings.metrics_token.get_secret_value()
                if settings.metrics_token is not None
                else None,
            ),
            exception_handlers={
                HTTPException: json_http_error,
                SeamlineError: json_seamline_error,
                RequestValidationError: json_validation_error,
            },
            lifespan=self._lifespan,
        )
        # Management API bodies are JSON even when curl -d or a client labels them otherwise.
        self._framework.add_middleware(JsonBodies)
        self._framework.router.routes.extend(docs_routes("/openapi.json", "Seamline"))
        self._framework.include_router(
            profile_router(
                ProfileAPI(
                    graph=self.identity,
                    traits=self.traits,
                    accounts=self.accounts,
                    events=self._events,
                    tokens=self.tokens,
                    consent=self.consent,
                    engage=self._engage_traits,
                )
            )
        )

        # Before the workspace router: its generic `/api/v1/{kind}` would take `audiences`.
        self.engage_ops = EngageOps(
            lambda workspace_id: self.rules.get(workspace_id).engage,
            self._events,
            self.engage_store,
            self.engage_engine,
            lambda: self.engage,
        )
        self._framework.include_router(
            engage_router(
                self.engage_ops,
                self.resources,
                self.sealer,
                self.rules.invalidate,
                token_dependency(self.tokens),
            )
        )

        self._framework.include_router(
            workspace_router(
                WorkspaceAPI(
                    resources=self.resources,
                    protocols=self.protocols,
                    inventory=self.inventory,
                    tokens=self.tokens,
                    changed=self.rules.invalidate,
                    rerun=self.rerun,
                    sealer=self.sealer,
                    allow_private=settings.destinations_allow_private,
                )
            )
        )

        self.destination_ops: DestinationOps = DestinationOps(
            lambda workspace_id: self.rules.get(workspace_id).destinations,
            self._egress_for,
            self.outbox,
            self._events,
            self.delivery.queued,
            self.settings.delivery_timeout,
            self.settings.destinations_allow_private,
        )
        self._framework.include_router(
            destinations_router(
                DestinationsAPI(
                    destinations=lambda workspace_id: self.rules.get(workspace_id).destinations,
                    outbox=self.outbox,
                    replay=self.destination_ops.replay,
                    test=self.destination_ops.test,
                    check_authentication=self.destination_ops.check_authentication,
                ),
                token_dependency(self.tokens),
            )
        )

    @property
    def event_store(self) -> LakeEventStore:
        return self._events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            kind = INGEST_PATHS.get(path.rstrip("/") if len(path) > 1 else path)
            if kind is not None:
                await self.tracking(scope, receive, send, kind)
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
        settings = self.settings
        self._dedup = DropDuplicates(self._seen, settings.dedup_window_seconds)
        self._store_stage = StoreEvents(self._events)
        self._suppress = DropSuppressed(self.suppressions, self.identity, self.identity_rules)
        self._protocols = ApplyProtocols(self.rules.get, self.protocols)
        self._personal_data = ControlPersonalData(
            self.rules.get, self._salt, self.inventory, self.protocols
        )
        self.route = RouteToDestinations(
            self.rules.get,
            self._egress_for,
            self.outbox,
            local=self._destinations,
            queued=self.delivery.queued,
        )
        self.engage = EvaluateEngage(
            lambda workspace_id: self.rules.get(workspace_id).engage,
            self.engage_engine,
            self.engage_store.identifiers_of_people,
            self._emit,
        )
        if self.settings.log_url:
            await self._connect_log()
        self.runner = PipelineRunner(
            self.log_partitions,
            (
                self._dedup,
                self._protocols,
                self._personal_data,
                ResolveIdentities(self.identity, self.identity_rules),
                self._suppress,
                RecordConsent(self.consent),
                UpdateTraits(self.traits),
                UpdateAccounts(self.accounts, self.traits),
            ),
            tail=(self._store_stage, self.engage, self.route),
            yield_for=self._yield_to_ingest,
            batch_size=settings.pipeline_batch_size,
            on_resume=self._resume,
            on_commit=self._committed,
            guard=self.guard,
            claims=self._claim if self.leases is not None else None,
        )
        self._stop.clear()
        if PIPELINE in self.roles:
            self._runner_task = asyncio.create_task(self.runner.run(self._stop), name="pipeline")
            self._runner_task.add_done_callback(self._pipeline_ended)
            self._engage_task = asyncio.create_task(self._sweep_engage(), name="engage-sweep")
            self._health_task = asyncio.create_task(self._report_health(), name="health")
        if DELIVER in self.roles:
            self._delivery_stop.clear()
            self._delivery_task = asyncio.create_task(
                self.delivery.run(self._delivery_stop, self.delivery_drain), name="delivery"
            )
        self.accepting = COLLECT in self.roles

    async def rerun(self, held: list[HeldMessage]) -> int:
        """Append held messages to the log again, as they first arrived, to go through the
        pipeline under today's configuration. Each is marked re-run once durable; re-running
        one twice (a crash between the two steps) is dropped by dedup as the same re-run."""
        pending = [h for h in held if h.id is not None and h.rerun_at is None]
        if not pending:
            return 0
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

    def _engage_traits(self, workspace_id: str, profile_id: str) -> dict[str, tuple[str, Any]]:
        """A person's computed traits and audience memberships, by key, with their class."""
        rules = self.rules.get(workspace_id).engage
        stored = self.engage_store.values(workspace_id, [profile_id]).get(profile_id, {})
        return {
            key: ("audience" if key in rules.audiences else "computed_trait", value)
            for key, (value, _) in stored.items()
            if (key in rules.audiences or key in rules.traits) and value is not None
        }

    def _emit(self, envelopes: list[Envelope]) -> None:
        """Append Engage's messages to the log (from the pipeline's thread), durably."""
        self.log.submit([envelope_encoder.encode(e) for e in envelopes])

    async def _sweep_engage(self) -> None:
        """Exit people from windowed audiences as their events age out, while traffic is quiet
        too (the pipeline only evaluates people it sees)."""
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.engage_sweep_seconds)
            if self._stop.is_set() or self.engage is None:
                return
            try:
                await asyncio.to_thread(self.engage.sweep)
            except Exception:
                logger.exception("engage sweep failed; retrying at the next one")

    def sweep_engage(self) -> int:
        """Run one sweep now (tests, the CLI); returns how many values changed."""
        return self.engage.sweep() if self.engage is not None else 0

    def _salt(self, workspace_id: str) -> bytes:
        salt = self._salts.get(workspace_id)
        if salt is None:
            salt = self._salts[workspace_id] = self.secrets.get_or_create(workspace_id, PII_SALT)
        return salt

    def _egress_for(self, workspace_id: str) -> Egress:
        rules: WorkspaceRules = self.rules.get(workspace_id)
        cached = self._egress.get(workspace_id)
        if cached is None or cached[0] != rules.revision:
            egress = Egress(
                rules.consent,
                [c for c in rules.pii_controls if c.destinations],
                FieldClassifier(rules.matchers),
                self._salt(workspace_id),
            )
            cached = self._egress[workspace_id] = (rules.revision, egress)
        return cached[1]

    def _yield_to_ingest(self, busy: float) -> float:
        """How long the pipeline pauses after a batch that took `busy` seconds.

        The pipeline shares the process (and its GIL) with the Tracking API. While events
        are arriving, it pauses as long as it worked, so acceptance keeps at least half the
        interpreter; the log absorbs the backlog, which is processed at full speed once the
        traffic calms. With no recent traffic it does not pause at all.
        """
        recently = time.monotonic() - self.tracking.last_accepted < 1.0
        return busy * self.settings.pipeline_yield if recently else 0.0

    def _pipeline_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Only a bug in the runner itself gets here (records are held, outages waited out).
        # Accepted messages stay safe in the log; /healthz fails so the process is restarted.
        self.accepting = False
        self.failure = task.exception()
        logger.error("the pipeline stopped", exc_info=self.failure)

    def _hold_failed(self, items: list[Item], stage: str, error: BaseException) -> None:
        """Hold the records a stage raised on (disposition `error`), to re-run once fixed."""
        now = datetime.now(UTC)
        reason = f"stage {stage} raised {type(error).__name__}: {error}"
        self.protocols.record([], [hold(item, "error", reason, now) for item in items])

    def _readiness(self) -> str | None:
        """None when events are accepted and processed; otherwise why not."""
        dead = self._liveness()
        if dead is not None:
            return dead
        stalled = self.guard.stalled if PIPELINE in self.roles else self._pipeline_stalled()
        if stalled is not None:
            return f"the pipeline is retrying {stalled}"
        if not self.accepting:
            return "not accepting events (starting or stopping)"
        return None

    def _pipeline_stalled(self) -> str | None:
        """What the pipeline process said it is retrying, if anything (see `_report_health`)."""
        try:
            found = json.loads(self.paths.health.read_text())
        except (FileNotFoundError, ValueError):
            return None
        stalled = found.get("stalled")
        return str(stalled) if stalled else None

    async def _report_health(self) -> None:
        """In the pipeline's process: tell the other roles' /readyz whether it is stalled."""
        written: object = ()
        while not self._stop.is_set():
            stalled = self.guard.stalled
            if stalled != written:
                await asyncio.to_thread(_write_json, self.paths.health, {"stalled": stalled})
                written = stalled
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)
        await asyncio.to_thread(_write_json, self.paths.health, {"stalled": None})

    def _liveness(self) -> str | None:
        """None while the process does its work; otherwise why it should be restarted."""
        if self.failure is not None:
            return f"the pipeline stopped: {type(self.failure).__name__}: {self.failure}"
        return None

    def _resume(self, start: int, end: int) -> None:
        self._events.truncate_from(start, end)
        self.protocols.truncate_from(start, end)
        self._stored_total = self._events.count()

    def _committed(self, partition: int, offset: int, processed: int) -> None:
        self.metrics.pipeline_processed.inc(processed)
        self._stored_total += processed
        progress = {
            "committed": {str(p): o for p, o in self.runner.committed.items()}
            if self.runner is not None
            else {},
            "stored": self._stored_total,
            "duplicates_dropped": self._dedup.dropped,
            "suppressed_dropped": self._suppress.dropped,
            "held": self._protocols.held + self._personal_data.blocked + self.guard.errors_held,
            "errors_held": self.guard.errors_held,
            "violations": self._protocols.violations,
        }
        _write_json(self.paths.progress, progress)

    @property
    def log_partitions(self) -> PartitionedLog:
        if self.local_log is not None:
            return self.local_log
        if self._nats is None:
            raise RuntimeError("the JetStream log is connected when the app starts")
        return self._nats

    async def _connect_log(self) -> None:
        assert self.settings.log_url is not None and isinstance(self.log, RequestWriter)
        servers = [url.strip() for url in self.settings.log_url.split(",") if url.strip()]
        self._nats = await NatsLog.connect(
            servers,
            partitions=self.settings.log_partitions,
            replicas=self.settings.log_replicas,
        )
        self.log.connect(self._nats.writer(), asyncio.get_running_loop())
        self._log_task = asyncio.create_task(self._watch_log(), name="log-status")

    async def _claim(self, partitions: list[int]) -> list[int]:
        assert self.leases is not None
        return await asyncio.to_thread(self.leases.claim, CONSUMER, partitions)

    async def _watch_log(self) -> None:
        """JetStream's ends and commits, every second, for /metrics and `caught_up`."""
        log = self.log_partitions
        while not self._stop.is_set():
            try:
                seen = {}
                for partition in await log.partitions():
                    end = await log.end_offset(partition)
                    seen[partition] = (end, await log.committed(CONSUMER, partition))
                self._log_seen = seen
            except Exception as error:
                logger.warning("cannot read the log's state: %s", error)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    def _log_state(self) -> dict[int, tuple[int, int]]:
        """(end, committed) per partition: read now from local files, else the last seen."""
        if self.local_log is None:
            return dict(self._log_seen)
        log = self.local_log
        return {p: (end, log.committed_sync(CONSUMER, p)) for p, end in log.end_offsets().items()}

    def caught_up(self) -> bool:
        """Whether the pipeline has committed every record durable in the log now."""
        return all(committed >= end for end, committed in self._log_state().values())

    def _refresh_metrics(self) -> None:
        """What the log says, so any process's /metrics tells the same lag."""
        state = self._log_state()
        ends = {p: end for p, (end, _) in state.items()}
        committed = {p: c for p, (_, c) in state.items()}
        self.metrics.log_end.set(sum(ends.values()))
        self.metrics.pipeline_offset.set(sum(committed.values()))
        for partition, end in ends.items():
            self.metrics.log_lag.labels(str(partition)).set(end - committed[partition])
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

    async def stop(self) -> None:
        """Stop accepting, let the pipeline drain what was accepted, close everything."""
        self.accepting = False
        self._stop.set()
        for task in (self._engage_task, self._health_task):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        self._engage_task = self._health_task = None
        if self._runner_task is not None:
            # A pipeline that failed was reported when it stopped; closing must go on anyway.
            with contextlib.suppress(Exception):
                await self._runner_task
            self._runner_task = None
        if self._delivery_task is not None:
            # Rows in flight keep their lease and are delivered again after a restart.
            self._delivery_stop.set()
            with contextlib.suppress(Exception):
                await self._delivery_task
            self._delivery_task = None
        if self._log_task is not None:
            with contextlib.suppress(Exception):
                await self._log_task
            self._log_task = None
        if self.leases is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.leases.release, CONSUMER)
        if self.local_log is not None:
            await self.local_log.close()
        if self._nats is not None:
            await self._nats.close()
        self.rules.close()
        self._events.close()
        self._seen.close()
        self.state.dispose()
        for lock in self._locks:
            lock.release()


def _write_json(path: Path, value: object) -> None:
    """Replace `path` atomically: readers in other processes see the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, path)


def events_root(settings: Settings) -> Path:
    """Where the event store's files live: `events_url` (a shared disk), else the data dir."""
    if settings.events_url:
        return Path(urlparse(settings.events_url).path)
    return DataDir(settings.data_dir).events

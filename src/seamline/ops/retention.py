"""The expiry job: apply every workspace's retention to the log and the event store once, and
record what it removed. The pipeline's process runs it every `retention_check_seconds`;
`seamline retention expire` runs it when no pipeline runs on the data directory."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from seamline.config import Settings
from seamline.errors import Conflict, Unavailable
from seamline.log.base import PIPELINE_CONSUMER
from seamline.log.expire import Dropped, expire_partition
from seamline.log.partitions import LocalPartitions
from seamline.privacy.retention import Cutoffs, Expired
from seamline.store.events_expire import expire_events
from seamline.store.events_lake import LakeEventStore
from seamline.store.retention_sql import SqlRetention

if TYPE_CHECKING:
    from seamline.log.nats import NatsLog

logger = logging.getLogger(__name__)

Step = Callable[[str], None]
"""Told what the job starts on next (the CLI shows it)."""
NOTHING = Dropped(0, 0)


def expire(
    retention: SqlRetention,
    events: LakeEventStore,
    log: LocalPartitions | None,
    now: datetime,
    *,
    owned: Collection[int] | None = None,
    step: Step | None = None,
    jetstream: Dropped = NOTHING,
) -> Expired | None:
    """Remove what is past retention at `now` (aware) from the local log's partitions (`log`;
    None with JetStream: `expire_jetstream` ran before, and `jetstream` is what it purged) and
    from the event store files of the `owned` partitions (None: all). Returns the run, also
    recorded; None when every workspace keeps everything (nothing is read then)."""
    cutoffs = Cutoffs(retention.settings(), now)
    if not cutoffs:
        return None
    segments, records = jetstream
    if log is not None:
        for partition in log.partitions_sync():
            if owned is not None and partition not in owned:
                continue
            if step is not None:
                step(f"log partition {partition}")
            committed = log.committed_sync(PIPELINE_CONSUMER, partition)
            dropped = expire_partition(log.directory(partition), committed, cutoffs.expired)
            segments += dropped.segments
            records += dropped.records
    if step is not None:
        step("event store")
    rows = expire_events(events, cutoffs.by_workspace, owned)
    run = Expired(
        ran_at=now,
        cutoffs=dict(cutoffs.by_workspace),
        log_records=records,
        log_segments=segments,
        events=rows.rows,
        event_files=rows.files_removed + rows.files_rewritten,
    )
    retention.record(run)
    if records or rows.rows:
        logger.info(
            "retention: %d log records (%d segments) and %d stored events expired",
            records,
            segments,
            rows.rows,
        )
    return run


async def expire_jetstream(
    log: NatsLog, cutoffs: Cutoffs, owned: Collection[int] | None = None
) -> Dropped:
    """Purge what is past retention and committed from the JetStream log's (`owned`)
    partitions."""
    from seamline.log.expire_nats import expire_nats_partition

    records = 0
    if not cutoffs:
        return Dropped(0, 0)
    for partition in await log.partitions():
        if owned is None or partition in owned:
            committed = await log.committed(PIPELINE_CONSUMER, partition)
            purged = await expire_nats_partition(log, partition, committed, cutoffs.expired)
            records += purged.records
    return Dropped(0, records)


def request_path(data_root: Path) -> Path:
    """The file `seamline retention expire` creates to have a running pipeline expire now."""
    return data_root / "pipeline" / "retention-request"


class WorkersRunning(Conflict):
    """Pipeline workers elsewhere hold the JetStream log's partitions: the CLI leaves the
    expiry to them."""


def expire_here(settings: Settings, now: datetime, step: Step | None = None) -> Expired | None:
    """Run the expiry in this process, holding the pipeline's lock (Conflict if a pipeline
    runs on the data directory: ask it with `ask_pipeline` instead)."""
    from seamline.data_dir import DataDir, open_state
    from seamline.roles.locks import ServeLock
    from seamline.roles.parts import events_root

    paths = DataDir(settings.data_dir)
    lock = ServeLock(paths.root / ".pipeline.lock", "pipeline")
    lock.acquire()
    engine = open_state(settings)
    leasing = SqlRetention(engine).workers_leasing(now) if settings.log_url else 0
    if leasing:
        engine.dispose()
        lock.release()
        raise WorkersRunning(
            f"{leasing} pipeline workers hold the log's partitions: each expires its own every "
            "retention_check_seconds (the lake's files of a partition are rewritten by the "
            "worker that writes them only)"
        )
    events = LakeEventStore(events_root(settings), engine, compact=False)
    log = None if settings.log_url else LocalPartitions(paths.log)
    store = SqlRetention(engine)
    try:
        purged = NOTHING
        if settings.log_url:
            if step is not None:
                step("the JetStream log")
            purged = asyncio.run(_expire_jetstream_at(settings, Cutoffs(store.settings(), now)))
        return expire(store, events, log, now, step=step, jetstream=purged)
    finally:
        if log is not None:
            log.close_sync()
        events.close()
        engine.dispose()
        lock.release()


async def _expire_jetstream_at(settings: Settings, cutoffs: Cutoffs) -> Dropped:
    if not cutoffs or settings.log_url is None:
        return Dropped(0, 0)
    from seamline.log.nats import NatsLog

    servers = [url.strip() for url in settings.log_url.split(",") if url.strip()]
    log = await NatsLog.connect(
        servers, partitions=settings.log_partitions, replicas=settings.log_replicas
    )
    try:
        return await expire_jetstream(log, cutoffs)
    finally:
        await log.close()


def ask_pipeline(settings: Settings, timeout: float = 600.0) -> Expired | None:
    """Have the pipeline running on the data directory expire now; its run once done (None:
    every workspace keeps everything, so there was nothing to run)."""
    from seamline.data_dir import DataDir, open_state

    engine = open_state(settings)
    try:
        store = SqlRetention(engine)
        if not store.settings():
            return None
        before = store.totals().runs
        request = request_path(DataDir(settings.data_dir).root)
        request.parent.mkdir(parents=True, exist_ok=True)
        request.touch()
        deadline = time.monotonic() + timeout
        while store.totals().runs == before:
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"the pipeline did not run the expiry within {timeout:.0f} s; see its log"
                )
            time.sleep(0.5)
        return store.last_run()
    finally:
        engine.dispose()

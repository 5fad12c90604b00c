"""The expiry job: apply every workspace's retention to the log and the event store once, and
record what it removed. The pipeline's process runs it every `retention_check_seconds`;
`seamline retention expire` runs it when no pipeline runs on the data directory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from seamline.log.base import PIPELINE_CONSUMER
from seamline.log.expire import expire_partition
from seamline.log.partitions import LocalPartitions
from seamline.privacy.retention import Cutoffs, Expired
from seamline.store.events_expire import expire_events
from seamline.store.events_lake import LakeEventStore
from seamline.store.retention_sql import SqlRetention

logger = logging.getLogger(__name__)

Step = Callable[[str], None]
"""Told what the job starts on next (the CLI shows it)."""


def expire(
    retention: SqlRetention,
    events: LakeEventStore,
    log: LocalPartitions | None,
    now: datetime,
    *,
    owned: Collection[int] | None = None,
    step: Step | None = None,
) -> Expired | None:
    """Remove what is past retention at `now` (aware) from the local log's partitions (`log`;
    None: the JetStream log, whose stream's MaxAge applies instead, see docs/privacy.md) and
    from the event store files of the `owned` partitions (None: all). Returns the run, also
    recorded; None when every workspace keeps everything (nothing is read then)."""
    cutoffs = Cutoffs(retention.settings(), now)
    if not cutoffs:
        return None
    segments = records = 0
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

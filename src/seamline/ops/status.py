"""What a data directory's Seamline is doing now: its processes, the log's lag per partition,
pending deliveries and dead letters. Read from the files and stores, so any process (the CLI,
a collect worker's /metrics) tells the same."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from seamline.config import Settings
from seamline.log.base import PIPELINE_CONSUMER as CONSUMER
from seamline.log.base import PartitionedLog
from seamline.log.partitions import LocalPartitions
from seamline.privacy.regulations import ENDED
from seamline.store.regulations_sql import SqlRegulationStore
from seamline.store.retention_sql import SqlRetention
from seamline.store.state import dead_letters, outbox


def processes(roles_file: Path) -> list[dict[str, Any]]:
    """The supervisor's processes, if a supervisor runs on this data directory."""
    try:
        found = json.loads(roles_file.read_text())
    except (FileNotFoundError, ValueError):
        return []
    if not _alive(int(found.get("supervisor", 0))):
        return []
    rows: list[dict[str, Any]] = found.get("processes", [])
    return rows


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 0)
        return True
    return False


async def partitions(log: PartitionedLog) -> list[dict[str, int]]:
    rows = []
    for partition in sorted(await log.partitions()):
        end = await log.end_offset(partition)
        committed = await log.committed(CONSUMER, partition)
        rows.append(
            {"partition": partition, "end": end, "committed": committed, "lag": end - committed}
        )
    return rows


def log_partitions(settings: Settings) -> list[dict[str, int]]:
    """Each partition's end, committed offset and lag, from the local log or JetStream."""
    from seamline.data_dir import DataDir

    if not settings.log_url:
        return asyncio.run(partitions(LocalPartitions(DataDir(settings.data_dir).log)))

    async def from_nats() -> list[dict[str, int]]:
        from seamline.log.nats import NatsLog

        assert settings.log_url is not None
        servers = [url.strip() for url in settings.log_url.split(",") if url.strip()]
        log = await NatsLog.connect(
            servers, partitions=settings.log_partitions, replicas=settings.log_replicas
        )
        try:
            return await partitions(log)
        finally:
            await log.close()

    return asyncio.run(from_nats())


def deliveries(engine: Engine) -> dict[str, int]:
    """Deliveries waiting in the outbox and dead letters not replayed, over every workspace."""
    with engine.connect() as conn:
        pending = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        dead = conn.execute(
            select(func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.replayed_at.is_(None))
        ).scalar_one()
    return {"pending": int(pending), "dead_letters": int(dead)}


def retention(engine: Engine) -> dict[str, Any]:
    """Each workspace's retention setting (those not `unlimited`) and the expiry's last run."""
    store = SqlRetention(engine)
    last = store.last_run()
    return {"settings": store.settings(), "last_run": None if last is None else last.as_json()}


def status(settings: Settings, engine: Engine) -> dict[str, Any]:
    from seamline.data_dir import DataDir

    return {
        "processes": processes(DataDir(settings.data_dir).roles),
        "partitions": log_partitions(settings),
        **deliveries(engine),
        "retention": retention(engine),
        "regulations_running": SqlRegulationStore(engine).pending(ENDED),
    }

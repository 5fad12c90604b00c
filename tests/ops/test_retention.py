"""Retention end to end in one process: set through the management API, applied by the
pipeline's expiry job with a moved clock, seen on /metrics and in `status`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.collect.sources import Source
from seamline.config import Settings
from seamline.log.base import PIPELINE_CONSUMER
from seamline.ops.retention import request_path
from seamline.ops.status import status

pytestmark = pytest.mark.anyio


class Served:
    def __init__(self, app: Seamline, source: Source, client: httpx.AsyncClient) -> None:
        self.app, self.source, self.client = app, source, client
        _, secret = create_token(app.tokens, "default", "tests")
        self.auth = {"Authorization": f"Bearer {secret}"}

    async def send(self, prefix: str, count: int) -> None:
        batch = [
            {"type": "track", "event": "E", "userId": f"{prefix}{i}", "messageId": f"{prefix}{i}"}
            for i in range(count)
        ]
        for event in batch:  # a request each: several records, several small segments
            answer = await self.client.post(
                "/v1/track", json={**event, "writeKey": self.source.write_key}
            )
            assert answer.status_code == 200, answer.text
        for _ in range(1000):
            if self.app.caught_up():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the pipeline did not catch up")

    def stored(self) -> list[str]:
        rows = self.app.event_store.query("SELECT message_id FROM events ORDER BY message_id")
        return [row[0] for row in rows]

    def logged(self) -> list[str]:
        log = self.app.local_log
        assert log is not None
        found: list[str] = []
        for partition in log.partitions_sync():
            found += [
                r.payload.decode().split('"messageId":"')[1].split('"')[0]
                for r in log.read_sync(partition, 0, 10_000)
            ]
        return sorted(found)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    settings = Settings(data_dir=tmp_path / "data", log_segment_bytes=1024)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Served(app, source, client)
    await app.stop()


def between() -> datetime:
    """A time after everything received so far and before anything received next."""
    time.sleep(0.002)
    at = datetime.now(UTC)
    time.sleep(0.002)
    return at


async def test_the_pipeline_expires_what_is_older_than_the_setting(served: Served) -> None:
    await served.send("old", 12)
    mid = between()
    await served.send("new", 5)
    answer = await served.client.put(
        "/api/v1/retention", json={"retention": "30d"}, headers=served.auth
    )
    assert answer.status_code == 200 and answer.json() == {"retention": "30d"}
    worker = served.app.pipeline.retention if served.app.pipeline else None
    assert worker is not None

    worker.now = lambda: mid + timedelta(days=30)  # 30 days after `mid`: the old ones expired
    run = await asyncio.to_thread(worker.run_once)

    assert run is not None
    new = [f"new{i}" for i in range(5)]
    assert served.stored() == new and run.events == 12
    # The log keeps every new record; old ones go with whole segments only.
    logged = served.logged()
    assert set(new) <= set(logged) and len(logged) == 17 - run.log_records
    assert run.log_segments >= 1 and run.log_records >= 1
    log = served.app.local_log
    assert log is not None
    assert log.end_offset_sync(0) == 17 and log.committed_sync(PIPELINE_CONSUMER, 0) == 17

    metrics = (await served.client.get("/metrics")).text
    assert "seamline_retention_expired_events_total 12.0" in metrics
    assert f"seamline_retention_expired_log_records_total {run.log_records}.0" in metrics
    assert "seamline_retention_last_run_timestamp_seconds" in metrics
    found = await asyncio.to_thread(status, served.app.settings, served.app.state)
    assert found["retention"]["settings"] == {"default": "30d"}
    assert found["retention"]["last_run"]["events"] == 12
    shown = await served.client.get("/api/v1/retention", headers=served.auth)
    assert shown.json()["lastRun"]["events"] == 12


async def test_unlimited_expires_nothing(served: Served) -> None:
    await served.send("old", 3)
    worker = served.app.pipeline.retention if served.app.pipeline else None
    assert worker is not None
    worker.now = lambda: datetime.now(UTC) + timedelta(days=5000)
    assert await asyncio.to_thread(worker.run_once) is None  # never set: unlimited
    await served.client.put("/api/v1/retention", json={"retention": "3y"}, headers=served.auth)
    await served.client.put(
        "/api/v1/retention", json={"retention": "unlimited"}, headers=served.auth
    )
    assert await asyncio.to_thread(worker.run_once) is None
    assert served.stored() == ["old0", "old1", "old2"] and len(served.logged()) == 3


async def test_a_request_from_the_cli_runs_the_expiry_in_the_pipeline(served: Served) -> None:
    await served.send("old", 2)
    await served.client.put("/api/v1/retention", json={"retention": "90d"}, headers=served.auth)
    worker = served.app.pipeline.retention if served.app.pipeline else None
    assert worker is not None
    worker.now = lambda: datetime.now(UTC) + timedelta(days=91)
    request_path(served.app.paths.root).touch()
    for _ in range(1000):
        if worker.store.totals().runs:
            break
        await asyncio.sleep(0.02)
    assert worker.store.totals().runs == 1
    assert served.stored() == []


@pytest.mark.parametrize(
    "body",
    [{"retention": "60d"}, {"retention": 30}, {"keep": "30d"}, ["30d"], {"retention": "30D"}],
)
async def test_a_bad_setting_is_refused_and_changes_nothing(served: Served, body: Any) -> None:
    await served.client.put("/api/v1/retention", json={"retention": "90d"}, headers=served.auth)
    answer = await served.client.put("/api/v1/retention", json=body, headers=served.auth)
    assert answer.status_code == 400
    found = answer.json()
    assert found["code"] == "invalid_retention"
    assert "30d, 90d, 180d, 365d, 3y, unlimited" in found["message"]
    shown = await served.client.get("/api/v1/retention", headers=served.auth)
    assert shown.json()["retention"] == "90d"


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("privacy-admin", 200, 200), ("source-admin", 403, 403), ("unify-read-only", 403, 403)],
)
async def test_privacy_roles_read_and_set_it(
    served: Served, role: str, read: int, write: int
) -> None:
    _, secret = create_token(served.app.tokens, "default", role, (Grant(role=role),))
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await served.client.get("/api/v1/retention", headers=auth)).status_code == read
    answer = await served.client.put("/api/v1/retention", json={"retention": "3y"}, headers=auth)
    assert answer.status_code == write
    if write == 403:
        assert answer.json()["code"] == "forbidden"


async def test_a_change_is_recorded_in_the_audit_trail(served: Served) -> None:
    for value in ("90d", "90d", "unlimited"):  # the same value again is no change
        put = await served.client.put(
            "/api/v1/retention", json={"retention": value}, headers=served.auth
        )
        assert put.status_code == 200
    found = await served.client.get(
        "/api/v1/audit-trail", params={"resource_type": "retention"}, headers=served.auth
    )
    entries = found.json()["data"]
    assert [(e["before"], e["after"]) for e in entries] == [
        ({"retention": "90d"}, {"retention": "unlimited"}),
        ({"retention": "unlimited"}, {"retention": "90d"}),
    ]
    assert entries[0]["resource"] == {"type": "retention", "id": "default"}

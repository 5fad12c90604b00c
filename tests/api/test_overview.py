"""`GET /api/v1/overview`: the console's home page from real stores (SQLite and PostgreSQL):
events per source by hour and by day (received time, UTC), lag, delivery health, violations per
day, held messages and dead letters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from seamline.access.permissions import parse_grant
from seamline.access.tokens import create_token
from seamline.log.base import position
from seamline.protocols.records import HeldMessage, ViolationRecord
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.outbox_sql import new_delivery
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
SPARE_PARTITION = 9  # rows loaded straight into the lake: a partition no pipeline writes


def label(at: datetime, width: int) -> str:
    start = int(at.timestamp()) // width * width
    return datetime.fromtimestamp(start, UTC).isoformat().replace("+00:00", "Z")


def stored(n: int, source_id: str, received_at: datetime) -> Item:
    message = Message(
        type="track", message_id=f"old-{n}", user_id="u", event="E", received_at=received_at
    )
    envelope = Envelope(workspace_id="default", source_id=source_id, message=message)
    return Item(position(SPARE_PARTITION, n), envelope)


def owner(running: Running) -> dict[str, str]:
    _, secret = create_token(running.app.tokens, "default", "owner")
    return {"Authorization": f"Bearer {secret}"}


async def overview(running: Running, headers: dict[str, str]) -> dict[str, Any]:
    answer = await running.client.get("/api/v1/overview", headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_events_per_source_by_hour_and_by_day(running: Running) -> None:
    now = datetime.now(UTC)
    source = running.source.id
    spread = [
        (source, now - timedelta(hours=3)),
        (source, now - timedelta(hours=3)),
        (source, now - timedelta(days=2)),
        ("src_gone", now - timedelta(hours=30)),
        (source, now - timedelta(days=10)),  # older than both windows
    ]
    running.app.event_store.write([stored(n, s, at) for n, (s, at) in enumerate(spread)])
    sent = [{"type": "track", "userId": "u", "event": "Now", "messageId": f"n{i}"} for i in (1, 2)]
    answer = await running.client.post("/v1/batch", json={"batch": sent, "writeKey": running.key})
    assert answer.status_code == 200
    for _ in range(1000):
        if running.app.event_store.count() == len(spread) + 2:
            break
        await asyncio.sleep(0.01)

    found = (await overview(running, owner(running)))["events"]
    hours, days = found["hours"], found["days"]
    assert len(hours) == 24 and len(days) == 7
    assert hours[-1] == label(now, 3600) and days[-1] == label(now, 86400)
    by_id = {s["id"]: s for s in found["sources"]}
    assert by_id[source]["name"] == "Development"
    hourly = dict(zip(hours, by_id[source]["hourly"], strict=True))
    assert hourly[label(now, 3600)] == 2  # the two sent just now
    assert hourly[label(now - timedelta(hours=3), 3600)] == 2
    assert sum(hourly.values()) == 4
    daily = dict(zip(days, by_id[source]["daily"], strict=True))
    assert daily[label(now - timedelta(days=2), 86400)] == 1
    assert sum(daily.values()) == 5  # not the one 10 days old
    gone = by_id["src_gone"]
    assert gone["name"] is None and sum(gone["hourly"]) == 0 and sum(gone["daily"]) == 1


async def test_lag_delivery_health_violations_held_and_dead_letters(running: Running) -> None:
    now = datetime.now(UTC)
    outbox = running.app.outbox
    minute = now.replace(second=0, microsecond=0)
    outbox.count(
        {
            ("default", "hook", "all", minute, "delivered", ""): 5,
            ("default", "hook", "all", minute, "retried", "timeout"): 2,
            ("default", "hook", "all", minute, "failed", "HTTP 400"): 1,
            ("default", "hook", "all", minute - timedelta(days=2), "delivered", ""): 100,
            ("other", "hook", "all", minute, "delivered", ""): 7,
        }
    )
    queued = now - timedelta(minutes=2)
    outbox.enqueue(
        [
            new_delivery("default", "hook", "all", "d1", {}, queued),
            new_delivery("default", "hook", "all", "d2", {}, queued + timedelta(minutes=1)),
            {**new_delivery("default", "hook", "all", "d3", {}, now),
             "next_attempt_at": now + timedelta(hours=1)},
            new_delivery("default", "crm", "all", "d4", {}, queued),
        ]
    )  # fmt: skip
    claimed = outbox.claim("default", "crm", 10, now, timedelta(minutes=1))
    outbox.give_up(claimed, now, "HTTP 400: bad request", 400, None, None)

    def violation(n: int, at: datetime) -> ViolationRecord:
        return ViolationRecord(
            workspace_id="default", source_id=running.source.id, log_offset=n,
            message_id=f"v{n}", message_type="track", event_name="E", path="properties.total",
            rule="type", expected="number", actual='string "x"', recorded_at=at,
        )  # fmt: skip

    held = HeldMessage(
        workspace_id="default", source_id=running.source.id, log_offset=9, message_id="v9",
        disposition="blocked", reason="no", message="{}", held_at=now,
    )  # fmt: skip
    running.app.protocols.record(
        [
            violation(1, now),
            violation(2, now),
            violation(3, now - timedelta(days=1)),
            violation(4, now - timedelta(days=9)),
        ],
        [held, msgspec.structs.replace(held, log_offset=10, rerun_at=now)],
    )

    found = await overview(running, owner(running))
    destinations = {d["name"]: d for d in found["destinations"]}
    hook = destinations["hook"]
    assert (hook["delivered"], hook["retried"], hook["failed"]) == (5, 2, 1)
    assert hook["pending"] == 3 and hook["dead_letters"] == 0
    crm = destinations["crm"]
    assert crm["dead_letters"] == 1 and crm["pending"] == 0
    assert crm["dead_letters_path"] == "/api/v1/destinations/crm/dead-letters"
    assert found["dead_letters"] == {"count": 1, "by_destination": {"crm": 1}}
    deliver = found["lag"]["deliver"]
    assert deliver["pending"] == 3 and deliver["due"] == 2
    assert 110 <= deliver["oldest_due_seconds"] < 3600
    pipeline = found["lag"]["pipeline"]
    assert pipeline["records"] == sum(p["lag"] for p in pipeline["partitions"])
    assert [p["partition"] for p in pipeline["partitions"]] == [0]
    violations = dict(zip(found["violations"]["days"], found["violations"]["counts"], strict=True))
    assert violations[label(now, 86400)] == 2
    assert violations[label(now - timedelta(days=1), 86400)] == 1
    assert sum(violations.values()) == 3
    assert found["held"] == {"count": 1, "path": "/api/v1/held"}


async def test_the_pipeline_lag_counts_what_is_not_processed(running: Running) -> None:
    runner = running.app.pipeline
    assert runner is not None
    await runner.stop()  # what is sent now waits in the log
    sent = [{"type": "track", "userId": "u", "event": "E", "messageId": f"w{i}"} for i in range(3)]
    answer = await running.client.post("/v1/batch", json={"batch": sent, "writeKey": running.key})
    assert answer.status_code == 200
    lag = (await overview(running, owner(running)))["lag"]["pipeline"]
    assert lag["records"] == 3
    assert lag["partitions"] == [{"partition": 0, "end": 3, "committed": 0, "lag": 3}]


async def test_needs_a_workspace_read_permission(running: Running) -> None:
    grants = (parse_grant("tracking-plan-read-only"),)
    _, secret = create_token(running.app.tokens, "default", "plans", grants)
    refused = await running.client.get(
        "/api/v1/overview", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    missing = await running.client.get("/api/v1/overview")
    assert missing.status_code == 401

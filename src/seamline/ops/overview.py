"""What the console's home page shows of one workspace, read from the stores and the log.

Each part is one query (or two: events per hour and per day); nothing is kept between calls.
Times are UTC: an hour or a day is a bucket of the Unix epoch (`floor(epoch / 3600)`), which
DuckDB computes the same whatever the server's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Protocol

from sqlalchemy import Engine, and_, case, func, select

from seamline.store.state import as_utc, dead_letters, held_events, outbox, violations

HOUR, DAY = 3600, 86400
HOURS, DAYS = 24, 7


class EventQueries(Protocol):
    """The event store as the overview reads it (`LakeEventStore.query`)."""

    def query(self, sql: str, parameters: Any = ()) -> list[tuple[Any, ...]]: ...


def buckets(now: datetime, width: int, count: int) -> list[int]:
    """The epoch buckets (seconds // width) of the last `count` windows, the current one last."""
    current = int(now.timestamp()) // width
    return list(range(current - count + 1, current + 1))


def _at(bucket: int, width: int) -> str:
    return datetime.fromtimestamp(bucket * width, UTC).isoformat().replace("+00:00", "Z")


def event_counts(
    events: EventQueries, workspace_id: str, sources: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """Stored events per source per hour (24 h) and per day (7 d), by received time: the hours
    and days as ISO times (each bucket's start), and per source a count per bucket."""
    hours, days = buckets(now, HOUR, HOURS), buckets(now, DAY, DAYS)
    per_hour = _grouped(events, workspace_id, HOUR, hours[0])
    per_day = _grouped(events, workspace_id, DAY, days[0])
    seen = sorted({s for s, _ in per_hour} | {s for s, _ in per_day} | set(sources))
    return {
        "hours": [_at(b, HOUR) for b in hours],
        "days": [_at(b, DAY) for b in days],
        "sources": [
            {
                "id": source_id,
                "name": sources.get(source_id),
                "hourly": [per_hour.get((source_id, b), 0) for b in hours],
                "daily": [per_day.get((source_id, b), 0) for b in days],
            }
            for source_id in seen
        ],
    }


def _grouped(
    events: EventQueries, workspace_id: str, width: int, first: int
) -> dict[tuple[str, int], int]:
    rows = events.query(
        "SELECT source_id, CAST(floor(epoch(received_at) / ?) AS BIGINT) AS bucket, count(*)"
        " FROM events WHERE workspace_id = ? AND received_at >= ?"
        " GROUP BY source_id, bucket",
        [width, workspace_id, datetime.fromtimestamp(first * width, UTC)],
    )
    return {(str(source), int(bucket)): int(n) for source, bucket, n in rows}


def pipeline_lag(state: Mapping[int, tuple[int, int]]) -> dict[str, Any]:
    """Records in the log the pipeline has not committed, in all and per partition. On
    JetStream offsets are stream sequences shared by the partitions: an upper bound."""
    partitions = [
        {"partition": p, "end": end, "committed": committed, "lag": max(0, end - committed)}
        for p, (end, committed) in sorted(state.items())
    ]
    return {"records": sum(p["lag"] for p in partitions), "partitions": partitions}


def delivery_lag(engine: Engine, workspace_id: str, now: datetime) -> dict[str, Any]:
    """Deliveries waiting in the outbox, those due now, and how long the oldest due one has
    waited since it was queued (seconds; None when nothing is due)."""
    due = outbox.c.next_attempt_at <= now
    query = select(
        func.count(),
        func.sum(case((due, 1), else_=0)),
        func.min(case((due, outbox.c.enqueued_at), else_=None)),
    ).where(outbox.c.workspace_id == workspace_id)
    with engine.connect() as conn:
        pending, due_count, oldest = conn.execute(query).one()
    return {
        "pending": int(pending),
        "due": int(due_count or 0),
        "oldest_due_seconds": None
        if oldest is None
        else max(0.0, round((now - as_utc(oldest)).total_seconds(), 1)),
    }


def destination_health(
    counts: list[tuple[str, str, str, str, int]],
    pending: Mapping[str, int],
    dead: Mapping[str, int],
    names: list[str],
) -> list[dict[str, Any]]:
    """Per destination instance: delivered, retried and failed (from `SqlOutbox.counts`),
    waiting in the outbox and dead letters not replayed."""
    outcomes: dict[str, dict[str, int]] = {}
    for destination, _, outcome, _, n in counts:
        found = outcomes.setdefault(destination, {})
        found[outcome] = found.get(outcome, 0) + n
    every = sorted(set(names) | set(outcomes) | set(pending) | set(dead))
    return [
        {
            "name": name,
            "delivered": outcomes.get(name, {}).get("delivered", 0),
            "retried": outcomes.get(name, {}).get("retried", 0),
            "failed": outcomes.get(name, {}).get("failed", 0),
            "pending": pending.get(name, 0),
            "dead_letters": dead.get(name, 0),
            "dead_letters_path": f"/api/v1/destinations/{name}/dead-letters",
            "status_path": f"/api/v1/destinations/{name}/status",
        }
        for name in every
    ]


def dead_letter_counts(engine: Engine, workspace_id: str) -> dict[str, int]:
    """Dead letters not replayed, per destination."""
    query = (
        select(dead_letters.c.destination, func.count())
        .where(dead_letters.c.workspace_id == workspace_id, dead_letters.c.replayed_at.is_(None))
        .group_by(dead_letters.c.destination)
    )
    with engine.connect() as conn:
        return {destination: int(n) for destination, n in conn.execute(query)}


def violations_per_day(engine: Engine, workspace_id: str, now: datetime) -> dict[str, Any]:
    """Violations recorded per day over the last 7 days: one conditional count per day, so
    SQLite and PostgreSQL run the same query (their date functions differ)."""
    days = buckets(now, DAY, DAYS)
    bounds = [datetime.fromtimestamp(b * DAY, UTC) for b in [*days, days[-1] + 1]]
    recorded = violations.c.recorded_at
    query = select(
        *(
            func.sum(case((and_(recorded >= start, recorded < end), 1), else_=0))
            for start, end in pairwise(bounds)
        )
    ).where(violations.c.workspace_id == workspace_id, recorded >= bounds[0])
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return {"days": [_at(b, DAY) for b in days], "counts": [int(n or 0) for n in row]}


def held_count(engine: Engine, workspace_id: str) -> int:
    """Held messages not re-run yet."""
    query = (
        select(func.count())
        .select_from(held_events)
        .where(held_events.c.workspace_id == workspace_id, held_events.c.rerun_at.is_(None))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())

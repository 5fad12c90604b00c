"""A source's schema: the events and properties it sent over the last days, with volumes.

Read from the event store (every stored message, with its properties and traits as JSON) in
one statement: messages per (type, event) with the last time one arrived, and how many of
them carried each top-level key of `properties` (track, page, screen) or `traits` (identify,
group). Nested objects show as their top-level key. The data inventory (privacy) counts paths
per source but not per event, so it cannot answer "which properties does `Order Completed`
have"; the event store can. Messages the pipeline has not stored yet are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs read-only SQL over the event store's view `events` (LakeEventStore.query)."""

MAX_DAYS = 90

# DuckDB. `name` stands in for `event` on page and screen calls; identify and group have
# neither (''). The two halves are told apart by `path` (NULL on a per-event row).
_SCHEMA_SQL = """
WITH recent AS (
    SELECT type, COALESCE(event, name, '') AS event, received_at,
           CASE WHEN type IN ('identify', 'group') THEN traits ELSE properties END AS fields
    FROM events
    WHERE workspace_id = ? AND source_id = ? AND received_at >= ?
),
keyed AS (
    SELECT type, event, unnest(json_keys(fields)) AS path
    FROM recent
    WHERE fields IS NOT NULL AND json_type(fields) = 'OBJECT'
)
SELECT type, event, NULL AS path, count(*) AS n, max(received_at) AS last_seen
FROM recent GROUP BY type, event
UNION ALL
SELECT type, event, path, count(*) AS n, NULL AS last_seen
FROM keyed GROUP BY type, event, path
"""


def source_schema(query: Query, workspace_id: str, source_id: str, days: int) -> dict[str, Any]:
    """`{"events": [{type, event, count, last_seen, properties: [{path, count}]}],
    "traits": [{path, count}]}` over the last `days` days, busiest first; `event` is null for
    identify and group, whose trait keys are summed into `traits`."""
    since = datetime.now(UTC) - timedelta(days=days)
    rows = query(_SCHEMA_SQL, [workspace_id, source_id, since])
    events: dict[tuple[str, str], dict[str, Any]] = {}
    paths: dict[tuple[str, str], list[dict[str, Any]]] = {}
    traits: dict[str, int] = {}
    for kind, event, path, count, last_seen in rows:
        if path is None:
            events[(kind, event)] = {
                "type": kind,
                "event": event or None,
                "count": int(count),
                "last_seen": last_seen.isoformat() if last_seen is not None else None,
                "properties": [],
            }
        elif kind in ("identify", "group"):
            traits[path] = traits.get(path, 0) + int(count)
        else:
            paths.setdefault((kind, event), []).append({"path": path, "count": int(count)})
    for key, found in paths.items():
        events[key]["properties"] = sorted(found, key=lambda p: (-p["count"], p["path"]))
    return {
        "days": days,
        "events": sorted(events.values(), key=lambda e: (-e["count"], e["type"], e["event"] or "")),
        "traits": [
            {"path": path, "count": count}
            for path, count in sorted(traits.items(), key=lambda t: (-t[1], t[0]))
        ],
    }

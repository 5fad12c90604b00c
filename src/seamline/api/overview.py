"""`GET /api/v1/overview`: one document for the console's home page — events per source (24 h
by hour, 7 d by day), the pipeline's and the deliver role's lag, delivery health per
destination, violations per day, and what is held or dead-lettered (`ops.overview`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from seamline.access.permissions import SOURCES_READ
from seamline.api.auth import needs, workspace_of
from seamline.ops import overview
from seamline.store.outbox_sql import SqlOutbox


class OverviewAPI:
    """The stores the overview reads; `log_state` is (end, committed) per log partition as
    this process knows it (what `/metrics` reports), `clock` the time now (UTC)."""

    def __init__(
        self,
        *,
        state: Engine,
        events: overview.EventQueries,
        outbox: SqlOutbox,
        sources: Callable[[str], Mapping[str, str]],
        destinations: Callable[[str], list[str]],
        log_state: Callable[[], Mapping[int, tuple[int, int]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.state = state
        self.events = events
        self.outbox = outbox
        self.sources = sources
        self.destinations = destinations
        self.log_state = log_state
        self.clock = clock

    def overview(self, workspace_id: str) -> dict[str, Any]:
        """The whole document for one workspace (blocking: run it in a thread)."""
        now = self.clock()
        names = self.destinations(workspace_id)
        dead = overview.dead_letter_counts(self.state, workspace_id)
        return {
            "generated_at": now.isoformat().replace("+00:00", "Z"),
            "events": overview.event_counts(
                self.events, workspace_id, self.sources(workspace_id), now
            ),
            "lag": {
                "pipeline": overview.pipeline_lag(self.log_state()),
                "deliver": overview.delivery_lag(self.state, workspace_id, now),
            },
            "destinations": overview.destination_health(
                self.outbox.counts(workspace_id, now - timedelta(days=1)),
                self.outbox.pending(workspace_id),
                dead,
                names,
            ),
            "violations": overview.violations_per_day(self.state, workspace_id, now),
            "held": {
                "count": overview.held_count(self.state, workspace_id),
                "path": "/api/v1/held",
            },
            "dead_letters": {"count": sum(dead.values()), "by_destination": dead},
        }


def router(api: OverviewAPI) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["Overview"])

    @routes.get(
        "/overview",
        summary="The console's home page: events, lag, delivery health, violations, held",
        dependencies=[Depends(needs(SOURCES_READ))],
    )
    async def show(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.overview, workspace_of(request))
        return JSONResponse(found)

    return routes

"""Destination operations beside their configuration: the catalog, delivery status, dead
letters, replays, the event tester and the authentication check — under `/api/v1`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import AUTHENTICATED, DESTINATIONS_READ, DESTINATIONS_WRITE
from seamline.api.audit import audited
from seamline.api.auth import needs, workspace_of
from seamline.destinations.definition import Destination
from seamline.destinations.instances import CompiledDestination
from seamline.destinations.registry import load, slugs
from seamline.errors import InvalidInput, NotFound
from seamline.store.outbox_sql import SqlOutbox

Replay = Callable[[str, str, datetime, datetime], Awaitable[int]]
Tester = Callable[[str, str, dict[str, Any], str | None], Awaitable[list[dict[str, Any]]]]
Checker = Callable[[str, str], Awaitable[None]]


class DestinationsAPI:
    def __init__(
        self,
        *,
        destinations: Callable[[str], dict[str, CompiledDestination]],
        outbox: SqlOutbox,
        replay: Replay,
        test: Tester,
        check_authentication: Checker,
    ) -> None:
        self.destinations = destinations
        self.outbox = outbox
        self.replay = replay
        self.test = test
        self.check_authentication = check_authentication


def router(api: DestinationsAPI) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["Destinations"])
    anyone = [Depends(needs(AUTHENTICATED))]
    reads = [Depends(needs(DESTINATIONS_READ, "name"))]
    writes = [Depends(needs(DESTINATIONS_WRITE, "name"))]

    async def instance(request: Request, name: str) -> CompiledDestination:
        found = (await asyncio.to_thread(api.destinations, workspace_of(request))).get(name)
        if found is None:
            raise NotFound(f"no enabled destination named {name!r}")
        return found

    @routes.get("/catalog", summary="Every destination Seamline can send to", dependencies=anyone)
    async def catalog() -> JSONResponse:
        return JSONResponse({"data": [_describe(load(slug)) for slug in slugs()]})

    @routes.get(
        "/catalog/{slug}",
        summary="One catalog destination: settings and actions",
        dependencies=anyone,
    )
    async def catalog_one(slug: str) -> JSONResponse:
        return JSONResponse(_describe(load(slug)))

    @routes.get(
        "/destinations/{name}/status",
        summary="Delivery counts over a time window",
        dependencies=reads,
    )
    async def status(
        request: Request, name: str, minutes: Annotated[int, Query(ge=1, le=43_200)] = 60
    ) -> JSONResponse:
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        rows = await asyncio.to_thread(api.outbox.counts, workspace_of(request), since, name)
        pending = (await asyncio.to_thread(api.outbox.pending, workspace_of(request))).get(name, 0)
        dead = await asyncio.to_thread(api.outbox.dead, workspace_of(request), name)
        return JSONResponse(
            {
                "destination": name,
                "minutes": minutes,
                "pending": pending,
                "dead_letters": len(dead),
                "counts": [
                    {"subscription": s, "outcome": o, "reason": r, "count": n}
                    for _, s, o, r, n in rows
                ],
            }
        )

    @routes.get(
        "/destinations/{name}/dead-letters",
        summary="Deliveries that failed for good",
        dependencies=reads,
    )
    async def dead_letters(request: Request, name: str) -> JSONResponse:
        found = await asyncio.to_thread(api.outbox.dead, workspace_of(request), name)
        return JSONResponse({"data": msgspec.to_builtins(found)})

    @routes.post(
        "/destinations/{name}/dead-letters/replay",
        summary="Queue dead letters again",
        dependencies=writes,
    )
    async def replay_dead(request: Request, name: str) -> JSONResponse:
        found = await asyncio.to_thread(api.outbox.dead, workspace_of(request), name)
        count = await asyncio.to_thread(api.outbox.requeue_dead, found, datetime.now(UTC))
        after = {"queued": count}
        await asyncio.to_thread(
            audited, request, "destination.replay_dead", "destination", name, after=after
        )
        return JSONResponse({"queued": count})

    @routes.post(
        "/destinations/{name}/replay", summary="Deliver stored events again", dependencies=writes
    )
    async def replay(
        request: Request,
        name: str,
        body: Annotated[
            dict[str, Any],
            Body(examples=[{"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}]),
        ],
    ) -> JSONResponse:
        await instance(request, name)
        start, end = _time(body, "from"), _time(body, "to")
        if end <= start:
            raise InvalidInput("`to` must be after `from`")
        count = await api.replay(workspace_of(request), name, start, end)
        after = {"from": start.isoformat(), "to": end.isoformat(), "queued": count}
        await asyncio.to_thread(
            audited, request, "destination.replay", "destination", name, after=after
        )
        return JSONResponse({"queued": count})

    @routes.post(
        "/destinations/{name}/test",
        summary="Send one event and show the exchange",
        dependencies=writes,
    )
    async def test(
        request: Request,
        name: str,
        body: Annotated[dict[str, Any], Body(examples=[{"event": {"type": "track"}}])],
    ) -> JSONResponse:
        await instance(request, name)
        event = body.get("event")
        if not isinstance(event, dict):
            raise InvalidInput('send {"event": {...a Segment message...}}')
        subscription = body.get("subscription")
        results = await api.test(workspace_of(request), name, event, subscription)
        return JSONResponse({"data": results})

    @routes.post(
        "/destinations/{name}/authentication",
        summary="Check the credentials",
        dependencies=writes,
    )
    async def authentication(request: Request, name: str) -> JSONResponse:
        await instance(request, name)
        await api.check_authentication(workspace_of(request), name)
        return JSONResponse({"ok": True})

    return routes


def _time(body: dict[str, Any], key: str) -> datetime:
    value = body.get(key)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        # The value as the caller wrote it in JSON (`null`, `true`), not as Python prints it.
        written = msgspec.json.encode(value).decode()
        raise InvalidInput(f"`{key}` must be an ISO 8601 time, got {written}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _describe(definition: Destination) -> dict[str, Any]:
    def field(spec: Any) -> dict[str, Any]:
        described: dict[str, Any] = {
            "label": spec.label,
            "description": spec.description,
            "type": spec.type,
            "required": spec.required,
            "multiple": spec.multiple,
            "default": spec.default,
        }
        if spec.choices:
            described["choices"] = list(spec.choices)
        return described

    return {
        "slug": definition.slug,
        "name": definition.name,
        "description": definition.description,
        "settings": {
            name: {
                "label": s.label,
                "description": s.description,
                "type": s.type,
                "required": s.required,
                "secret": s.secret,
                "default": s.default,
            }
            for name, s in definition.settings.items()
        },
        "actions": {
            key: {
                "title": a.title,
                "description": a.description,
                "default_trigger": a.default_trigger,
                "batch": a.max_batch if a.perform_batch is not None else 1,
                "fields": {name: field(f) for name, f in a.fields.items()},
            }
            for key, a in definition.actions.items()
        },
        "presets": [
            {"name": p.name, "action": p.action, "trigger": p.trigger} for p in definition.presets
        ],
    }

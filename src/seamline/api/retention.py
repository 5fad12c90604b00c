"""The workspace's retention over HTTP: `GET /api/v1/retention` shows the setting, the choices
and the expiry's last run; `PUT /api/v1/retention` with `{"retention": "90d"}` sets it (400
`invalid_retention` listing the choices for anything else, and nothing changes)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import PRIVACY_READ, PRIVACY_WRITE
from seamline.api.audit import audited_change
from seamline.api.auth import needs, workspace_of
from seamline.privacy.retention import PERIODS, InvalidRetention, parse_retention
from seamline.store.retention_sql import SqlRetention

PATH = "/api/v1/retention"


def router(store: SqlRetention) -> APIRouter:
    routes = APIRouter(tags=["Privacy API"])

    @routes.get(
        PATH,
        summary="The workspace's retention of the log and the event store",
        dependencies=[Depends(needs(PRIVACY_READ))],
    )
    async def show(request: Request) -> JSONResponse:
        setting = await asyncio.to_thread(store.setting, workspace_of(request))
        last = await asyncio.to_thread(store.last_run)
        return JSONResponse(
            {
                "retention": setting,
                "choices": list(PERIODS),
                "lastRun": None if last is None else last.as_json(),
            }
        )

    @routes.put(
        PATH,
        summary="Set the workspace's retention (30d, 90d, 180d, 365d, 3y or unlimited)",
        dependencies=[Depends(needs(PRIVACY_WRITE))],
    )
    async def put(request: Request, body: Annotated[Any, Body()] = None) -> JSONResponse:
        value = body.get("retention") if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise InvalidRetention(
                'send {"retention": VALUE}, VALUE one of ' + ", ".join(PERIODS),
                details={"choices": list(PERIODS)},
            )
        setting = parse_retention(value)
        workspace_id = workspace_of(request)
        before = await asyncio.to_thread(store.setting, workspace_id)
        await asyncio.to_thread(store.set, workspace_id, setting)
        await asyncio.to_thread(
            audited_change,
            request,
            "retention",
            workspace_id,
            {"retention": before},
            {"retention": setting},
        )
        return JSONResponse({"retention": setting})

    return routes

"""Reverse ETL runs under `/api/v1/models`: run a model now, and its run history. The models
themselves are workspace resources (`GET/PUT/DELETE /api/v1/models/{name}`, api/workspace.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import DESTINATIONS_READ, DESTINATIONS_WRITE
from seamline.api.audit import audited
from seamline.api.auth import needs, workspace_of
from seamline.errors import NotFound
from seamline.reverse_etl.runner import MANUAL, ModelRunner


def router(runner: ModelRunner) -> APIRouter:
    routes = APIRouter(prefix="/api/v1/models", tags=["Reverse ETL"])

    @routes.post(
        "/{name}/run",
        summary="Run a model now: diff its rows and queue the changes",
        dependencies=[Depends(needs(DESTINATIONS_WRITE, "name"))],
    )
    async def run(request: Request, name: str) -> JSONResponse:
        # A run reads the whole result and may take minutes: the answer is the finished run.
        found = await asyncio.to_thread(runner.run, workspace_of(request), name, MANUAL)
        shown = found.as_json()
        await asyncio.to_thread(audited, request, "model.run", "model", name, after=shown)
        return JSONResponse(shown)

    @routes.get(
        "/{name}/runs",
        summary="A model's runs, newest first: status, counts, error",
        dependencies=[Depends(needs(DESTINATIONS_READ, "name"))],
    )
    async def runs(
        request: Request, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> JSONResponse:
        workspace_id = workspace_of(request)
        model = await asyncio.to_thread(runner.resources.get, workspace_id, "model", name)
        found = await asyncio.to_thread(runner.state.runs, workspace_id, name, limit)
        if model is None and not found:
            raise NotFound(f"no model named {name!r}")
        return JSONResponse({"data": [r.as_json() for r in found]})

    return routes

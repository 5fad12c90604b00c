"""Management API for Engage: audiences and computed traits (create with a backfill, estimate,
list, members, compute). They are workspace resources too, so `/api/v1/resources` and
`seamline apply` manage them as well."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import ENGAGE_READ, ENGAGE_WRITE
from seamline.access.sealing import Sealer
from seamline.api.audit import saved
from seamline.api.auth import needs, workspace_of
from seamline.errors import InvalidInput
from seamline.ops.engage import EngageOps
from seamline.workspace.resources import ResourceStore
from seamline.workspace.saving import prepare

PATHS = {"audiences": "audience", "computed-traits": "computed_trait"}


def router(
    ops: EngageOps,
    resources: ResourceStore,
    sealer: Sealer,
    changed: Callable[[str], None],
) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["Engage"])

    @routes.post(
        "/predictions",
        summary="Train a prediction and write its scores as a trait",
        dependencies=[Depends(needs(ENGAGE_WRITE))],
    )
    async def predict(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        found = await asyncio.to_thread(ops.predict, workspace_of(request), body)
        return JSONResponse(found)

    for collection, kind in PATHS.items():
        _collection(routes, ops, resources, sealer, changed, collection, kind)

    @routes.get(
        "/audiences/{key}/members",
        summary="Profiles in an audience, by id",
        dependencies=[Depends(needs(ENGAGE_READ, "key"))],
    )
    async def members(
        request: Request,
        key: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: Annotated[str, Query(description="`next` of the previous page")] = "",
    ) -> JSONResponse:
        found = await asyncio.to_thread(ops.members, workspace_of(request), key, limit, after)
        return JSONResponse(found)

    return routes


def _collection(
    routes: APIRouter,
    ops: EngageOps,
    resources: ResourceStore,
    sealer: Sealer,
    changed: Callable[[str], None],
    collection: str,
    kind: str,
) -> None:
    """The routes of one collection, on fixed paths (a path parameter here would also catch
    the workspace router's `/api/v1/held`, `/api/v1/violations` …)."""

    @routes.post(
        f"/{collection}/estimate",
        summary=f"Size and sample of a {kind}, unsaved",
        dependencies=[Depends(needs(ENGAGE_READ))],
    )
    async def estimate(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        key, definition = _key_and_definition(body)
        found = await asyncio.to_thread(ops.estimate, workspace_of(request), kind, key, definition)
        return JSONResponse(found)

    @routes.post(
        f"/{collection}",
        summary=f"Create or replace a {kind} and backfill it",
        dependencies=[Depends(needs(ENGAGE_WRITE))],
    )
    async def create(request: Request, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        workspace_id = workspace_of(request)
        key, definition = _key_and_definition(body)
        await asyncio.to_thread(ops.with_definition, workspace_id, kind, key, definition)
        canonical = await asyncio.to_thread(
            prepare, workspace_id, kind, key, definition, resources, sealer
        )
        stored = await saved(request, resources, workspace_id, kind, key, canonical)
        changed(workspace_id)
        computed = await asyncio.to_thread(ops.compute, workspace_id, key)
        return JSONResponse({**computed, "version": stored.version}, status_code=201)

    @routes.get(
        f"/{collection}",
        summary=f"Every {kind} with its current size",
        dependencies=[Depends(needs(ENGAGE_READ))],
    )
    async def listing(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(ops.summary, workspace_of(request), kind)
        return JSONResponse({"data": found})

    @routes.post(
        f"/{collection}/{{key}}/compute",
        summary="Recompute over all history now",
        dependencies=[Depends(needs(ENGAGE_WRITE, "key"))],
    )
    async def compute(request: Request, key: str) -> JSONResponse:
        found = await asyncio.to_thread(ops.compute, workspace_of(request), key)
        return JSONResponse(found)


def _key_and_definition(body: dict[str, Any]) -> tuple[str, Any]:
    key, definition = body.get("key"), body.get("definition")
    if not isinstance(key, str) or not isinstance(definition, dict):
        raise InvalidInput('send {"key": "...", "definition": {...}}')
    return key, definition

"""The Privacy API: Segment's regulation routes (create, list, get), workspace- or source-scoped.

Answers keep Segment's envelopes: `{"data": {"regulateId": …}}` on create,
`{"data": {"regulation": …}}` and `{"data": {"regulations": […]}}` on reads.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import REGULATIONS_READ, REGULATIONS_WRITE
from seamline.access.principal import Principal
from seamline.api.audit import audited
from seamline.api.auth import needs, workspace_of
from seamline.ops.regulations import RegulationOps
from seamline.privacy.regulations import Regulation, audit_document

PREFIX = "/api/v1/regulations"


def router(ops: RegulationOps) -> APIRouter:
    routes = APIRouter(prefix=PREFIX, tags=["Privacy API"])

    async def create(request: Request, body: Any, source: str | None) -> JSONResponse:
        principal: Principal = request.state.principal
        regulation = await asyncio.to_thread(
            ops.create,
            workspace_of(request),
            body,
            source_id=source,
            actor=f"{principal.kind}:{principal.name}",
        )
        await asyncio.to_thread(
            audited,
            request,
            "regulation.create",
            "regulation",
            regulation.id,
            after=audit_document(regulation),
        )
        return JSONResponse(
            {"data": {"regulateId": regulation.id, "regulation": regulation.to_segment()}}
        )

    @routes.post(
        "",
        summary="Create a workspace regulation (suppress, unsuppress or delete a person)",
        dependencies=[Depends(needs(REGULATIONS_WRITE))],
    )
    async def create_workspace(
        request: Request, body: Annotated[Any, Body()] = None
    ) -> JSONResponse:
        return await create(request, body, None)

    @routes.post(
        "/sources/{source}",
        summary="Create a regulation for one source",
        dependencies=[Depends(needs(REGULATIONS_WRITE))],
    )
    async def create_for_source(
        request: Request, source: str, body: Annotated[Any, Body()] = None
    ) -> JSONResponse:
        return await create(request, body, source)

    @routes.get(
        "",
        summary="List the workspace's regulations, newest first",
        dependencies=[Depends(needs(REGULATIONS_READ))],
    )
    async def listing(
        request: Request,
        status: str | None = None,
        regulation_types: Annotated[list[str] | None, Query(alias="regulationTypes")] = None,
        count: int = 100,
    ) -> JSONResponse:
        found = await asyncio.to_thread(
            ops.list, workspace_of(request), status=status, types=regulation_types, count=count
        )
        return _listed(found)

    @routes.get(
        "/sources/{source}",
        summary="List one source's regulations, newest first",
        dependencies=[Depends(needs(REGULATIONS_READ))],
    )
    async def source_listing(
        request: Request,
        source: str,
        status: str | None = None,
        regulation_types: Annotated[list[str] | None, Query(alias="regulationTypes")] = None,
        count: int = 100,
    ) -> JSONResponse:
        workspace = workspace_of(request)
        source_id = ops.source_id(workspace, source)
        found = await asyncio.to_thread(
            ops.list,
            workspace,
            source_id=source_id,
            status=status,
            types=regulation_types,
            count=count,
        )
        return _listed(found)

    @routes.get(
        "/{regulation_id}",
        summary="One regulation, with its status per store and per destination",
        dependencies=[Depends(needs(REGULATIONS_READ))],
    )
    async def one(request: Request, regulation_id: str) -> JSONResponse:
        found = await asyncio.to_thread(ops.get, workspace_of(request), regulation_id)
        return JSONResponse({"data": {"regulation": found.to_segment()}})

    return routes


def _listed(found: list[Regulation]) -> JSONResponse:
    return JSONResponse(
        {
            "data": {
                "regulations": [r.to_segment() for r in found],
                "pagination": {"current": "0", "totalEntries": len(found)},
            }
        }
    )

"""Sources over HTTP (`/api/v1/sources`): list, read, create, rename, disable or enable,
rotate the write key, and the schema each one sent (`ops/sources.py` and
`ops/source_schema.py` hold the logic the CLI shares).

A path names a source by id or by name. Reading needs `sources:read`, changing
`sources:write`, on that source: a grant scoped to some sources reaches only those (lists show
only them), and creating a source needs an unscoped grant. The write key shows to whoever may
change the source and is masked for the rest. Changes are recorded in the audit trail, never
with a write key.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import SOURCES_READ, SOURCES_WRITE, allows
from seamline.access.principal import Principal
from seamline.api.audit import audited
from seamline.api.auth import current_principal, needs, workspace_of
from seamline.api.body_fields import read_body
from seamline.collect.sources import Source
from seamline.errors import Forbidden
from seamline.ops.source_schema import MAX_DAYS, source_schema
from seamline.ops.source_schema import Query as SchemaQuery
from seamline.ops.sources import SourceOps, source_document, source_view

PREFIX = "/api/v1/sources"


def find_source(ops: SourceOps, request: Request, source: str, permission: str) -> Source:
    """The caller's source named `source` (an id or a name); Forbidden when the caller's grants
    do not give `permission` on it (NotFound from `ops.find` when there is none)."""
    principal = current_principal(request)
    found = ops.find(principal.workspace_id, source)
    if not allows(principal, permission, found.id):
        raise Forbidden(
            f"{principal.kind} {principal.name!r} may not {permission} on source "
            f"{found.name!r}: its grants do not reach it",
            details={"permission": permission, "resource": found.id},
        )
    return found


def router(ops: SourceOps, events: SchemaQuery) -> APIRouter:
    """The routes over `ops`; `events` runs the schema query over the event store."""
    routes = APIRouter(prefix=PREFIX, tags=["Sources"])

    def find(request: Request, source: str, permission: str) -> Source:
        return find_source(ops, request, source, permission)

    @routes.get(
        "",
        summary="The sources the caller may read; write keys shown to who may change them",
        dependencies=[Depends(needs(SOURCES_READ, listing=True))],
    )
    async def listing(request: Request) -> JSONResponse:
        principal = current_principal(request)
        found = await asyncio.to_thread(ops.store.list, principal.workspace_id)
        return JSONResponse(
            {"data": [_view(principal, s) for s in found if allows(principal, SOURCES_READ, s.id)]}
        )

    @routes.post(
        "",
        summary="Create a source; the answer shows its write key",
        status_code=201,
        dependencies=[Depends(needs(SOURCES_WRITE))],
    )
    async def create(
        request: Request,
        body: Annotated[Any, Body(examples=[{"name": "Website"}])] = None,
    ) -> JSONResponse:
        given = read_body(body, {"name": str}, required=("name",))
        made = await asyncio.to_thread(ops.create, workspace_of(request), given["name"])
        await asyncio.to_thread(
            audited, request, "source.create", "source", made.id, after=source_document(made)
        )
        return JSONResponse({"data": source_view(made, show_key=True)}, status_code=201)

    @routes.get(
        "/{source}",
        summary="One source, by id or name",
        dependencies=[Depends(needs(SOURCES_READ, listing=True))],
    )
    async def one(request: Request, source: str) -> JSONResponse:
        found = await asyncio.to_thread(find, request, source, SOURCES_READ)
        return JSONResponse({"data": _view(current_principal(request), found)})

    @routes.patch(
        "/{source}",
        summary="Rename a source, or disable or enable it (a disabled source's key gets 401)",
        dependencies=[Depends(needs(SOURCES_WRITE, listing=True))],
    )
    async def change(
        request: Request,
        source: str,
        body: Annotated[Any, Body(examples=[{"name": "Web", "enabled": False}])] = None,
    ) -> JSONResponse:
        given = read_body(body, {"name": str, "enabled": bool})

        def work() -> Source:
            before = find(request, source, SOURCES_WRITE)
            after = ops.change(before, name=given.get("name"), enabled=given.get("enabled"))
            if after != before:
                audited(
                    request,
                    "source.update",
                    "source",
                    after.id,
                    before=source_document(before),
                    after=source_document(after),
                )
            return after

        changed = await asyncio.to_thread(work)
        return JSONResponse({"data": source_view(changed, show_key=True)})

    @routes.post(
        "/{source}/rotate-write-key",
        summary="A new write key for a source; the old one stops working",
        dependencies=[Depends(needs(SOURCES_WRITE, listing=True))],
    )
    async def rotate(request: Request, source: str) -> JSONResponse:
        def work() -> Source:
            rotated = ops.rotate(find(request, source, SOURCES_WRITE))
            after = {**source_document(rotated), "write_key": "rotated"}
            audited(request, "source.rotate_write_key", "source", rotated.id, after=after)
            return rotated

        rotated = await asyncio.to_thread(work)
        return JSONResponse({"data": source_view(rotated, show_key=True)})

    @routes.get(
        "/{source}/schema",
        summary="The events, properties and traits a source sent over the last days",
        dependencies=[Depends(needs(SOURCES_READ, listing=True))],
    )
    async def schema(
        request: Request,
        source: str,
        days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="1 to 90")] = 7,
    ) -> JSONResponse:
        def work() -> dict[str, Any]:
            found = find(request, source, SOURCES_READ)
            answer = source_schema(events, found.workspace_id, found.id, days)
            return {"source_id": found.id, **answer}

        return JSONResponse({"data": await asyncio.to_thread(work)})

    return routes


def _view(principal: Principal, source: Source) -> dict[str, Any]:
    return source_view(source, show_key=allows(principal, SOURCES_WRITE, source.id))

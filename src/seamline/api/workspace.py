"""The management API for workspace configuration and data quality, under `/api/v1`.

Resources (tracking plans, source connections, transformations, functions, PII matchers and
controls, consent categories) share one shape: `PUT /api/v1/{kind}/{name}` creates or replaces
(idempotent), `GET` reads, `DELETE` removes, `GET …/versions` lists the history. Violations,
held messages (with re-run) and the data inventory are read here too. Auth: an access token
as a Bearer token or as the Basic auth user name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import (
    AUTHENTICATED,
    INVENTORY_READ,
    KIND_PERMISSIONS,
    SOURCES_WRITE,
    VIOLATIONS_READ,
    allows,
)
from seamline.access.principal import Principal
from seamline.access.sealing import Sealer
from seamline.access.tokens import TokenStore
from seamline.api.audit import audited, deleted, saved
from seamline.api.auth import needs, workspace_of
from seamline.api.pii_view import PiiView
from seamline.api.test_runs import add_test_runs
from seamline.errors import InvalidInput, NotFound
from seamline.privacy.inventory import Inventory
from seamline.protocols.records import HeldMessage
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.workspace.kinds import KINDS
from seamline.workspace.resources import Resource, ResourceStore
from seamline.workspace.saving import prepare, shown

PREFIX = "/api/v1"
PATHS = {
    kind: kind.replace("_", "-")[:-1] + "ies"
    if kind.endswith("y")
    else kind.replace("_", "-") + "s"
    for kind in KINDS
}
"""URL segment of each kind: `tracking_plan` → `tracking-plans`."""

Rerun = Callable[[list[HeldMessage]], Awaitable[int]]


class WorkspaceAPI:
    def __init__(
        self,
        *,
        resources: ResourceStore,
        protocols: SqlProtocolsStore,
        inventory: Inventory,
        tokens: TokenStore,
        changed: Callable[[str], None],
        rerun: Rerun,
        sealer: Sealer,
        allow_private: Sequence[str] = (),
        pii: PiiView | None = None,
    ) -> None:
        self.pii = pii or PiiView()  # masks PII in samples for callers without PII access
        self.sealer = sealer
        self.allow_private = tuple(allow_private)  # private ranges destination URLs may name
        self.resources = resources
        self.protocols = protocols
        self.inventory = inventory
        self.tokens = tokens
        self.changed = changed
        self.rerun = rerun


def router(api: WorkspaceAPI) -> APIRouter:
    routes = APIRouter(prefix=PREFIX, tags=["Management API"])

    @routes.get(
        "/resources",
        summary="Every configuration resource of the workspace (that the caller may read)",
        dependencies=[Depends(needs(AUTHENTICATED))],
    )
    async def all_resources(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.resources.list, workspace_of(request))
        principal: Principal = request.state.principal
        return JSONResponse({"data": [_resource(r) for r in found if _readable(principal, r)]})

    for kind, segment in PATHS.items():
        _resource_routes(routes, api, kind, segment)

    @routes.get(
        "/violations",
        summary="Recorded violations, newest first",
        dependencies=[Depends(needs(VIOLATIONS_READ, "source"))],
    )
    async def violations(
        request: Request,
        source: str | None = None,
        event: str | None = None,
        rule: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: int | None = None,
    ) -> JSONResponse:
        found = await asyncio.to_thread(
            api.protocols.violations,
            workspace_of(request),
            source_id=source,
            event_name=event,
            rule=rule,
            limit=limit,
            before_id=before,
        )
        data = [{"id": row_id, **msgspec.to_builtins(v)} for row_id, v in found]
        masker = api.pii.masker(request)
        if masker is not None:
            for shown in data:
                shown["actual"] = masker.violation(shown["path"], shown["actual"])
        next_before = found[-1][0] if len(found) == limit else None
        return JSONResponse({"data": data, "next_before": next_before})

    @routes.get(
        "/violations/summary",
        summary="Violation counts per source, event and rule",
        dependencies=[Depends(needs(VIOLATIONS_READ, "source"))],
    )
    async def violation_summary(request: Request, source: str | None = None) -> JSONResponse:
        counts = await asyncio.to_thread(
            api.protocols.violation_counts, workspace_of(request), source_id=source
        )
        return JSONResponse({"data": msgspec.to_builtins(counts)})

    @routes.get(
        "/held",
        summary="Held messages: blocked, quarantined, dropped or failed",
        dependencies=[Depends(needs(VIOLATIONS_READ, "source"))],
    )
    async def held(
        request: Request,
        source: str | None = None,
        include_rerun: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JSONResponse:
        found = await asyncio.to_thread(
            api.protocols.held,
            workspace_of(request),
            source_id=source,
            pending_only=not include_rerun,
            limit=limit,
        )
        data = [_held(h) for h in found]
        masker = api.pii.masker(request)
        if masker is not None:
            for shown in data:
                shown["reason"] = masker.reason(shown["reason"])
                if isinstance(shown["message"], dict):
                    _mask_raw_request(shown["message"])
                    masker.message(shown["message"])
                else:  # kept as text (not JSON values): nothing can be masked field by field
                    shown["message"] = "[masked]"
        return JSONResponse({"data": data})

    @routes.post(
        "/held/rerun",
        summary="Run held messages through the pipeline again",
        dependencies=[Depends(needs(SOURCES_WRITE))],
    )
    async def rerun(
        request: Request,
        body: Annotated[dict[str, Any], Body(examples=[{"source": "src_1"}, {"ids": [1, 2]}])],
    ) -> JSONResponse:
        ids = body.get("ids")
        if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
            raise InvalidInput("ids must be a list of held message ids")
        found = await asyncio.to_thread(
            api.protocols.held,
            workspace_of(request),
            source_id=body.get("source"),
            ids=ids,
            limit=100_000,
        )
        count = await api.rerun(found)
        after = {"source": body.get("source"), "ids": ids, "rerun": count}
        where = str(body.get("source") or "*")
        await asyncio.to_thread(audited, request, "held.rerun", "held", where, after=after)
        return JSONResponse({"rerun": count})

    @routes.get(
        "/inventory",
        summary="Every field seen per source, with its classification",
        dependencies=[Depends(needs(INVENTORY_READ, "source"))],
    )
    async def inventory(request: Request, source: str | None = None) -> JSONResponse:
        found = await asyncio.to_thread(api.inventory.entries, workspace_of(request), source)
        data = [
            {k: v for k, v in msgspec.to_builtins(e).items() if k != "last_offset"} for e in found
        ]
        return JSONResponse({"data": data})

    add_test_runs(routes, api)
    return routes


def _resource_routes(routes: APIRouter, api: WorkspaceAPI, kind: str, segment: str) -> None:
    label = kind.replace("_", " ")

    async def list_kind(
        request: Request,
    ) -> JSONResponse:
        found = await asyncio.to_thread(api.resources.list, workspace_of(request), kind)
        principal: Principal = request.state.principal
        return JSONResponse({"data": [_resource(r) for r in found if _readable(principal, r)]})

    async def get_one(name: str, request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.resources.get, workspace_of(request), kind, name)
        if found is None:
            raise NotFound(f"no {label} named {name!r}")
        return JSONResponse(_resource(found))

    async def put_one(
        name: str,
        request: Request,
        document: Annotated[dict[str, Any], Body()],
        dry_run: Annotated[
            bool,
            Query(description="Only check: answer the canonical document, store nothing"),
        ] = False,
    ) -> JSONResponse:
        workspace_id = workspace_of(request)
        canonical = await asyncio.to_thread(
            prepare,
            workspace_id,
            kind,
            name,
            document,
            api.resources,
            api.sealer,
            allow_private=api.allow_private,
        )
        if dry_run:  # the console checks an edit as it is typed, with the errors a save gives
            return JSONResponse(
                {"kind": kind, "name": name, "document": shown(kind, canonical), "dry_run": True}
            )
        stored = await saved(request, api.resources, workspace_id, kind, name, canonical)
        api.changed(workspace_of(request))
        return JSONResponse(_resource(stored))

    async def delete_one(name: str, request: Request) -> JSONResponse:
        gone = await deleted(request, api.resources, workspace_of(request), kind, name)
        if not gone:
            raise NotFound(f"no {label} named {name!r}")
        api.changed(workspace_of(request))
        return JSONResponse({"deleted": name})

    async def versions(name: str, request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.resources.versions, workspace_of(request), kind, name)
        if not found:
            raise NotFound(f"no {label} named {name!r}")
        data = [{**msgspec.to_builtins(v), "document": shown(kind, v.document)} for v in found]
        return JSONResponse({"data": data})

    path = f"/{segment}"
    read, write = KIND_PERMISSIONS[kind]
    # A grant scoped to listed resources reaches the ones named so.
    reads = [Depends(needs(read, "name"))]
    writes = [Depends(needs(write, "name"))]
    routes.add_api_route(
        path,
        list_kind,
        methods=["GET"],
        summary=f"List {label}s",
        dependencies=[Depends(needs(read, listing=True))],
    )
    routes.add_api_route(
        path + "/{name}", get_one, methods=["GET"], summary=f"Get a {label}", dependencies=reads
    )
    routes.add_api_route(
        path + "/{name}",
        put_one,
        methods=["PUT"],
        summary=f"Create or replace a {label}",
        dependencies=writes,
    )
    routes.add_api_route(
        path + "/{name}",
        delete_one,
        methods=["DELETE"],
        summary=f"Delete a {label}",
        dependencies=writes,
    )
    routes.add_api_route(
        path + "/{name}/versions",
        versions,
        methods=["GET"],
        summary=f"A {label}'s history",
        dependencies=reads,
    )


def _readable(principal: Principal, resource: Resource) -> bool:
    read, _ = KIND_PERMISSIONS[resource.kind]
    return allows(principal, read, resource.name)


def _resource(resource: Resource) -> dict[str, Any]:
    plain = msgspec.to_builtins(resource)
    assert isinstance(plain, dict)
    plain["document"] = shown(resource.kind, resource.document)
    return plain


def _mask_raw_request(message: dict[str, Any]) -> None:
    """A held webhook request keeps its body as the tool sent it: text, in which no field can
    be told apart (a Stripe customer's email sits in it), so without PII access the body and
    the query's values are masked whole."""
    properties = message.get("properties")
    if message.get("type") != "webhook" or not isinstance(properties, dict):
        return
    if properties.get("body"):
        properties["body"] = "[masked]"
    if isinstance(properties.get("query"), dict):
        properties["query"] = {name: "[masked]" for name in properties["query"]}


def _held(held: HeldMessage) -> dict[str, Any]:
    plain = msgspec.to_builtins(held)
    assert isinstance(plain, dict)
    try:
        plain["message"] = msgspec.json.decode(held.message)
    except msgspec.ValidationError:
        # A message held because no store could take a value (e.g. 1e999) can't be shown as
        # JSON values either: it is shown as the text it arrived as.
        plain["message"] = held.message
    return plain

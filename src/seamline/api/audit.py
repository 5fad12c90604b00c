"""The audit trail over HTTP: reading it (`GET /api/v1/audit-trail`, owners only) and recording
what a request did in its principal's name (`audited`, `audited_change`).

Listing is newest first, `limit` entries (at most 1,000) a page with `next` as the cursor of
the next one; `?format=csv` or `Accept: text/csv` exports every matching entry as CSV instead.
Filters: actor (id or name), action, resource_type, resource_id, since (inclusive) and until
(exclusive), times in ISO 8601. A bad filter answers 400 `invalid_input` naming the parameter.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.responses import Response

from seamline.access.audit import (
    AuditEntry,
    AuditFilter,
    AuditTrail,
    Origin,
    parse_filter,
    record,
    record_change,
)
from seamline.access.permissions import AUDIT_READ
from seamline.api.auth import current_principal, needs
from seamline.collect.client_ip import ClientAddress
from seamline.errors import InvalidInput
from seamline.workspace.resources import Resource, ResourceStore

MAX_LIMIT = 1000
CSV_COLUMNS = (
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "resource_type",
    "resource_id",
    "before",
    "after",
    "ip",
    "request_id",
)


class AuditHttp:
    """What recording needs from the app: the trail and how client addresses are read."""

    def __init__(self, trail: AuditTrail, client_address: ClientAddress) -> None:
        self.trail = trail
        self.client_address = client_address


def install(app: FastAPI, trail: AuditTrail, client_address: ClientAddress) -> None:
    """Let the app's routes record (`audited`) into `trail`."""
    app.state.audit = AuditHttp(trail, client_address)


def origin_of(request: Request) -> Origin:
    """The client's address (behind trusted proxies, the one they forwarded) and the
    request's `X-Request-Id` when the client or a proxy sent one."""
    audit: AuditHttp = request.app.state.audit
    peer = request.client.host if request.client is not None else None
    return Origin(
        ip=audit.client_address.of(peer, request.headers.get("x-forwarded-for")),
        request_id=request.headers.get("x-request-id"),
    )


def audited(
    request: Request,
    action: str,
    resource_type: str,
    resource_id: str,
    *,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Record `action` in the name of the request's principal (blocking: call it in a
    thread from async code)."""
    audit: AuditHttp = request.app.state.audit
    return record(
        audit.trail,
        current_principal(request),
        action,
        resource_type,
        resource_id,
        before=before,
        after=after,
        origin=origin_of(request),
    )


def audited_change(
    request: Request, resource_type: str, resource_id: str, before: Any, after: Any
) -> AuditEntry | None:
    """Record `resource.create|update|delete` unless nothing changed (blocking)."""
    audit: AuditHttp = request.app.state.audit
    return record_change(
        audit.trail,
        current_principal(request),
        resource_type,
        resource_id,
        before,
        after,
        origin=origin_of(request),
    )


def profile_read(resolve: Callable[[str, str], str | None]) -> Callable[[Request], None]:
    """A Profile API dependency, after its permission check: one `profile.read` entry per
    request, naming the canonical profile id the identifier resolves to (`resolve(space,
    identifier)`; `unknown` when nobody has it), never the identifier itself: an email or a
    user id would outlive the person's deletion in this append-only trail. A search records
    which parameters it used, not their values; account reads name the account (group) id."""

    def recorded(request: Request) -> None:
        asked = request.path_params.get("identifier")
        if "/collections/accounts/" in request.url.path:
            audited(request, "profile.read", "account", str(asked))
        elif asked is None:
            by = sorted(request.query_params.keys())
            audited(request, "profile.read", "profile", "search", after={"by": by})
        else:
            found = resolve(request.path_params.get("space_id", ""), asked)
            after = None if found is not None else {"found": False}
            audited(request, "profile.read", "profile", found or "unknown", after=after)

    return recorded


async def saved(
    request: Request,
    resources: ResourceStore,
    workspace_id: str,
    kind: str,
    name: str,
    document: dict[str, Any],
) -> Resource:
    """Store a workspace resource and record the change (none for an identical document)."""

    def work() -> Resource:
        before = resources.get(workspace_id, kind, name)
        stored = resources.put(workspace_id, kind, name, document)
        audited_change(request, kind, name, before and before.document, stored.document)
        return stored

    return await asyncio.to_thread(work)


async def deleted(
    request: Request, resources: ResourceStore, workspace_id: str, kind: str, name: str
) -> bool:
    """Delete a workspace resource and record it; False when there was none."""

    def work() -> bool:
        before = resources.get(workspace_id, kind, name)
        gone = resources.delete(workspace_id, kind, name)
        if gone:
            audited_change(request, kind, name, before and before.document, None)
        return gone

    return await asyncio.to_thread(work)


def router(trail: AuditTrail) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["Audit trail"])

    @routes.get(
        "/audit-trail",
        summary="Who changed or read what: the audit trail, newest first (owners only)",
        dependencies=[Depends(needs(AUDIT_READ))],
    )
    async def audit_trail(
        request: Request,
        actor: Annotated[str | None, Query(description="An actor's id or name")] = None,
        action: Annotated[str | None, Query(description="e.g. resource.update")] = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        since: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
        until: Annotated[str | None, Query(description="ISO 8601, exclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        cursor: Annotated[str | None, Query(description="`next` of the previous page")] = None,
        format: Annotated[str | None, Query(description="json (default) or csv")] = None,
    ) -> Response:
        where = parse_filter(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=since,
            until=until,
        )
        before = _cursor(cursor)
        workspace_id = current_principal(request).workspace_id
        if _wants_csv(format, request.headers.get("accept")):
            return StreamingResponse(
                csv_lines(trail, workspace_id, where, before),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": 'attachment; filename="audit-trail.csv"'},
            )
        found = await asyncio.to_thread(
            trail.entries, workspace_id, where, limit=limit, before_seq=before
        )
        following = str(found[-1].seq) if len(found) == limit and found[-1].seq > 1 else None
        return JSONResponse({"data": msgspec.to_builtins(found), "next": following})

    return routes


def _cursor(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(
            "cursor must be the `next` value of a previous page", details={"parameter": "cursor"}
        )
    return int(text)


def _wants_csv(format: str | None, accept: str | None) -> bool:
    if format is not None:
        if format not in ("json", "csv"):
            raise InvalidInput("format must be json or csv", details={"parameter": "format"})
        return format == "csv"
    return accept is not None and "text/csv" in accept


def csv_lines(
    trail: AuditTrail,
    workspace_id: str,
    where: AuditFilter,
    before: int | None,
    page_size: int = MAX_LIMIT,
) -> Iterator[str]:
    """Every matching entry as CSV lines, read a page at a time (Starlette iterates this
    generator in a thread, so the blocking reads stay off the event loop)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    while True:
        page = trail.entries(workspace_id, where, limit=page_size, before_seq=before)
        for entry in page:
            writer.writerow(_csv_row(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < page_size:
            return
        before = page[-1].seq


def _csv_row(entry: AuditEntry) -> list[str]:
    def json_text(value: Any) -> str:
        return "" if value is None else msgspec.json.encode(value, order="sorted").decode()

    cells = [
        str(entry.seq),
        entry.at.isoformat(),
        entry.actor.kind,
        entry.actor.id,
        entry.actor.name,
        entry.action,
        entry.resource.type,
        entry.resource.id,
        json_text(entry.before),
        json_text(entry.after),
        entry.origin.ip or "",
        entry.origin.request_id or "",
    ]
    # A cell a spreadsheet would run as a formula (a resource named "=HYPERLINK(…)") is
    # quoted, as OWASP advises for CSV exports.
    return ["'" + cell if cell[:1] in ("=", "+", "-", "@") else cell for cell in cells]

"""Identity rules over HTTP (docs/identity.md, Identity rules): read them with any role that
reads profiles; save, preview and apply with `identity:write`.

- `GET /api/v1/identity/rules`: the version in force, every version, the defaults.
- `PUT /api/v1/identity/rules` `{"document": {...}}`: 201, a new draft (400
  `invalid_identity_rules` naming the place, and nothing is saved).
- `GET /api/v1/identity/rules/{version}`: one version, its progress while applying, its error.
- `POST /api/v1/identity/rules/{version}/preview`: what it would merge and split (on a copy).
- `POST /api/v1/identity/rules/{version}/apply`: 202; history is re-resolved under it in the
  background, then it becomes active (409 `conflict` while another version applies).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import IDENTITY_WRITE, PROFILES_READ
from seamline.api.audit import audited
from seamline.api.auth import current_principal, needs, workspace_of
from seamline.identity.rules_document import InvalidIdentityRules
from seamline.ops.identity_rules import IdentityRulesOps

PATH = "/api/v1/identity/rules"
RESOURCE = "identity_rules"

logger = logging.getLogger(__name__)

Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="The rules version")]


def router(ops: IdentityRulesOps) -> APIRouter:
    routes = APIRouter(tags=["Identity"])

    @routes.get(
        PATH,
        summary="The identity rules in force, every saved version and the defaults",
        dependencies=[Depends(needs(PROFILES_READ))],
    )
    async def show(request: Request) -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(ops.overview, workspace_of(request)))

    @routes.put(
        PATH,
        summary="Save identity rules as a new draft version (applying it is a separate step)",
        status_code=201,
        dependencies=[Depends(needs(IDENTITY_WRITE))],
    )
    async def save(request: Request, body: Annotated[Any, Body()] = None) -> JSONResponse:
        if not isinstance(body, dict) or set(body) != {"document"}:
            raise InvalidIdentityRules('send {"document": {...}} with the identity rules')
        workspace_id = workspace_of(request)
        principal = current_principal(request)
        actor = f"{principal.kind}:{principal.name}"

        def work() -> dict[str, Any]:
            before = ops.store.active(workspace_id)
            saved = ops.save(workspace_id, body["document"], actor)
            audited(
                request,
                "identity_rules.draft",
                RESOURCE,
                str(saved.version),
                before=None if before is None else before.document,
                after=saved.document,
            )
            return {"version": saved.version, "state": saved.state, "document": saved.document}

        return JSONResponse(await asyncio.to_thread(work), status_code=201)

    @routes.get(
        PATH + "/{version}",
        summary="One identity rules version: its document, state, progress while applying",
        dependencies=[Depends(needs(PROFILES_READ))],
    )
    async def show_version(request: Request, version: Version) -> JSONResponse:
        found = await asyncio.to_thread(ops.version, workspace_of(request), version)
        return JSONResponse(found)

    @routes.post(
        PATH + "/{version}/preview",
        summary="Preview a version: the profiles it would merge or split (changes nothing)",
        dependencies=[Depends(needs(IDENTITY_WRITE))],
    )
    async def preview(request: Request, version: Version) -> JSONResponse:
        found = await asyncio.to_thread(ops.preview, workspace_of(request), version)
        return JSONResponse(found._asdict())

    @routes.post(
        PATH + "/{version}/apply",
        summary="Apply a version: re-resolve history under it online, then make it active",
        status_code=202,
        dependencies=[Depends(needs(IDENTITY_WRITE))],
    )
    async def apply(request: Request, version: Version) -> JSONResponse:
        workspace_id = workspace_of(request)

        def start() -> None:
            ops.start_applying(workspace_id, version)
            audited(request, "identity_rules.apply", RESOURCE, str(version))

        await asyncio.to_thread(start)
        threading.Thread(
            target=_apply_in_background,
            args=(ops, workspace_id, version),
            name=f"identity-rules-{workspace_id}-{version}",
            daemon=True,
        ).start()
        return JSONResponse({"version": version, "state": "applying"}, status_code=202)

    return routes


def _apply_in_background(ops: IdentityRulesOps, workspace_id: str, version: int) -> None:
    try:
        ops.apply(workspace_id, version, lambda _phase, _done, _total: None)
    except Exception:
        # Recorded on the version (state failed, error): GET /rules/{version} shows it.
        logger.exception("identity rules version %d of %s failed to apply", version, workspace_id)

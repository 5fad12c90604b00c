"""Webhook sources over HTTP (`/api/v1/sources/{source}/webhook`): make a source a webhook
source (from a template or with a function), read and change its function and settings,
rotate its secret URL token; list the templates (`/api/v1/source-templates`).

The URL token is in the answer only when it was just made or rotated. Secret settings show as
`[secret]`. Reading needs `sources:read` on the source, changing `sources:write`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import SOURCES_READ, SOURCES_WRITE
from seamline.api.audit import audited
from seamline.api.auth import needs
from seamline.api.body_fields import STRINGS, read_body
from seamline.api.sources import find_source
from seamline.collect.sources import Source
from seamline.ops.sources import SourceOps
from seamline.sources.templates import TEMPLATES
from seamline.sources.webhook import WebhookOps, check_settings, webhook_view

PREFIX = "/api/v1/sources"
_FIELDS: dict[str, object] = {"template": str, "function": str, "secret_settings": STRINGS}


def router(sources: SourceOps, ops: WebhookOps) -> APIRouter:
    routes = APIRouter(tags=["Sources"])

    def find(request: Request, source: str, permission: str) -> Source:
        return find_source(sources, request, source, permission)

    @routes.get(
        "/api/v1/source-templates",
        summary="The templates a webhook source can start from",
        dependencies=[Depends(needs(SOURCES_READ, listing=True))],
    )
    async def templates() -> JSONResponse:
        data = [
            {
                "name": t.name,
                "description": t.description,
                "function": t.function_name,
                "settings": list(t.settings),
                "secret_settings": list(t.secret_settings),
            }
            for t in TEMPLATES.values()
        ]
        return JSONResponse({"data": data})

    @routes.get(
        PREFIX + "/{source}/webhook",
        summary="A webhook source's function and settings (secret ones hidden)",
        dependencies=[Depends(needs(SOURCES_READ, listing=True))],
    )
    async def one(request: Request, source: str) -> JSONResponse:
        def work() -> dict[str, Any]:
            return webhook_view(ops.get(find(request, source, SOURCES_READ)))

        return JSONResponse({"data": await asyncio.to_thread(work)})

    @routes.put(
        PREFIX + "/{source}/webhook",
        summary="Make a source a webhook source, or change its function and settings; the "
        "answer holds the secret URL when one was made",
        dependencies=[Depends(needs(SOURCES_WRITE, listing=True))],
    )
    async def put(
        request: Request,
        source: str,
        body: Annotated[
            Any,
            Body(examples=[{"template": "stripe", "settings": {"signing_secret": "whsec_…"}}]),
        ] = None,
    ) -> JSONResponse:
        given = dict(body) if isinstance(body, dict) else body
        settings = given.pop("settings", None) if isinstance(given, dict) else None
        fields = read_body(given, _FIELDS)
        if settings is not None:
            settings = check_settings(settings)
        secret = fields.get("secret_settings", ())

        def work() -> tuple[int, dict[str, Any]]:
            found = find(request, source, SOURCES_WRITE)
            if ops.store.get(found.id) is None:
                made, token = ops.make(
                    found,
                    template=fields.get("template"),
                    function=fields.get("function"),
                    settings=settings,
                    secret=secret,
                )
                view = webhook_view(made, token)
                status = 201
            else:
                changed = ops.configure(
                    found, function=fields.get("function"), settings=settings, secret=secret
                )
                view = webhook_view(changed)
                status = 200
            after = {k: v for k, v in view.items() if k != "url_path"}
            audited(request, "source.webhook", "source", found.id, after=after)
            return status, view

        status, view = await asyncio.to_thread(work)
        return JSONResponse({"data": view}, status_code=status)

    @routes.post(
        PREFIX + "/{source}/webhook/rotate-token",
        summary="A new secret webhook URL; the old one stops working",
        dependencies=[Depends(needs(SOURCES_WRITE, listing=True))],
    )
    async def rotate(request: Request, source: str) -> JSONResponse:
        def work() -> dict[str, Any]:
            found = find(request, source, SOURCES_WRITE)
            rotated, token = ops.rotate(found)
            audited(request, "source.rotate_webhook_token", "source", found.id, after={})
            return webhook_view(rotated, token)

        return JSONResponse({"data": await asyncio.to_thread(work)})

    return routes

"""First run: the console's one-time page that creates the workspace owner.

`GET /api/v1/setup` says only whether the workspace has no user yet (`{"needed": true}`).
`POST /api/v1/setup/owner` `{email, password}` creates the first workspace owner and signs
them in, as `POST /api/v1/auth/login` does. It answers only while the workspace has no user,
and only to a request from the machine itself: its TCP peer is a loopback address and it came
through no proxy (a proxy on the same machine would make every visitor look local, so any
`Forwarded`, `X-Forwarded-For` or `X-Real-IP` header refuses it). Anything else is 403
`forbidden`: create users with `seamline users create` on the server. So is a request a
browser on the server sends for another site's page (its `Origin` or `Sec-Fetch-Site` says
cross-site, or its Host is not localhost or a loopback address: DNS rebinding). Two concurrent
calls create one owner at most (`SqlUserStore.add_first`).
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from seamline.access.permissions import PUBLIC
from seamline.access.sessions import SignIn
from seamline.access.users import UserStore, create_first_owner
from seamline.api.audit import audited
from seamline.api.auth import needs
from seamline.api.body_fields import read_body
from seamline.api.login import signed_in_answer
from seamline.collect.sources import DEFAULT_WORKSPACE_ID
from seamline.errors import Forbidden
from seamline.ops.users import user_document

PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def router(users: UserStore, sign_in: SignIn) -> APIRouter:
    routes = APIRouter(prefix="/api/v1/setup", tags=["Sign-in"])

    @routes.get(
        "",
        summary="Whether the workspace still needs its first owner (no user yet)",
        dependencies=[Depends(needs(PUBLIC))],
    )
    async def needed() -> JSONResponse:
        found = await asyncio.to_thread(users.in_workspace, DEFAULT_WORKSPACE_ID)
        return JSONResponse({"needed": not found})

    @routes.post(
        "/owner",
        summary="Create the first workspace owner and sign in (from the server itself, once)",
        dependencies=[Depends(needs(PUBLIC))],
    )
    async def owner(
        request: Request,
        body: Annotated[
            Any, Body(examples=[{"email": "ann@example.com", "password": "12+ characters"}])
        ] = None,
    ) -> Response:
        if not from_this_machine(request):
            raise Forbidden(
                "the first owner can be created here only from the server itself "
                "(http://localhost, no proxy); on the server run "
                "`seamline users create --email EMAIL --role workspace-owner --password-stdin`"
            )
        given = read_body(body, {"email": str, "password": str}, required=("email", "password"))
        email, password = given["email"], given["password"]
        user = await asyncio.to_thread(
            create_first_owner, users, DEFAULT_WORKSPACE_ID, email, password
        )
        peer = request.client.host if request.client is not None else "unknown"
        found, secret, csrf = await asyncio.to_thread(
            sign_in.login, DEFAULT_WORKSPACE_ID, email, password, peer
        )
        request.state.principal = found.principal
        await asyncio.to_thread(
            audited, request, "user.create", "user", user.id, after=user_document(user)
        )
        return signed_in_answer(request, found, secret, csrf)

    return routes


def from_this_machine(request: Request) -> bool:
    """Whether the TCP peer is a loopback address, no proxy header came with the request
    (X-Forwarded-For is never believed here: it is what a remote caller would forge), and no
    other web page sent it from a browser on the server."""
    if request.client is None or any(h in request.headers for h in PROXY_HEADERS):
        return False
    if not _loopback(request.client.host):
        return False
    # A page on another site, open in a browser on the server, could post here (bodies are
    # read as JSON whatever their label): its Origin or Sec-Fetch-Site gives it away. A name
    # that is not the machine's own in Host is a DNS-rebinding page that made itself look
    # same-origin.
    host = request.url.hostname or ""
    if host != "localhost" and not _loopback(host.strip("[]")):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False

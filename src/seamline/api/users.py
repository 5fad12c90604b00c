"""Users and access tokens over HTTP, for workspace owners: `/api/v1/users` (list, create,
change roles, PII access or disabled, set a password) and `/api/v1/tokens` (list, create,
revoke, rotate). The same rules as `seamline users …` and `seamline tokens …` (access/users.py,
access/tokens.py, ops/users.py, ops/tokens.py).

Answers never hold a password, a hash or a token's digest; a token's secret is in the answer
that creates or rotates it, and nowhere else. A signed-in user may change their own password
(`POST /api/v1/users/{id}/password` with `current_password`) without being an owner; their
other sessions end, the one that asked stays.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from seamline.access.permissions import AUTHENTICATED, TOKENS_MANAGE, USERS_MANAGE, allows
from seamline.access.sessions import SignIn
from seamline.access.tokens import TokenStore, create_token, revoke_token, rotate_token
from seamline.access.users import UserStore, create_user
from seamline.api.audit import audited
from seamline.api.auth import current_principal, needs, workspace_of
from seamline.api.body_fields import STRINGS, read_body
from seamline.api.login import COOKIE
from seamline.collect.sources import SourceStore
from seamline.errors import Forbidden, InvalidInput
from seamline.ops.tokens import token_document, token_grants, token_row
from seamline.ops.users import change_password, change_user, find_user, user_document


class AccessAPI:
    """What the routes need: the user, token and source stores, and sign-in (sessions)."""

    def __init__(
        self, users: UserStore, tokens: TokenStore, sources: SourceStore, sign_in: SignIn
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.sources = sources
        self.sign_in = sign_in

    def known_sources(self, workspace_id: str) -> list[tuple[str, str]]:
        return [(s.id, s.name) for s in self.sources.list(workspace_id)]


def router(api: AccessAPI) -> APIRouter:
    routes = APIRouter(prefix="/api/v1")
    users_only = [Depends(needs(USERS_MANAGE))]
    tokens_only = [Depends(needs(TOKENS_MANAGE))]

    @routes.get("/users", tags=["Users"], summary="The workspace's users", dependencies=users_only)
    async def users(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.users.in_workspace, workspace_of(request))
        return JSONResponse({"data": [user_document(u) for u in found]})

    @routes.post(
        "/users",
        tags=["Users"],
        summary="Create a user (the same checks as `seamline users create`)",
        status_code=201,
        dependencies=users_only,
    )
    async def create(
        request: Request,
        body: Annotated[
            Any,
            Body(
                examples=[
                    {
                        "email": "ann@example.com",
                        "password": "at least 12 characters",
                        "roles": ["source-admin:Website"],
                        "pii_access": False,
                    }
                ]
            ),
        ] = None,
    ) -> JSONResponse:
        given = read_body(
            body,
            {"email": str, "password": str, "roles": STRINGS, "pii_access": bool},
            required=("email", "password", "roles"),
        )

        def work() -> dict[str, Any]:
            workspace = workspace_of(request)
            user = create_user(
                api.users,
                workspace,
                given["email"],
                given["password"],
                given["roles"],
                pii_access=given.get("pii_access", False),
                sources=api.known_sources(workspace),
            )
            shown = user_document(user)
            audited(request, "user.create", "user", user.id, after=shown)
            return shown

        return JSONResponse({"data": await asyncio.to_thread(work)}, status_code=201)

    @routes.patch(
        "/users/{user_id}",
        tags=["Users"],
        summary="Change a user's roles, PII access, or whether they may sign in",
        dependencies=users_only,
    )
    async def change(
        request: Request,
        user_id: str,
        body: Annotated[Any, Body(examples=[{"roles": ["workspace-owner"]}])] = None,
    ) -> JSONResponse:
        given = read_body(body, {"roles": STRINGS, "pii_access": bool, "disabled": bool})

        def work() -> dict[str, Any]:
            workspace = workspace_of(request)
            before = find_user(api.users, workspace, user_id)
            after = change_user(
                api.users,
                before,
                roles=given.get("roles"),
                pii_access=given.get("pii_access"),
                disabled=given.get("disabled"),
                sources=api.known_sources(workspace),
            )
            if after != before:
                audited(
                    request,
                    "user.update",
                    "user",
                    after.id,
                    before=user_document(before),
                    after=user_document(after),
                )
            return user_document(after)

        return JSONResponse({"data": await asyncio.to_thread(work)})

    @routes.post(
        "/users/{user_id}/password",
        tags=["Users"],
        summary="Set a user's password (owners), or change your own with current_password",
        dependencies=[Depends(needs(AUTHENTICATED))],
    )
    async def password(
        request: Request,
        user_id: str,
        body: Annotated[
            Any, Body(examples=[{"password": "new, 12+ chars", "current_password": "…"}])
        ] = None,
    ) -> JSONResponse:
        given = read_body(body, {"password": str, "current_password": str}, required=("password",))
        principal = current_principal(request)

        def work() -> None:
            user = find_user(api.users, principal.workspace_id, user_id)
            own = principal.kind == "user" and principal.id == user.id
            if not own and not allows(principal, USERS_MANAGE):
                raise Forbidden(
                    f"{principal.kind} {principal.name!r} may set only its own password "
                    "(an owner sets anyone's)",
                    details={"permission": USERS_MANAGE, "resource": user.id},
                )
            current = given.get("current_password")
            if own and not allows(principal, USERS_MANAGE) and current is None:
                raise Forbidden(
                    "send current_password to change your own password",
                    details={"field": "current_password"},
                )
            session = api.sign_in.signed_in(request.cookies.get(COOKIE)) if own else None
            change_password(
                api.users,
                user,
                given["password"],
                current=current if own else None,
                keep_session=None if session is None else session.session.id,
            )
            audited(request, "user.password", "user", user.id, after={"email": user.email})

        await asyncio.to_thread(work)
        return JSONResponse({"data": {"changed": True}})

    @routes.get(
        "/tokens",
        tags=["Tokens"],
        summary="The workspace's access tokens (never their secrets)",
        dependencies=tokens_only,
    )
    async def tokens(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(api.tokens.in_workspace, workspace_of(request))
        return JSONResponse({"data": [token_row(t) for t in found]})

    @routes.post(
        "/tokens",
        tags=["Tokens"],
        summary="Create an access token; its secret is in this answer only",
        status_code=201,
        dependencies=tokens_only,
    )
    async def create_one(
        request: Request,
        body: Annotated[
            Any, Body(examples=[{"name": "ci", "roles": ["source-read-only"], "pii_access": False}])
        ] = None,
    ) -> JSONResponse:
        given = read_body(
            body, {"name": str, "roles": STRINGS, "pii_access": bool}, required=("name",)
        )

        def work() -> dict[str, Any]:
            workspace = workspace_of(request)
            name = given["name"].strip()
            if not name:
                raise InvalidInput("name must not be empty", details={"field": "name"})
            grants = token_grants(given.get("roles", ()), api.known_sources(workspace))
            record, secret = create_token(
                api.tokens, workspace, name, grants, pii_access=given.get("pii_access", False)
            )
            audited(request, "token.create", "token", record.id, after=token_document(record))
            return {**token_row(record), "token": secret}

        return JSONResponse({"data": await asyncio.to_thread(work)}, status_code=201)

    @routes.delete(
        "/tokens/{token}",
        tags=["Tokens"],
        summary="Revoke a token (by name or id): it gets 401 from now on",
        dependencies=tokens_only,
    )
    async def revoke(request: Request, token: str) -> JSONResponse:
        def work() -> list[dict[str, Any]]:
            gone = revoke_token(api.tokens, workspace_of(request), token)
            for record in gone:
                audited(request, "token.revoke", "token", record.id, before=token_document(record))
            return [token_row(t) for t in gone]

        return JSONResponse({"data": {"revoked": await asyncio.to_thread(work)}})

    @routes.post(
        "/tokens/{token}/rotate",
        tags=["Tokens"],
        summary="A new secret for a token (same name, roles, PII access); the old one stops",
        dependencies=tokens_only,
    )
    async def rotate(request: Request, token: str) -> JSONResponse:
        def work() -> dict[str, Any]:
            record, secret = rotate_token(api.tokens, workspace_of(request), token)
            after = {**token_document(record), "rotated": token}
            audited(request, "token.rotate", "token", record.id, after=after)
            return {**token_row(record), "token": secret}

        return JSONResponse({"data": await asyncio.to_thread(work)})

    return routes

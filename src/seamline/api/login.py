"""Console sign-in: `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`, `GET
/api/v1/auth/me` (access/sessions.py holds the rules).

The session cookie is HttpOnly, SameSite=Strict, Path=/ and Secure, except on plain http from
the machine itself (a developer's `http://localhost`), where a browser would not send a
Secure cookie back. Requests the cookie authenticates that change something send the
session's CSRF token as `X-CSRF-Token` (`session_principal`, the hook the routes' permission
checks call when no token is sent).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from seamline.access.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC, allows_some
from seamline.access.principal import Principal
from seamline.access.sessions import ABSOLUTE, SignedIn, SignIn, TooManyAttempts, csrf_token_of
from seamline.api.audit import audited
from seamline.api.auth import needs
from seamline.collect.client_ip import ClientAddress
from seamline.collect.sources import DEFAULT_WORKSPACE_ID
from seamline.errors import InvalidInput, Unauthorized

COOKIE = "seamline_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_principal(sign_in: SignIn) -> Callable[[Request], Principal | None]:
    """The principal of a request's session cookie (None without a live session); a request
    that changes something must carry the session's CSRF token, else CsrfFailed (403)."""

    def principal(request: Request) -> Principal | None:
        found = sign_in.signed_in(request.cookies.get(COOKIE))
        if found is None:
            return None
        if request.method not in SAFE_METHODS:
            found.check_csrf(request.headers.get(CSRF_HEADER))
        return found.principal

    return principal


def router(sign_in: SignIn, addresses: ClientAddress) -> APIRouter:
    """The sign-in routes; failed logins are counted per client address as `addresses` finds
    it (X-Forwarded-For only from trusted proxies)."""
    routes = APIRouter(prefix="/api/v1/auth", tags=["Sign-in"])
    # Logout and me need a principal: the session's (a token's gets 401 no_session from them).
    signed_in = [Depends(needs(AUTHENTICATED))]

    @routes.post(
        "/login",
        summary="Sign in with email and password; sets the session cookie",
        dependencies=[Depends(needs(PUBLIC))],
    )
    async def login(
        request: Request,
        body: Annotated[
            dict[str, Any],
            Body(examples=[{"email": "ann@example.com", "password": "…"}]),
        ],
    ) -> Response:
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise InvalidInput("send {email, password}, both strings")
        peer = request.client.host if request.client else None
        client = addresses.of(peer, request.headers.get("x-forwarded-for")) or "unknown"
        try:
            found, secret, csrf = await asyncio.to_thread(
                sign_in.login, DEFAULT_WORKSPACE_ID, email, password, client
            )
        except TooManyAttempts as refused:
            return JSONResponse(
                refused.to_json(),
                status_code=refused.status,
                headers={"retry-after": str(refused.retry_after)},
            )
        # Recorded in the audit trail in the user's own name (the route itself is public).
        request.state.principal = found.principal
        await asyncio.to_thread(
            audited, request, "user.login", "user", found.user.id, after={"email": found.user.email}
        )
        return signed_in_answer(request, found, secret, csrf)

    @routes.post(
        "/logout",
        summary="End the session of the cookie (needs X-CSRF-Token)",
        dependencies=signed_in,
    )
    async def logout(request: Request) -> Response:
        found = await asyncio.to_thread(_session, sign_in, request)
        found.check_csrf(request.headers.get(CSRF_HEADER))
        await asyncio.to_thread(sign_in.logout, request.cookies.get(COOKIE))
        request.state.principal = found.principal
        await asyncio.to_thread(audited, request, "user.logout", "user", found.user.id)
        answer = JSONResponse({"signedOut": True})
        answer.delete_cookie(
            COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
        )
        return answer

    @routes.get(
        "/me", summary="The signed-in user and the session's CSRF token", dependencies=signed_in
    )
    async def me(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(_session, sign_in, request)
        secret = request.cookies.get(COOKIE) or ""
        return JSONResponse({"user": _user(found), "csrfToken": csrf_token_of(secret)})

    return routes


def signed_in_answer(request: Request, found: SignedIn, secret: str, csrf: str) -> JSONResponse:
    """The answer to a sign-in: the user and the CSRF token, and the session cookie."""
    answer = JSONResponse({"user": _user(found), "csrfToken": csrf})
    answer.set_cookie(
        COOKIE,
        secret,
        max_age=int(ABSOLUTE.total_seconds()),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return answer


def _session(sign_in: SignIn, request: Request) -> SignedIn:
    found = sign_in.signed_in(request.cookies.get(COOKIE))
    if found is None:
        raise Unauthorized(
            "not signed in, or the session ended: sign in with POST /api/v1/auth/login",
            details={"reason": "no_session"},
        )
    return found


def _secure(request: Request) -> bool:
    """Secure, unless the request is plain http from a loopback address."""
    if request.url.scheme == "https" or request.client is None:
        return True
    try:
        return not ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return True


def _user(found: SignedIn) -> dict[str, Any]:
    user = found.user
    return {
        "id": user.id,
        "email": user.email,
        "roles": [
            g.role if g.resources is None else f"{g.role}:{','.join(g.resources)}"
            for g in user.grants
        ],
        "piiAccess": found.principal.pii_access,
        # What the console may show: a permission held on at least one resource (the server
        # still checks each request, per resource).
        "permissions": sorted(p for p in PERMISSIONS if allows_some(found.principal, p)),
    }

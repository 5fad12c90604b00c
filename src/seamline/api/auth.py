"""Who is calling the management API or the Profile API, and whether their roles allow it.

The caller is an access token, sent as a Bearer token or as the Basic auth user name; the
token's workspace is the one the call manages. With no token sent, the session hook (the
console's login cookie, plugged in where the app is built) may name the caller instead.

A 401 says which of two things went wrong (`details.reason`): no token was sent
(`missing_token`), or the one sent is not an active token of this server (`unknown_token`:
never created here — e.g. created in another data directory — or revoked). A caller whose roles
do not allow the route gets 403 `forbidden`.

Every route declares its permission: `dependencies=[Depends(needs(PERMISSION, "param"))]`
(see `seamline.access.permissions`), or `public(route)` for Starlette routes that need none.
tests/api/test_every_route_declares.py fails on a route that does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from seamline.access.permissions import (
    AUTHENTICATED,
    PERMISSIONS,
    PUBLIC,
    ROLE_PERMISSIONS,
    allows,
    allows_some,
    describe,
)
from seamline.access.principal import Principal
from seamline.access.tokens import Token, TokenStore, authenticate, principal_of
from seamline.collect.auth import basic_user
from seamline.errors import Forbidden, Unauthorized

DECLARED = "seamline_permission"
"""The attribute that carries a route's (or a dependency's) declared permission."""

SessionPrincipal = Callable[[Request], Principal | None]
"""The principal of a request that sent no token (a signed-in user's session), or None."""

R = TypeVar("R", bound=BaseRoute)


class Principals:
    """Finds the principal of a request: its token, else what the session hook says."""

    def __init__(self, tokens: TokenStore, session: SessionPrincipal | None = None) -> None:
        self.tokens = tokens
        self.session = session

    def of(self, request: Request) -> Principal:
        header = request.headers.get("authorization") or ""
        secret = header[7:].strip() if header.lower().startswith("bearer ") else None
        secret = secret or basic_user(header)
        if not secret and self.session is not None:
            found = self.session(request)
            if found is not None:
                return found
        how = (
            "as the Basic auth user name"
            if request.url.path.startswith("/v1/spaces/")
            else "as `Authorization: Bearer TOKEN`"
        )
        token = require_token(self.tokens, secret, how)
        request.state.token = token
        return principal_of(token)


def install(app: FastAPI, tokens: TokenStore, session: SessionPrincipal | None = None) -> None:
    """Make `needs` work on `app`'s routes: how principals are found (tokens, and the
    session hook when one is given)."""
    app.state.principals = Principals(tokens, session)


def require_token(tokens: TokenStore, secret: str | None, how: str) -> Token:
    """The active token for `secret`, or Unauthorized saying whether it is missing or unknown;
    `how` tells the caller how to send one."""
    if not secret:
        raise Unauthorized(
            f"no access token: send one {how} "
            "(create one with `seamline tokens create --name NAME`)",
            details={"reason": "missing_token"},
        )
    found = authenticate(tokens, secret)
    if found is None:
        raise Unauthorized(
            "unknown or revoked token: it is not an active token of this server's data "
            "directory (see `seamline tokens list`)",
            details={"reason": "unknown_token"},
        )
    return found


def current_principal(request: Request) -> Principal:
    """The request's principal, found once per request and kept on `request.state`."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        principals: Principals = request.app.state.principals
        found = principals.of(request)
        request.state.principal = found
    return found


def needs(
    permission: str, resource_param: str | None = None, *, listing: bool = False
) -> Callable[..., Any]:
    """A dependency that lets the request through only if the principal's roles allow
    `permission` — on the resource named by the path or query parameter `resource_param`
    when it is given. `listing` lets a scoped grant in (the route then shows only what it
    allows). PUBLIC asks for no principal at all."""
    if permission not in PERMISSIONS | {PUBLIC, AUTHENTICATED}:
        raise ValueError(f"unknown permission {permission!r}; see seamline.access.permissions")

    if permission == PUBLIC:

        def nobody() -> None:
            return None

        setattr(nobody, DECLARED, PUBLIC)
        return nobody

    def check(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        resource = None
        if resource_param is not None:
            resource = request.path_params.get(resource_param)
            resource = resource or request.query_params.get(resource_param)
        if resource is None and listing:
            allowed = allows_some(principal, permission)
        else:
            allowed = allows(principal, permission, resource)
        if not allowed:
            raise Forbidden(
                _refusal(principal, permission, resource),
                details={"permission": permission, "resource": resource},
            )
        return principal

    setattr(check, DECLARED, permission)
    return check


def public(route: R) -> R:
    """Declare that a Starlette route (or mount) needs no principal."""
    setattr(route, DECLARED, PUBLIC)
    return route


def permission_of(route: BaseRoute) -> str | None:
    """The permission a route declares, or None when it declares none."""
    declared = getattr(route, DECLARED, None)
    if isinstance(declared, str):
        return declared
    return _declared_in(route.dependant) if isinstance(route, APIRoute) else None


def declared_routes(app: FastAPI) -> list[tuple[str, frozenset[str], str | None]]:
    """Every route of `app`, included routers' too: (path, methods, declared permission or
    None). Dependencies given to `include_router` count as well."""
    found = []
    for context in iter_route_contexts(app.routes):
        permission = permission_of(context.original_route)
        dependant = getattr(context, "dependant", None)  # with include_router's dependencies
        if permission is None and isinstance(dependant, Dependant):
            permission = _declared_in(dependant)
        found.append((context.path or "", frozenset(context.methods or ()), permission))
    return found


def _declared_in(dependant: Dependant) -> str | None:
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop()
        declared = getattr(dependency.call, DECLARED, None)
        if isinstance(declared, str):
            return declared
        pending.extend(dependency.dependencies)
    return None


def workspace_of(request: Request) -> str:
    """The workspace of the principal `needs` let through for this request."""
    principal: Principal = request.state.principal
    return principal.workspace_id


def _refusal(principal: Principal, permission: str, resource: str | None) -> str:
    where = f" on {resource!r}" if resource is not None else ""
    granting = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
    return (
        f"{principal.kind} {principal.name!r} may not {permission}{where}: its roles are "
        f"{', '.join(describe(principal.grants)) or 'none'}; "
        f"roles that allow it: {', '.join(['workspace-owner', *granting])}"
    )

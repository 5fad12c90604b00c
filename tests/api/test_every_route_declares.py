"""Every route of the app declares the permission it needs, so a route added later cannot be
open to any token by accident; and what a route declares is what a token is asked for."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.routing import Route

from seamline.access.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC, SOURCES_READ
from seamline.access.tokens import create_token
from seamline.api.auth import declared_routes, needs, permission_of
from seamline.api.console_pages import SECTIONS
from seamline.collect.tracking import INGEST_PATHS
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio

# Valid as one message and as a batch of one.
MESSAGE = {"userId": "a", "event": "e", "batch": [{"type": "track", "userId": "a", "event": "e"}]}
HOW = (
    "declare it: on a FastAPI route `dependencies=[Depends(needs(PERMISSION, 'param'))]` "
    "(seamline.api.auth.needs, permissions in seamline.access.permissions), on a Starlette "
    "route or mount `public(Route(...))` when it needs no principal"
)


def routes_of(running: Running) -> dict[str, str | None]:
    """`METHODS PATH` → declared permission, over the FastAPI app behind the Tracking API
    (which Seamline.__call__ serves first)."""
    framework: FastAPI = running.app._framework
    return {
        f"{','.join(sorted(methods)) or '*'} {path}": permission
        for path, methods, permission in declared_routes(framework)
    }


async def test_every_route_declares_a_known_permission(running: Running) -> None:
    found = routes_of(running)
    assert len(found) > 50  # the whole app, included routers too
    undeclared = sorted(route for route, permission in found.items() if permission is None)
    assert not undeclared, f"routes without a declared permission: {undeclared}; {HOW}"
    known = PERMISSIONS | {PUBLIC, AUTHENTICATED}
    unknown = {route: p for route, p in found.items() if p not in known}
    assert not unknown, f"routes declaring unknown permissions: {unknown}"


async def test_only_the_expected_routes_are_public(running: Running) -> None:
    public = {route.partition(" ")[2] for route, p in routes_of(running).items() if p == PUBLIC}
    expected = {"/healthz", "/readyz", "/metrics", "/v1/projects/{write_key}/settings", "/v1/m"}
    expected |= {"/docs", "/redoc", "/docs/assets", "/openapi.json"}
    # The console's files: the page signs in through the API (api/console_pages.py).
    expected |= {"/", "/assets/{name}"} | {f"/{s}" for s in SECTIONS}
    expected |= {f"/{s}/{{rest:path}}" for s in SECTIONS}
    # First run: whether the workspace needs its owner, and creating that owner, which the
    # route allows only from loopback while no user exists (api/setup.py).
    expected |= {"/api/v1/setup", "/api/v1/setup/owner"}
    # The console's sign-in routes (login, logout, me) check the session themselves.
    assert {p for p in public if not p.startswith("/api/v1/auth/")} == expected


async def test_the_tracking_api_answers_to_write_keys_not_tokens(running: Running) -> None:
    """The Tracking API's paths are served before the routes above, authenticated by write key
    (public client keys, as in Segment): an access token is not what they ask for."""
    _, secret = create_token(running.app.tokens, "default", "owner")
    for path in sorted(INGEST_PATHS):
        answer = await running.client.post(
            path, json=MESSAGE, headers={"Authorization": f"Bearer {secret}"}
        )
        assert answer.status_code == 401, path
        assert "write key" in answer.json()["message"], path


def test_a_route_without_a_declaration_is_reported() -> None:
    """The check above can fail: an undeclared route is seen as such, a declaration made on
    the route, its router or `include_router` is found."""
    declared, forgotten, included = APIRouter(), APIRouter(), APIRouter()

    async def endpoint() -> dict[str, str]:
        return {}

    declared.add_api_route("/a", endpoint, dependencies=[Depends(needs(SOURCES_READ))])
    forgotten.add_api_route("/b", endpoint)
    included.add_api_route("/c", endpoint)
    app = FastAPI()
    app.include_router(declared)
    app.include_router(forgotten)
    app.include_router(included, dependencies=[Depends(needs(PUBLIC))])
    found = {path: p for path, _, p in declared_routes(app) if path in ("/a", "/b", "/c")}
    assert found == {"/a": SOURCES_READ, "/b": None, "/c": PUBLIC}
    assert permission_of(Route("/x", endpoint)) is None
    with pytest.raises(ValueError, match="unknown permission"):
        needs("sources:wirte")

"""First run: `GET /api/v1/setup` and `POST /api/v1/setup/owner` create the first workspace
owner from the server itself, once; refused from elsewhere, through a proxy, and once anyone
exists; concurrent calls make one owner (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from seamline.access.users import create_user
from seamline.store.users_sql import SqlUserStore
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"
OWNER = "/api/v1/setup/owner"


@pytest.fixture
async def local(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose TCP peer is the machine itself (the fixture's own is 203.0.113.9)."""
    transport = httpx.ASGITransport(app=running.app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


def users(running: Running) -> list[str]:
    return [u.email for u in SqlUserStore(running.app.state).in_workspace("default")]


async def test_the_first_owner_is_created_from_loopback_and_signed_in(
    running: Running, local: httpx.AsyncClient
) -> None:
    assert (await local.get("/api/v1/setup")).json() == {"needed": True}
    short = await local.post(OWNER, json={"email": "ann@example.com", "password": "short"})
    assert (short.status_code, short.json()["code"]) == (400, "invalid_input")
    bad = await local.post(OWNER, json={"email": "ann", "password": PASSWORD})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_input")
    assert users(running) == []

    # The console's own page, as a browser sends it.
    made = await local.post(
        OWNER,
        json={"email": "ann@example.com", "password": PASSWORD},
        headers={"origin": "http://localhost", "sec-fetch-site": "same-origin"},
    )
    assert made.status_code == 200, made.text
    assert made.json()["user"]["roles"] == ["workspace-owner"]
    assert made.json()["user"]["piiAccess"] is True
    cookie = made.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    session = {"cookie": cookie.split(";")[0]}
    me = await local.get("/api/v1/auth/me", headers=session)
    assert me.status_code == 200 and me.json()["user"]["email"] == "ann@example.com"
    # A signed-in owner manages users at once (the CSRF token from the answer).
    csrf = {**session, "x-csrf-token": made.json()["csrfToken"]}
    assert (await local.get("/api/v1/users", headers=csrf)).status_code == 200

    assert (await local.get("/api/v1/setup")).json() == {"needed": False}
    again = await local.post(OWNER, json={"email": "eve@example.com", "password": PASSWORD})
    assert (again.status_code, again.json()["code"]) == (403, "forbidden")
    assert "seamline users create" in again.json()["message"]
    assert users(running) == ["ann@example.com"]
    trail = SqlUserStore(running.app.state)  # the creation is in the audit trail too
    assert trail.by_email("default", "ann@example.com") is not None


async def test_refused_from_another_address_or_through_a_proxy(
    running: Running, local: httpx.AsyncClient
) -> None:
    remote = await running.client.post(
        OWNER, json={"email": "eve@example.com", "password": PASSWORD}
    )
    assert (remote.status_code, remote.json()["code"]) == (403, "forbidden")
    assert "seamline users create" in remote.json()["message"]
    # A proxy on the server makes the peer loopback; what it forwards is not believed.
    for header in ("x-forwarded-for", "forwarded", "x-real-ip"):
        proxied = await local.post(
            OWNER,
            json={"email": "eve@example.com", "password": PASSWORD},
            headers={header: "127.0.0.1"},
        )
        assert proxied.status_code == 403, header
    # Another site's page in a browser on the server, or a DNS-rebinding one.
    for headers in (
        {"origin": "http://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"host": "evil.example"},
    ):
        sent = await local.post(
            OWNER, json={"email": "eve@example.com", "password": PASSWORD}, headers=headers
        )
        assert sent.status_code == 403, headers
    assert users(running) == []
    # Anyone may ask whether setup is needed: it says nothing else.
    assert (await running.client.get("/api/v1/setup")).json() == {"needed": True}


async def test_refused_once_a_user_exists(running: Running, local: httpx.AsyncClient) -> None:
    store = SqlUserStore(running.app.state)
    create_user(store, "default", "bob@example.com", PASSWORD, ["source-read-only"])
    assert (await local.get("/api/v1/setup")).json() == {"needed": False}
    refused = await local.post(OWNER, json={"email": "eve@example.com", "password": PASSWORD})
    assert refused.status_code == 403
    assert users(running) == ["bob@example.com"]


async def test_concurrent_calls_create_one_owner(
    running: Running, local: httpx.AsyncClient
) -> None:
    answers = await asyncio.gather(
        *(
            local.post(OWNER, json={"email": f"owner{i}@example.com", "password": PASSWORD})
            for i in range(6)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 403, 403, 403, 403, 403], [a.text for a in answers]
    [winner] = [a.json()["user"]["email"] for a in answers if a.status_code == 200]
    assert users(running) == [winner]

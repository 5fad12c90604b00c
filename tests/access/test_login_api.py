"""Console sign-in over HTTP: the cookie's attributes, CSRF on changes, throttling, logout."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest

from seamline.access.tokens import create_token
from seamline.access.users import create_user, disable_user
from seamline.store.users_sql import SqlUserStore
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"
RERUN = "/api/v1/held/rerun"


@pytest.fixture
def users(running: Running) -> SqlUserStore:
    store = SqlUserStore(running.app.state)
    create_user(store, "default", "ann@example.com", PASSWORD, ["workspace-owner"])
    return store


def cookie_of(answer: httpx.Response) -> tuple[str, SimpleCookie]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(answer.headers["set-cookie"])
    return jar["seamline_session"].value, jar


async def login(running: Running) -> tuple[dict[str, str], str]:
    """Sign in; the Cookie header to send back and the CSRF token."""
    answer = await running.client.post(
        "/api/v1/auth/login", json={"email": "Ann@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    secret, _ = cookie_of(answer)
    return {"cookie": f"seamline_session={secret}"}, answer.json()["csrfToken"]


async def test_login_sets_a_strict_http_only_secure_cookie(
    running: Running, users: SqlUserStore
) -> None:
    answer = await running.client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["roles"] == ["workspace-owner"] and body["user"]["piiAccess"] is True
    secret, jar = cookie_of(answer)
    morsel = jar["seamline_session"]
    assert morsel["httponly"] and morsel["secure"] and morsel["path"] == "/"
    assert morsel["samesite"].lower() == "strict"
    assert secret and secret not in body.values()
    me = await running.client.get(
        "/api/v1/auth/me", headers={"cookie": f"seamline_session={secret}"}
    )
    assert me.status_code == 200
    assert me.json() == body  # the same CSRF token again, e.g. after a page reload
    trail = await running.client.get(
        "/api/v1/audit-trail?action=user.login",
        headers={"cookie": f"seamline_session={secret}"},
    )
    assert trail.status_code == 200, trail.text
    [entry] = trail.json()["data"]
    assert entry["actor"]["kind"] == "user" and entry["actor"]["name"] == "ann@example.com"
    assert entry["resource"] == {"type": "user", "id": body["user"]["id"]}
    assert PASSWORD not in trail.text


async def test_plain_http_from_loopback_gets_a_cookie_without_secure(
    running: Running, users: SqlUserStore
) -> None:
    transport = httpx.ASGITransport(app=running.app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as local:
        answer = await local.post(
            "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
        )
    assert answer.status_code == 200, answer.text
    _, jar = cookie_of(answer)
    assert not jar["seamline_session"]["secure"] and jar["seamline_session"]["httponly"]


async def test_changes_by_cookie_need_the_csrf_token_reads_do_not(
    running: Running, users: SqlUserStore
) -> None:
    cookie, csrf = await login(running)
    read = await running.client.get("/api/v1/resources", headers=cookie)
    assert read.status_code == 200, read.text
    refused = await running.client.post(RERUN, json={"ids": []}, headers=cookie)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    wrong = await running.client.post(
        RERUN, json={"ids": []}, headers={**cookie, "x-csrf-token": _altered(csrf)}
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "csrf_failed"
    done = await running.client.post(
        RERUN, json={"ids": []}, headers={**cookie, "x-csrf-token": csrf}
    )
    assert done.status_code == 200, done.text
    # A token is no cookie: it needs no CSRF token.
    _, secret = create_token(running.app.tokens, "default", "ci")
    by_token = await running.client.post(
        RERUN, json={"ids": []}, headers={"authorization": f"Bearer {secret}"}
    )
    assert by_token.status_code == 200, by_token.text


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    running: Running, users: SqlUserStore
) -> None:
    cookie, csrf = await login(running)
    refused = await running.client.post("/api/v1/auth/logout", headers=cookie)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    done = await running.client.post(
        "/api/v1/auth/logout", headers={**cookie, "x-csrf-token": csrf}
    )
    assert done.status_code == 200 and done.json() == {"signedOut": True}
    assert 'seamline_session=""' in done.headers["set-cookie"]
    me = await running.client.get("/api/v1/auth/me", headers=cookie)
    assert me.status_code == 401
    gone = await running.client.get("/api/v1/resources", headers=cookie)
    assert gone.status_code == 401


async def test_a_disabled_users_session_stops_working_at_once(
    running: Running, users: SqlUserStore
) -> None:
    cookie, _ = await login(running)
    assert (await running.client.get("/api/v1/resources", headers=cookie)).status_code == 200
    disable_user(users, "default", "ann@example.com")
    assert (await running.client.get("/api/v1/resources", headers=cookie)).status_code == 401
    assert (await running.client.get("/api/v1/auth/me", headers=cookie)).status_code == 401


async def test_unknown_email_and_wrong_password_answer_alike_then_429(
    running: Running, users: SqlUserStore
) -> None:
    answers = []
    for email, password in [("nobody@example.com", PASSWORD)] + [
        ("ann@example.com", "wrong password!")
    ] * 4:
        answers.append(
            await running.client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
        )
    shapes = {(a.status_code, a.text, "set-cookie" in a.headers) for a in answers}
    assert shapes == {
        (401, '{"code":"invalid_credentials","message":"wrong email or password"}', False)
    }
    throttled = await running.client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_attempts"
    assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60
    assert "set-cookie" not in throttled.headers


@pytest.mark.parametrize(
    "body", [{}, {"email": "ann@example.com"}, {"email": 1, "password": PASSWORD}]
)
async def test_a_malformed_login_is_400(
    running: Running, users: SqlUserStore, body: dict[str, object]
) -> None:
    answer = await running.client.post("/api/v1/auth/login", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input"


def _altered(token: str) -> str:
    """`token` with its last character changed (a fixed replacement is the token itself when
    the token already ends with it: one run in 64 failed that way)."""
    return token[:-1] + ("1" if token.endswith("0") else "0")

"""Users over HTTP (`/api/v1/users`, workspace owners): list, create, change roles, PII access
and disabled, set a password; a user changes their own; nobody else may (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seamline.access.users import create_user
from seamline.store.users_sql import SqlUserStore
from tests.api.test_roles import token
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PATH = "/api/v1/users"
PASSWORD = "a long enough password"


def new_user(running: Running, email: str = "bob@example.com", *roles: str) -> dict[str, Any]:
    """Body of a create call."""
    return {"email": email, "password": PASSWORD, "roles": list(roles) or ["source-read-only"]}


async def sign_in(running: Running, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Cookie and CSRF headers of a new session of `email`."""
    answer = await running.client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"].split(";")[0]
    return {"cookie": cookie, "x-csrf-token": answer.json()["csrfToken"]}


async def login_status(running: Running, email: str, password: str) -> int:
    answer = await running.client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    return answer.status_code


async def test_an_owner_creates_lists_and_changes_users(running: Running) -> None:
    owner = token(running, "owner")
    made = await running.client.post(
        PATH, json=new_user(running, "Bob@Example.com", f"source-admin:{running.source.name}"),
        headers=owner,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    bob = made.json()["data"]
    assert bob["email"] == "Bob@Example.com" and bob["pii_access"] is False
    assert bob["roles"] == [f"source-admin:{running.source.id}"]  # source names stored as ids
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert [u["email"] for u in listed] == ["Bob@Example.com"]
    assert "password" not in json.dumps(listed) and "scrypt" not in json.dumps(listed)
    # The new user signs in and has what the roles give.
    bobs = await sign_in(running, "bob@example.com")
    assert (await running.client.get("/api/v1/sources", headers=bobs)).status_code == 200
    assert (await running.client.get(PATH, headers=bobs)).status_code == 403

    changed = await running.client.patch(
        f"{PATH}/{bob['id']}", json={"roles": ["unify-read-only"], "pii_access": True},
        headers=owner,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["roles"] == ["unify-read-only"]
    assert changed.json()["data"]["pii_access"] is True
    # The session sees the new roles at its next request.
    assert (await running.client.get("/api/v1/sources", headers=bobs)).status_code == 403
    disabled = await running.client.patch(
        f"{PATH}/bob@example.com", json={"disabled": True}, headers=owner
    )
    assert disabled.json()["data"]["disabled_at"] is not None
    assert (await running.client.get("/api/v1/auth/me", headers=bobs)).status_code == 401
    assert await login_status(running, "bob@example.com", PASSWORD) == 401
    enabled = await running.client.patch(
        f"{PATH}/{bob['id']}", json={"disabled": False}, headers=owner
    )
    assert enabled.json()["data"]["disabled_at"] is None
    assert await login_status(running, "bob@example.com", PASSWORD) == 200

    trail = (await running.client.get("/api/v1/audit-trail", headers=owner)).json()["data"]
    mine = [e["action"] for e in trail if e["resource"]["id"] == bob["id"]]
    assert mine.count("user.update") == 3 and "user.create" in mine
    assert PASSWORD not in json.dumps(trail)


async def test_bad_input_is_refused_as_the_cli_refuses_it(running: Running) -> None:
    owner = token(running, "owner")
    await running.client.post(PATH, json=new_user(running), headers=owner)
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", PATH, {**new_user(running, "x@y.io"), "password": "short"}, 400, "invalid_input"),
        ("POST", PATH, new_user(running, "not an email"), 400, "invalid_input"),
        ("POST", PATH, new_user(running, "x@y.io", "emperor"), 400, "invalid_input"),
        ("POST", PATH, {**new_user(running, "x@y.io"), "roles": []}, 400, "invalid_input"),
        ("POST", PATH, {"email": "x@y.io", "password": PASSWORD}, 400, "invalid_input"),
        ("POST", PATH, {**new_user(running, "x@y.io"), "admin": True}, 400, "invalid_input"),
        ("POST", PATH, new_user(running, "BOB@example.com"), 409, "conflict"),
        ("PATCH", f"{PATH}/nobody", {"disabled": True}, 404, "not_found"),
        ("PATCH", f"{PATH}/bob@example.com", {"roles": "owner"}, 400, "invalid_input"),
        ("POST", f"{PATH}/bob@example.com/password", {"password": "short"}, 400, "invalid_input"),
    ]
    for method, path, body, status, code in cases:
        answer = await running.client.request(method, path, json=body, headers=owner)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (path, body)
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert [u["email"] for u in listed] == ["bob@example.com"]


async def test_the_last_owner_cannot_be_demoted_or_disabled(running: Running) -> None:
    store = SqlUserStore(running.app.state)
    ann = create_user(store, "default", "ann@example.com", PASSWORD, ["workspace-owner"])
    anns = await sign_in(running, "ann@example.com")
    for change in ({"disabled": True}, {"roles": ["source-admin"]}):
        refused = await running.client.patch(f"{PATH}/{ann.id}", json=change, headers=anns)
        assert refused.status_code == 400 and "only enabled owner" in refused.json()["message"]
    made = await running.client.post(
        PATH, json=new_user(running, "cy@example.com", "workspace-owner"), headers=anns
    )
    assert made.json()["data"]["pii_access"] is True  # owners always see PII
    demoted = await running.client.patch(
        f"{PATH}/{ann.id}", json={"roles": ["source-admin"]}, headers=anns
    )
    assert demoted.status_code == 200


async def test_only_owners_manage_users(running: Running) -> None:
    owner = token(running, "owner")
    made = await running.client.post(PATH, json=new_user(running), headers=owner)
    bob = made.json()["data"]
    for role in ("source-admin", "privacy-admin", "unify-engage-admin"):
        other = token(running, role, role)
        for method, path, body in [
            ("GET", PATH, None),
            ("POST", PATH, new_user(running, "eve@example.com", "workspace-owner")),
            ("PATCH", f"{PATH}/{bob['id']}", {"roles": ["workspace-owner"]}),
            ("POST", f"{PATH}/{bob['id']}/password", {"password": "eve's new password"}),
        ]:
            answer = await running.client.request(method, path, json=body, headers=other)
            assert answer.status_code == 403, (role, method, path)
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert [(u["email"], u["roles"]) for u in listed] == [("bob@example.com", bob["roles"])]
    assert await login_status(running, "bob@example.com", PASSWORD) == 200


async def test_passwords_set_by_an_owner_or_changed_by_the_user(running: Running) -> None:
    owner = token(running, "owner")
    bob = (await running.client.post(PATH, json=new_user(running), headers=owner)).json()["data"]
    cy = (
        await running.client.post(PATH, json=new_user(running, "cy@example.com"), headers=owner)
    ).json()["data"]
    other_session = await sign_in(running, "bob@example.com")
    bobs = await sign_in(running, "bob@example.com")
    own = f"{PATH}/{bob['id']}/password"
    # Their own: the current password is needed, and must be right.
    missing = await running.client.post(own, json={"password": "bob's new password"}, headers=bobs)
    assert missing.status_code == 403
    wrong = await running.client.post(
        own, json={"password": "bob's new password", "current_password": "nope"}, headers=bobs
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
    assert await login_status(running, "bob@example.com", PASSWORD) == 200
    changed = await running.client.post(
        own, json={"password": "bob's new password", "current_password": PASSWORD}, headers=bobs
    )
    assert changed.status_code == 200, changed.text
    assert await login_status(running, "bob@example.com", PASSWORD) == 401
    assert await login_status(running, "bob@example.com", "bob's new password") == 200
    # The session that changed it stays, the other one ends.
    assert (await running.client.get("/api/v1/auth/me", headers=bobs)).status_code == 200
    assert (await running.client.get("/api/v1/auth/me", headers=other_session)).status_code == 401
    # Not someone else's.
    theirs = await running.client.post(
        f"{PATH}/{cy['id']}/password",
        json={"password": "bob sets cy's", "current_password": "bob's new password"},
        headers=bobs,
    )
    assert theirs.status_code == 403
    assert await login_status(running, "cy@example.com", PASSWORD) == 200
    # An owner sets anyone's, without the current one.
    set_by_owner = await running.client.post(
        f"{PATH}/{cy['id']}/password", json={"password": "cy's new password"}, headers=owner
    )
    assert set_by_owner.status_code == 200
    assert await login_status(running, "cy@example.com", "cy's new password") == 200

"""Access tokens over HTTP (`/api/v1/tokens`, workspace owners): list without secrets, create
(the secret shown once), revoke, rotate; bad input; nobody else may (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_roles import token
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PATH = "/api/v1/tokens"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_create_list_rotate_and_revoke(running: Running) -> None:
    owner = token(running, "owner")
    made = await running.client.post(
        PATH,
        json={"name": "ci", "roles": [f"source-read-only:{running.source.name}"]},
        headers=owner,
    )
    assert made.status_code == 201, made.text
    ci = made.json()["data"]
    secret = ci["token"]
    assert ci["roles"] == [f"source-read-only:{running.source.id}"] and ci["pii_access"] is False
    # The token works, with its roles only.
    assert (await running.client.get("/api/v1/sources", headers=bearer(secret))).status_code == 200
    assert (await running.client.get(PATH, headers=bearer(secret))).status_code == 403
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert {t["name"] for t in listed} == {"owner", "ci"}
    assert "token" not in listed[0] and secret not in json.dumps(listed)

    rotated = await running.client.post(f"{PATH}/ci/rotate", headers=owner)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["data"]["token"]
    assert new_secret != secret and rotated.json()["data"]["roles"] == ci["roles"]
    assert (await running.client.get("/api/v1/sources", headers=bearer(secret))).status_code == 401
    ok = await running.client.get("/api/v1/sources", headers=bearer(new_secret))
    assert ok.status_code == 200

    revoked = await running.client.delete(f"{PATH}/ci", headers=owner)
    assert revoked.status_code == 200
    assert [t["name"] for t in revoked.json()["data"]["revoked"]] == ["ci"]
    gone = await running.client.get("/api/v1/sources", headers=bearer(new_secret))
    assert gone.status_code == 401
    again = await running.client.delete(f"{PATH}/ci", headers=owner)
    assert (again.status_code, again.json()["code"]) == (400, "invalid_input")

    trail = (await running.client.get("/api/v1/audit-trail", headers=owner)).json()["data"]
    actions = [e["action"] for e in trail if e["resource"]["type"] == "token"]
    assert actions == ["token.revoke", "token.rotate", "token.create"]
    text = json.dumps(trail)
    assert secret not in text and new_secret not in text


async def test_bad_input_and_who_may(running: Running) -> None:
    owner = token(running, "owner")
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", PATH, {}, 400, "invalid_input"),
        ("POST", PATH, {"name": " "}, 400, "invalid_input"),
        ("POST", PATH, {"name": "x", "roles": ["emperor"]}, 400, "invalid_input"),
        ("POST", PATH, {"name": "x", "roles": "source-admin"}, 400, "invalid_input"),
        ("POST", PATH, {"name": "owner"}, 409, "conflict"),
        ("DELETE", f"{PATH}/nope", None, 404, "not_found"),
        ("POST", f"{PATH}/nope/rotate", None, 404, "not_found"),
    ]
    for method, path, body, status, code in cases:
        answer = await running.client.request(method, path, json=body, headers=owner)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (path, body)
    admin = token(running, "admin", "source-admin")
    for method, path, body in [
        ("GET", PATH, None),
        ("POST", PATH, {"name": "mine"}),
        ("POST", f"{PATH}/owner/rotate", None),
        ("DELETE", f"{PATH}/owner", None),
    ]:
        answer = await running.client.request(method, path, json=body, headers=admin)
        assert answer.status_code == 403, (method, path)
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert sorted(t["name"] for t in listed) == ["admin", "owner"]
    assert all(t["revoked_at"] is None for t in listed)

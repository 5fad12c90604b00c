"""Roles on tokens through the API: what each role may read and change, scoped grants, the 403
shape, PII access apart from permissions, revoke and rotate (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64

import pytest

from seamline.access.permissions import parse_grant, with_source_ids
from seamline.access.tokens import create_token, revoke_token, rotate_token
from seamline.collect.sources import new_source
from tests.api.test_profiles import send
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
FUNCTION = {"code": "def transform(event):\n    return event\n"}
AUDIENCE = {
    "key": "everyone",
    "definition": {"type": "event", "event": "Signed Up", "count": {">=": 1}},
}


def token(running: Running, name: str, *roles: str, pii_access: bool = False) -> dict[str, str]:
    """Bearer headers for a new token with `roles` (ROLE or ROLE:A,B, as the CLI takes them)."""
    known = [(s.id, s.name) for s in running.app.sources.list("default")]
    grants = tuple(with_source_ids(parse_grant(r), known) for r in roles)
    _, secret = create_token(running.app.tokens, "default", name, grants, pii_access=pii_access)
    return {"Authorization": f"Bearer {secret}"}


async def test_a_read_only_token_reads_but_gets_403_on_writes(running: Running) -> None:
    reader = token(running, "reader", "source-read-only")
    owner = token(running, "owner")
    path = f"/api/v1/source-connections/{running.source.id}"
    assert (await running.client.put(path, json={}, headers=owner)).status_code == 200
    assert (await running.client.get(path, headers=reader)).status_code == 200
    listed = await running.client.get("/api/v1/source-connections", headers=reader)
    assert [r["name"] for r in listed.json()["data"]] == [running.source.id]
    refused = await running.client.put(path, json={}, headers=reader)
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "forbidden"
    assert "sources:write" in body["message"] and "source-admin" in body["message"]
    assert body["details"] == {"permission": "sources:write", "resource": running.source.id}
    assert (await running.client.delete(path, headers=reader)).status_code == 403
    # Not its area at all: tracking plans, functions, Engage.
    for path in ("/api/v1/tracking-plans", "/api/v1/functions", "/api/v1/audiences"):
        assert (await running.client.get(path, headers=reader)).status_code == 403, path


async def test_a_scoped_source_admin_edits_its_source_and_not_another(running: Running) -> None:
    app = running.app.sources.create(new_source("App", "default"))
    admin = token(running, "web-admin", f"source-admin:{running.source.name},webhook-prod")
    owner = token(running, "owner")
    mine = f"/api/v1/source-connections/{running.source.id}"
    theirs = f"/api/v1/source-connections/{app.id}"
    assert (await running.client.put(mine, json={}, headers=admin)).status_code == 200
    refused = await running.client.put(theirs, json={}, headers=admin)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await running.client.put(theirs, json={}, headers=owner)).status_code == 200
    # Lists show only what the grant reaches; the list of every resource too.
    listed = await running.client.get("/api/v1/source-connections", headers=admin)
    assert [r["name"] for r in listed.json()["data"]] == [running.source.id]
    everything = await running.client.get("/api/v1/resources", headers=admin)
    assert [r["name"] for r in everything.json()["data"]] == [running.source.id]
    assert len((await running.client.get("/api/v1/resources", headers=owner)).json()["data"]) == 2
    # Its violations by source; not everyone's.
    ok = await running.client.get(f"/api/v1/violations?source={running.source.id}", headers=admin)
    assert ok.status_code == 200
    assert (await running.client.get("/api/v1/violations", headers=admin)).status_code == 403
    # Destinations it lists by name: status allowed, another destination refused.
    status = await running.client.get("/api/v1/destinations/webhook-prod/status", headers=admin)
    assert status.status_code == 200
    other = await running.client.get("/api/v1/destinations/braze/status", headers=admin)
    assert other.status_code == 403


async def test_unify_read_only_reads_profiles_but_cannot_edit_audiences(running: Running) -> None:
    await send(
        running,
        [{"type": "identify", "userId": "zoe", "traits": {"plan": "pro"}, "messageId": "m1"}],
    )
    unify = token(running, "analyst", "unify-read-only")
    secret = unify["Authorization"][7:]
    basic = {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}
    traits = "/v1/spaces/default/collections/users/profiles/user_id:zoe/traits"
    read = await running.client.get(traits, headers=basic)
    assert read.status_code == 200 and read.json()["traits"]["plan"] == "pro"
    created = await running.client.post("/api/v1/audiences", json=AUDIENCE, headers=unify)
    assert created.status_code == 403 and created.json()["code"] == "forbidden"
    assert (await running.client.get("/api/v1/audiences", headers=unify)).status_code == 403
    unmerge = "/v1/spaces/default/merges/1/unmerge"
    assert (await running.client.post(unmerge, headers=basic)).status_code == 403
    # Another space's profiles are not found, whatever the role.
    elsewhere = traits.replace("/default/", "/other/")
    assert (await running.client.get(elsewhere, headers=basic)).status_code == 404


async def test_a_token_without_pii_access_is_still_allowed(running: Running) -> None:
    await send(running, [{"type": "identify", "userId": "ann", "messageId": "m2"}])
    plain = token(running, "plain", "unify-engage-read-only")
    seeing = token(running, "seeing", "unify-engage-read-only", pii_access=True)
    path = "/v1/spaces/default/collections/users/profiles/user_id:ann/external_ids"
    for headers in (plain, seeing):
        assert (await running.client.get(path, headers=headers)).status_code == 200
    assert (await running.client.get("/api/v1/audiences", headers=plain)).status_code == 200
    [without, with_pii] = running.app.tokens.in_workspace("default")
    assert (without.pii_access, with_pii.pii_access) == (False, True)


@pytest.mark.parametrize(
    ("roles", "status"),
    [
        ((), 200),  # an owner's token
        (("function-admin",), 200),
        (("function-read-only",), 403),
        (("tracking-plan-admin",), 403),
        (("source-admin", "unify-engage-admin", "privacy-admin"), 403),
    ],
)
async def test_only_function_admins_and_owners_save_custom_functions(
    running: Running, roles: tuple[str, ...], status: int
) -> None:
    headers = token(running, "t", *roles)
    saved = await running.client.put("/api/v1/functions/tag", json=FUNCTION, headers=headers)
    assert saved.status_code == status, saved.text
    deleted = await running.client.delete("/api/v1/functions/tag", headers=headers)
    assert deleted.status_code == (200 if status == 200 else 403)


async def test_revoked_gets_401_at_once_and_rotated_keeps_its_grants(running: Running) -> None:
    record, old = create_token(
        running.app.tokens, "default", "ci", (parse_grant("tracking-plan-admin"),)
    )
    path = "/api/v1/tracking-plans"
    bearer = {"Authorization": f"Bearer {old}"}
    assert (await running.client.get(path, headers=bearer)).status_code == 200
    rotated, new = rotate_token(running.app.tokens, "default", "ci")
    assert (rotated.name, rotated.grants, rotated.pii_access) == (
        "ci",
        record.grants,
        record.pii_access,
    )
    assert rotated.id != record.id and new != old
    answer = await running.client.get(path, headers=bearer)
    assert answer.status_code == 401 and answer.json()["details"] == {"reason": "unknown_token"}
    fresh = {"Authorization": f"Bearer {new}"}
    assert (await running.client.get(path, headers=fresh)).status_code == 200
    assert (await running.client.get("/api/v1/functions", headers=fresh)).status_code == 403
    revoke_token(running.app.tokens, "default", "ci")
    assert (await running.client.get(path, headers=fresh)).status_code == 401

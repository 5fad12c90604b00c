"""Sources over HTTP (`/api/v1/sources`): create, read, rename, disable, rotate and the schema,
as the console uses them; who may do what; bad input; the audit trail (on SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_profiles import send
from tests.api.test_roles import token
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PATH = "/api/v1/sources"


async def track(running: Running, write_key: str) -> int:
    """The status /v1/track answers a message sent with `write_key`."""
    answer = await running.client.post(
        "/v1/track", json={"userId": "u1", "event": "Tried", "writeKey": write_key}
    )
    return answer.status_code


async def test_an_owner_creates_renames_disables_and_enables_a_source(running: Running) -> None:
    owner = token(running, "owner")
    made = await running.client.post(PATH, json={"name": " App "}, headers=owner)
    assert made.status_code == 201, made.text
    source = made.json()["data"]
    assert source["name"] == "App" and source["enabled"] and not source["write_key_masked"]
    key = source["write_key"]
    listed = (await running.client.get(PATH, headers=owner)).json()["data"]
    assert [s["name"] for s in listed] == [running.source.name, "App"]
    assert [s["write_key"] for s in listed] == [running.key, key]
    by_name = await running.client.get(f"{PATH}/app", headers=owner)
    assert by_name.json()["data"]["id"] == source["id"]

    renamed = await running.client.patch(
        f"{PATH}/{source['id']}", json={"name": "Mobile"}, headers=owner
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Mobile"
    assert await track(running, key) == 200  # the collect worker caches the key now
    disabled = await running.client.patch(f"{PATH}/Mobile", json={"enabled": False}, headers=owner)
    assert disabled.status_code == 200 and disabled.json()["data"]["enabled"] is False
    refused = await running.client.post(
        "/v1/track", json={"userId": "u1", "event": "Tried", "writeKey": key}
    )
    assert refused.status_code == 401
    assert "unknown or disabled write key" in refused.json()["message"]
    await running.client.patch(f"{PATH}/Mobile", json={"enabled": True}, headers=owner)
    assert await track(running, key) == 200


async def test_bad_input_is_refused_and_changes_nothing(running: Running) -> None:
    owner = token(running, "owner")
    await running.client.post(PATH, json={"name": "App"}, headers=owner)
    cases: list[tuple[str, str, Any, int, str]] = [
        ("post", PATH, {}, 400, "invalid_input"),
        ("post", PATH, {"name": "  "}, 400, "invalid_input"),
        ("post", PATH, {"name": 3}, 400, "invalid_input"),
        ("post", PATH, ["App"], 400, "invalid_input"),
        ("post", PATH, {"name": "app"}, 409, "conflict"),
        ("patch", f"{PATH}/App", {"enabeld": False}, 400, "invalid_input"),
        ("patch", f"{PATH}/App", {"enabled": "no"}, 400, "invalid_input"),
        ("patch", f"{PATH}/App", {"name": running.source.name.upper()}, 409, "conflict"),
        ("patch", f"{PATH}/nope", {"enabled": False}, 404, "not_found"),
        ("get", f"{PATH}/nope", None, 404, "not_found"),
        ("post", f"{PATH}/nope/rotate-write-key", None, 404, "not_found"),
        ("get", f"{PATH}/App/schema?days=0", None, 400, "invalid_input"),
        ("get", f"{PATH}/App/schema?days=91", None, 400, "invalid_input"),
    ]
    before = (await running.client.get(PATH, headers=owner)).json()
    for method, path, body, status, code in cases:
        sent: dict[str, Any] = {"headers": owner}
        if body is not None:
            sent["json"] = body
        answer = await running.client.request(method.upper(), path, **sent)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (path, body)
        assert answer.json()["message"]
    assert (await running.client.get(PATH, headers=owner)).json() == before


async def test_rotating_a_write_key_stops_the_old_one_and_the_trail_holds_no_key(
    running: Running,
) -> None:
    owner = token(running, "owner")
    old = running.key
    assert await track(running, old) == 200
    rotated = await running.client.post(
        f"{PATH}/{running.source.id}/rotate-write-key", headers=owner
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["data"]["write_key"]
    assert new != old
    assert await track(running, old) == 401
    assert await track(running, new) == 200
    made = await running.client.post(PATH, json={"name": "App"}, headers=owner)
    made_key = made.json()["data"]["write_key"]
    await running.client.patch(f"{PATH}/App", json={"name": "Apps"}, headers=owner)
    trail = await running.client.get("/api/v1/audit-trail", headers=owner)
    entries = trail.json()["data"]
    actions = [(e["action"], e["resource"]["id"]) for e in entries]
    app_id = made.json()["data"]["id"]
    assert ("source.rotate_write_key", running.source.id) in actions
    assert ("source.create", app_id) in actions and ("source.update", app_id) in actions
    text = json.dumps(entries)
    for key in (old, new, made_key):
        assert key not in text


async def test_a_read_only_role_reads_masked_keys_and_changes_nothing(running: Running) -> None:
    reader = token(running, "reader", "source-read-only")
    listed = await running.client.get(PATH, headers=reader)
    assert listed.status_code == 200
    [shown] = listed.json()["data"]
    assert shown["write_key_masked"] and running.key not in json.dumps(shown)
    assert shown["write_key"].endswith(running.key[-4:])
    one = f"{PATH}/{running.source.id}"
    for method, path, body in [
        ("POST", PATH, {"name": "App"}),
        ("PATCH", one, {"enabled": False}),
        ("PATCH", one, {"name": "Other"}),
        ("POST", f"{one}/rotate-write-key", None),
    ]:
        answer = await running.client.request(method, path, json=body, headers=reader)
        assert answer.status_code == 403, path
        assert answer.json()["code"] == "forbidden"
    [after] = (await running.client.get(PATH, headers=token(running, "owner"))).json()["data"]
    assert (after["name"], after["enabled"]) == (running.source.name, True)
    assert after["write_key"] == running.key
    assert await track(running, running.key) == 200
    # No grant in the sources area at all: 403 on reading too.
    stranger = token(running, "planner", "tracking-plan-admin")
    assert (await running.client.get(PATH, headers=stranger)).status_code == 403


async def test_a_scoped_source_admin_sees_and_changes_only_its_sources(running: Running) -> None:
    owner = token(running, "owner")
    made = await running.client.post(PATH, json={"name": "App"}, headers=owner)
    other = made.json()["data"]
    admin = token(running, "web-admin", f"source-admin:{running.source.name}")
    listed = (await running.client.get(PATH, headers=admin)).json()["data"]
    assert [(s["id"], s["write_key"]) for s in listed] == [(running.source.id, running.key)]
    mine = await running.client.patch(
        f"{PATH}/{running.source.name}", json={"name": "Site"}, headers=admin
    )
    assert mine.status_code == 200
    for method, path, body in [
        ("GET", f"{PATH}/App", None),
        ("PATCH", f"{PATH}/App", {"enabled": False}),
        ("POST", f"{PATH}/{other['id']}/rotate-write-key", None),
        ("GET", f"{PATH}/App/schema", None),
        ("POST", PATH, {"name": "Third"}),
    ]:
        answer = await running.client.request(method, path, json=body, headers=admin)
        assert answer.status_code == 403, (method, path)
    still = (await running.client.get(f"{PATH}/App", headers=owner)).json()["data"]
    assert still["enabled"] and still["write_key"] == other["write_key"]
    assert len((await running.client.get(PATH, headers=owner)).json()["data"]) == 2


async def test_the_schema_counts_events_properties_and_traits(running: Running) -> None:
    await send(
        running,
        [
            {"type": "track", "userId": "u1", "event": "Order Completed",
             "properties": {"total": 10, "currency": "EUR"}},
            {"type": "track", "userId": "u2", "event": "Order Completed",
             "properties": {"total": 12, "coupon": {"code": "X"}}},
            {"type": "track", "userId": "u2", "event": "Signed Up"},
            {"type": "page", "userId": "u1", "name": "Home", "properties": {"path": "/"}},
            {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "plan": "pro"}},
            {"type": "identify", "userId": "u2", "traits": {"plan": "free"}},
        ],
    )  # fmt: skip
    owner = token(running, "owner")
    answer = await running.client.get(f"{PATH}/{running.source.name}/schema", headers=owner)
    assert answer.status_code == 200, answer.text
    schema = answer.json()["data"]
    assert schema["source_id"] == running.source.id and schema["days"] == 7
    events = {(e["type"], e["event"]): e for e in schema["events"]}
    assert set(events) == {
        ("track", "Order Completed"),
        ("track", "Signed Up"),
        ("page", "Home"),
        ("identify", None),
    }
    order = events[("track", "Order Completed")]
    assert order["count"] == 2 and order["last_seen"] is not None
    assert order["properties"] == [
        {"path": "total", "count": 2},
        {"path": "coupon", "count": 1},
        {"path": "currency", "count": 1},
    ]
    assert events[("track", "Signed Up")]["properties"] == []
    assert events[("page", "Home")]["properties"] == [{"path": "path", "count": 1}]
    assert events[("identify", None)]["count"] == 2
    assert schema["traits"] == [{"path": "plan", "count": 2}, {"path": "email", "count": 1}]
    # Another source sent none of it.
    await running.client.post(PATH, json={"name": "App"}, headers=owner)
    empty = await running.client.get(f"{PATH}/App/schema?days=1", headers=owner)
    assert empty.json()["data"]["events"] == [] and empty.json()["data"]["traits"] == []

"""The audit trail over HTTP: configuration changes and profile reads are recorded in the
caller's name with secrets redacted; `GET /api/v1/audit-trail` (owners only) filters, pages and
exports CSV; bad filters get 400. On SQLite and PostgreSQL (tests/api/conftest.py)."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import pytest
from sqlalchemy import text

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from tests.collect.conftest import CLIENT_IP, Running

pytestmark = pytest.mark.anyio
TRAIL = "/api/v1/audit-trail"
SECRET = "s3cr3t-marker-41"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def owner(running: Running, name: str = "ops") -> dict[str, str]:
    _, secret = create_token(running.app.tokens, "default", name)
    return bearer(secret)


async def trail(running: Running, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await running.client.get(TRAIL, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_destination_changes_are_recorded_with_secrets_redacted(running: Running) -> None:
    ops = owner(running)
    hook = "/api/v1/destinations/hook"
    document = {"type": "webhook", "settings": {"shared_secret": SECRET}}
    headers = {**ops, "X-Request-Id": "req-1"}
    assert (await running.client.put(hook, json=document, headers=headers)).status_code == 200
    # The same document again is no change, so it is not recorded.
    assert (await running.client.put(hook, json=document, headers=ops)).status_code == 200
    rotated = {"type": "webhook", "settings": {"shared_secret": SECRET + "-new"}}
    assert (await running.client.put(hook, json=rotated, headers=ops)).status_code == 200
    assert (await running.client.delete(hook, headers=ops)).status_code == 200

    found = (await trail(running, ops, resource_type="destination"))["data"]
    assert [e["action"] for e in found] == ["resource.delete", "resource.update", "resource.create"]
    deleted, updated, created = found
    assert created["actor"] == {"kind": "token", "id": created["actor"]["id"], "name": "ops"}
    assert created["resource"] == {"type": "destination", "id": "hook"}
    assert created["origin"] == {"ip": CLIENT_IP, "request_id": "req-1"}
    assert created["before"] is None
    assert created["after"]["settings"] == {"shared_secret": "[secret]"}
    # A changed secret is an update even though both sides show `[secret]`.
    assert updated["before"]["settings"] == updated["after"]["settings"]
    assert deleted["after"] is None and deleted["before"]["type"] == "webhook"
    with running.app.parts.state.connect() as conn:
        stored = " ".join(conn.execute(text("SELECT payload FROM audit_trail")).scalars())
    assert SECRET not in stored


async def test_engage_definitions_are_recorded(running: Running) -> None:
    ops = owner(running)
    definition = {"condition": {"performed": {"event": "Order Completed", "within": "1h"}}}
    body = {"key": "buyers", "definition": definition}
    answer = await running.client.post("/api/v1/audiences", json=body, headers=ops)
    assert answer.status_code == 201, answer.text
    [entry] = (await trail(running, ops, resource_type="audience"))["data"]
    assert entry["action"] == "resource.create" and entry["resource"]["id"] == "buyers"


async def test_each_profile_api_request_records_one_read_by_profile_id(running: Running) -> None:
    """The entry names the canonical profile id, never the identifier asked (an email would
    outlive the person's deletion in this append-only trail)."""
    from seamline.profiles.lookup import find_profile
    from tests.api.test_profiles import send

    ops = owner(running)
    await send(running, [{"type": "identify", "userId": "zoe-77", "messageId": "m1"}])
    _, reader_secret = create_token(
        running.app.tokens, "default", "reader", (Grant(role="unify-read-only"),)
    )
    basic = {"Authorization": "Basic " + base64.b64encode(f"{reader_secret}:".encode()).decode()}
    base = "/v1/spaces/default/collections/users/profiles"
    traits = await running.client.get(base + "/user_id:zoe-77/traits", headers=basic)
    assert traits.status_code == 200, traits.text
    missing = await running.client.get(base + "/email:nobody-77@example.com/traits", headers=basic)
    assert missing.status_code == 404
    search = "/v1/spaces/default/profiles"
    await running.client.get(search, params={"identifier": "user_id:zoe-77"}, headers=basic)
    found = (await trail(running, ops, action="profile.read"))["data"]
    profile_id = find_profile(running.app.parts.identity, "default", "user_id:zoe-77")
    [searched, unknown, known] = found
    assert {e["actor"]["name"] for e in found} == {"reader"}
    assert known["resource"] == {"type": "profile", "id": profile_id}
    assert unknown["resource"]["id"] == "unknown" and unknown["after"] == {"found": False}
    assert searched["resource"]["id"] == "search" and searched["after"] == {"by": ["identifier"]}
    with running.app.parts.state.connect() as conn:
        stored = " ".join(conn.execute(text("SELECT payload FROM audit_trail")).scalars())
    assert "zoe-77" not in stored and "nobody-77" not in stored


async def test_filters_and_paging(running: Running) -> None:
    ops = owner(running)
    for i in range(5):
        plan = {"events": {"Signed Up": {}}}
        path = f"/api/v1/tracking-plans/plan-{i}"
        assert (await running.client.put(path, json=plan, headers=ops)).status_code == 200
    first = await trail(running, ops, action="resource.create", limit=2)
    assert [e["resource"]["id"] for e in first["data"]] == ["plan-4", "plan-3"]
    second = await trail(running, ops, action="resource.create", limit=2, cursor=first["next"])
    assert [e["resource"]["id"] for e in second["data"]] == ["plan-2", "plan-1"]
    third = await trail(running, ops, action="resource.create", limit=2, cursor=second["next"])
    assert [e["resource"]["id"] for e in third["data"]] == ["plan-0"]
    assert third["next"] is None
    only = await trail(running, ops, resource_type="tracking_plan", resource_id="plan-3")
    assert [e["resource"]["id"] for e in only["data"]] == ["plan-3"]
    assert (await trail(running, ops, actor="ops", since="2000-01-01"))["data"]
    assert (await trail(running, ops, actor="somebody-else"))["data"] == []
    assert (await trail(running, ops, until="2000-01-01T00:00:00Z"))["data"] == []


@pytest.mark.parametrize("how", ["query", "accept"])
async def test_csv_export(running: Running, how: str) -> None:
    ops = owner(running)
    weird = "=HYPERLINK(1)"
    path = f"/api/v1/tracking-plans/{weird}"
    assert (await running.client.put(path, json={"events": {}}, headers=ops)).status_code == 200
    if how == "query":
        answer = await running.client.get(TRAIL, headers=ops, params={"format": "csv"})
    else:
        answer = await running.client.get(TRAIL, headers={**ops, "Accept": "text/csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    [row] = rows
    assert row["action"] == "resource.create" and row["actor_name"] == "ops"
    assert row["resource_id"] == "'" + weird  # not a formula in a spreadsheet
    assert row["ip"] == CLIENT_IP


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "until"),
        ({"cursor": "abc"}, "cursor"),
        ({"format": "xml"}, "format"),
        ({"action": " "}, "action"),
    ],
)
async def test_bad_filters_get_400_naming_the_parameter(
    running: Running, params: dict[str, str], parameter: str
) -> None:
    answer = await running.client.get(TRAIL, headers=owner(running), params=params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_input"
    assert answer.json()["details"] == {"parameter": parameter}


async def test_a_limit_over_1000_gets_400(running: Running) -> None:
    answer = await running.client.get(TRAIL, headers=owner(running), params={"limit": 1001})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input"


async def test_only_owners_read_the_trail(running: Running) -> None:
    _, secret = create_token(running.app.tokens, "default", "admin", (Grant(role="source-admin"),))
    answer = await running.client.get(TRAIL, headers=bearer(secret))
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"


async def test_reruns_and_replays_are_recorded(running: Running) -> None:
    ops = owner(running)
    rerun = await running.client.post("/api/v1/held/rerun", json={"source": "src_x"}, headers=ops)
    assert rerun.status_code == 200, rerun.text
    replay = await running.client.post("/api/v1/destinations/gone/dead-letters/replay", headers=ops)
    assert replay.status_code == 200, replay.text
    found = (await trail(running, ops))["data"]
    assert [(e["action"], e["resource"]["id"], e["after"]) for e in found] == [
        ("destination.replay_dead", "gone", {"queued": 0}),
        ("held.rerun", "src_x", {"source": "src_x", "ids": None, "rerun": 0}),
    ]


async def test_the_csv_export_reads_every_page(running: Running) -> None:
    from seamline.access.audit import AuditFilter, record
    from seamline.access.principal import cli_principal
    from seamline.api.audit import csv_lines

    trail = running.app.parts.audit
    for i in range(7):
        record(trail, cli_principal("default"), "source.create", "source", f"s{i}")
    text = "".join(csv_lines(trail, "default", AuditFilter(), None, page_size=3))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["resource_id"] for row in rows] == [f"s{i}" for i in reversed(range(7))]

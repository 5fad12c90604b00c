"""Identity rules over the management API: who may read and change them, drafts, bad documents,
the audit trail, preview and apply with re-resolution (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.identity.identifiers import Identifier
from seamline.roles.names import COLLECT
from tests.api.test_profiles import send
from tests.api.test_roles import token
from tests.collect.conftest import CLIENT_IP, Running

pytestmark = pytest.mark.anyio
RULES = "/api/v1/identity/rules"
CRM = {"custom": [{"name": "crm", "path": "properties.crm"}]}


async def test_readers_read_and_only_identity_writers_save(running: Running) -> None:
    reader = token(running, "reader", "unify-read-only")
    admin = token(running, "admin", "identity-admin")
    stranger = token(running, "stranger", "source-read-only")

    shown = await running.client.get(RULES, headers=reader)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["active"]["version"] == 1 and body["active"]["created_by"] == "settings"
    assert [v["state"] for v in body["versions"]] == ["active"]
    assert body["defaults"]["types"]["user_id"] == {"priority": 1, "limit": 1}
    refused = await running.client.get(RULES, headers=stranger)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"

    denied = await running.client.put(RULES, json={"document": CRM}, headers=reader)
    assert denied.status_code == 403 and "identity:write" in denied.json()["message"]
    saved = await running.client.put(RULES, json={"document": CRM}, headers=admin)
    assert saved.status_code == 201, saved.text
    assert saved.json() == {
        "version": 2,
        "state": "draft",
        "document": {"types": {}, "blocked_patterns": [], "custom": CRM["custom"]},
    }
    one = (await running.client.get(f"{RULES}/2", headers=reader)).json()
    assert (one["state"], one["created_by"], one["progress"], one["error"]) == (
        "draft",
        "token:admin",
        None,
        None,
    )
    # Saving never changes the rules in force, and it is in the audit trail.
    assert (await running.client.get(RULES, headers=reader)).json()["active"]["version"] == 1
    trail = await running.client.get(
        "/api/v1/audit-trail",
        params={"action": "identity_rules.draft"},
        headers=token(running, "owner"),
    )
    [entry] = trail.json()["data"]
    assert entry["resource"] == {"type": "identity_rules", "id": "2"}
    assert entry["after"]["custom"] == CRM["custom"]


BAD: list[tuple[str, Any, str]] = [
    ("no document key", {"types": {}}, 'send {"document"'),
    ("a priority of 0", {"document": {"types": {"email": {"priority": 0}}}}, "priority"),
    ("a catastrophic pattern", {"document": {"blocked_patterns": ["(a+)+$"]}}, "nested"),
    ("an unknown key", {"document": {"limits": {}}}, "unknown key 'limits'"),
]


async def test_bad_documents_and_versions_are_refused(running: Running) -> None:
    owner = token(running, "owner")
    for case, body, message in BAD:
        answer = await running.client.put(RULES, json=body, headers=owner)
        assert answer.status_code == 400, case
        assert answer.json()["code"] == "invalid_identity_rules", case
        assert message in answer.json()["message"], case
    versions = (await running.client.get(RULES, headers=owner)).json()["versions"]
    assert [v["version"] for v in versions] == [1]
    missing = await running.client.get(f"{RULES}/9", headers=owner)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert (await running.client.post(f"{RULES}/9/preview", headers=owner)).status_code == 404
    again = await running.client.post(f"{RULES}/1/apply", headers=owner)
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def visit(message_id: str, anonymous_id: str, crm: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Visited",
        "anonymousId": anonymous_id,
        "properties": {"crm": crm},
        "messageId": message_id,
    }


async def test_preview_then_apply_merges_history_under_the_new_version(
    tmp_path: Path, state_url: str
) -> None:
    # As `seamline serve` runs it: the API in one process, the pipeline in another, which the
    # re-resolution pauses. SQLite is the data directory's own state store.
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=state_url if state_url.startswith("postgresql") else None,
    )
    bootstrap(settings)
    everything = Seamline(settings)
    await everything.start()
    try:
        async with client_of(everything) as client:
            running = Running(everything, everything.sources.list("default")[0], client, tmp_path)
            owner = token(running, "owner")
            await send(running, [visit("m1", "a1", "c1"), visit("m2", "a2", "c1")])
            saved = await client.put(RULES, json={"document": CRM}, headers=owner)
            version = saved.json()["version"]
            preview = await client.post(f"{RULES}/{version}/preview", headers=owner)
    finally:
        await everything.stop()
    assert preview.status_code == 200, preview.text
    found = preview.json()
    assert (found["profiles_before"], found["profiles_after"], found["merges"]) == (2, 1, 1)
    assert found["examples"][0]["kind"] == "merge"

    api = Seamline(settings, roles=frozenset({COLLECT}))
    await api.start()
    try:
        async with client_of(api) as client:
            started = await client.post(f"{RULES}/{version}/apply", headers=owner)
            assert started.status_code == 202, started.text
            assert started.json() == {"version": version, "state": "applying"}
            shown: dict[str, Any] = {}
            for _ in range(600):
                shown = (await client.get(f"{RULES}/{version}", headers=owner)).json()
                if shown["state"] in ("active", "failed"):
                    break
                await asyncio.sleep(0.05)
            assert shown["state"] == "active", shown
        people = {
            api.identity.canonical("default", Identifier("anonymous_id", a)) for a in ("a1", "a2")
        }
        assert len(people) == 1 and None not in people  # history merged under the new rules
    finally:
        await api.stop()


def client_of(app: Seamline) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")

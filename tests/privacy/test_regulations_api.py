"""The Privacy API: Segment's regulation routes, shapes and errors, and what each type does."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from seamline.access.permissions import parse_grant
from seamline.access.tokens import create_token
from seamline.app import Seamline
from seamline.identity.identifiers import Identifier
from tests.collect.conftest import Running
from tests.test_cli import cli

pytestmark = pytest.mark.anyio
BASE = "/api/v1/regulations"


@pytest.fixture(autouse=True)
def _both_state_stores(state_url: str) -> str:
    return state_url


@pytest.fixture
def headers(running: Running) -> dict[str, str]:
    _, secret = create_token(running.app.tokens, "default", "privacy-tests")
    return {"Authorization": f"Bearer {secret}"}


async def send(running: Running, batch: list[dict[str, Any]]) -> None:
    answer = await running.client.post("/v1/batch", json={"batch": batch, "writeKey": running.key})
    assert answer.status_code == 200, answer.text
    await caught_up(running)


async def caught_up(running: Running) -> None:
    for _ in range(1000):
        if running.app.caught_up():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the pipeline did not catch up")


async def finished(running: Running, headers: dict[str, str], regulation_id: str) -> dict[str, Any]:
    for _ in range(600):
        answer = await running.client.get(f"{BASE}/{regulation_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()["data"]["regulation"]
        if found["overallStatus"] not in ("INITIALIZED", "RUNNING"):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"regulation {regulation_id} did not finish: {found}")


def story(user: str, anon: str, email: str, first: int) -> list[dict[str, Any]]:
    return [
        {"type": "page", "anonymousId": anon, "name": "Home", "messageId": f"{user}-{first}"},
        {
            "type": "identify",
            "anonymousId": anon,
            "userId": user,
            "traits": {"email": email, "note": f"note of {user}"},
            "messageId": f"{user}-{first + 1}",
        },
        {
            "type": "track",
            "userId": user,
            "event": "Order Completed",
            "properties": {"total": 20},
            "messageId": f"{user}-{first + 2}",
        },
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_regulation_type"),
        (
            {"regulationType": "DELETE_EVERYTHING", "subjectType": "USER_ID", "subjectIds": ["a"]},
            "invalid_regulation_type",
        ),
        (
            {"regulationType": "SUPPRESS_ONLY", "subjectType": "PHONE", "subjectIds": ["a"]},
            "invalid_subject_type",
        ),
        (
            {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": []},
            "invalid_subject_ids",
        ),
        (
            {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": "a"},
            "invalid_subject_ids",
        ),
        (
            {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": [7]},
            "invalid_subject_ids",
        ),
        (
            {"regulationType": "SUPPRESS_ONLY", "subjectType": "EMAIL", "subjectIds": ["no-at"]},
            "invalid_subject_ids",
        ),
        (
            {
                "regulationType": "SUPPRESS_ONLY",
                "subjectType": "USER_ID",
                "subjectIds": [str(i) for i in range(5001)],
            },
            "too_many_subject_ids",
        ),
        (
            {
                "regulationType": "SUPPRESS_ONLY",
                "subjectType": "USER_ID",
                "subjectIds": ["a"],
                "extra": 1,
            },
            "unknown_field",
        ),
        ([1, 2], "invalid_body"),
    ],
)
async def test_bad_requests_get_400_with_a_stable_code_and_store_nothing(
    running: Running, headers: dict[str, str], body: Any, code: str
) -> None:
    answer = await running.client.post(BASE, json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    listed = await running.client.get(BASE, headers=headers)
    assert listed.json()["data"]["regulations"] == []


async def test_an_unknown_source_or_regulation_is_404(
    running: Running, headers: dict[str, str]
) -> None:
    body = {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["a"]}
    answer = await running.client.post(f"{BASE}/sources/nope", json=body, headers=headers)
    assert answer.status_code == 404
    answer = await running.client.get(f"{BASE}/reg_missing", headers=headers)
    assert answer.status_code == 404
    assert (await running.client.get(BASE)).status_code == 401


async def test_suppression_drops_at_collect_and_unsuppress_lifts_it(
    running: Running, headers: dict[str, str]
) -> None:
    await send(running, story("sam", "sam-anon", "sam@x.io", 1))
    stored = running.app.event_store.count()
    body = {"regulationType": "SUPPRESS_ONLY", "subjectType": "EMAIL", "subjectIds": ["SAM@x.io"]}
    created = await running.client.post(BASE, json=body, headers=headers)
    assert created.status_code == 200, created.text
    regulation = created.json()["data"]
    assert regulation["regulateId"].startswith("reg_")
    assert regulation["regulation"]["overallStatus"] == "FINISHED"
    await asyncio.sleep(1.1)  # collect workers read suppressions every second
    # By her anonymous id only: suppression covers every identifier of the person.
    answer = await running.client.post(
        "/v1/page", json={"anonymousId": "sam-anon", "writeKey": running.key}
    )
    assert answer.status_code == 200  # answered as Segment does, and dropped
    await send(running, [{"type": "track", "userId": "tim", "event": "E"}])
    assert running.app.event_store.count() == stored + 1  # only tim's
    suppressed = running.app.metrics.suppressed._value.get()
    assert suppressed == 1

    body["regulationType"] = "UNSUPPRESS"
    lifted = await running.client.post(BASE, json=body, headers=headers)
    assert lifted.json()["data"]["regulation"]["overallStatus"] == "FINISHED"
    await asyncio.sleep(1.1)
    await send(running, [{"type": "track", "userId": "sam", "event": "Back"}])
    assert running.app.event_store.count() == stored + 2
    listed = (await running.client.get(BASE, headers=headers)).json()["data"]["regulations"]
    assert [r["regulationType"] for r in listed] == ["UNSUPPRESS", "SUPPRESS_ONLY"]
    assert all("subjectIds" in r for r in listed)


async def test_suppress_with_delete_erases_the_person_and_keeps_everyone_else(
    running: Running, headers: dict[str, str]
) -> None:
    await send(
        running, story("ann", "ann-anon", "ann@x.io", 1) + story("bob", "bob-anon", "bob@x.io", 1)
    )
    before = running.app.event_store.count()
    body = {
        "regulationType": "SUPPRESS_WITH_DELETE",
        "subjectType": "USER_ID",
        "subjectIds": ["ann"],
    }
    created = await running.client.post(BASE, json=body, headers=headers)
    assert created.status_code == 200, created.text
    regulation = await finished(running, headers, created.json()["data"]["regulateId"])
    assert regulation["overallStatus"] == "FINISHED", regulation
    statuses = {t["id"]: t["status"] for t in regulation["streamStatus"][0]["destinationStatus"]}
    assert statuses == {
        "seamline:log": "FINISHED",
        "seamline:event-store": "FINISHED",
        "seamline:state-store": "FINISHED",
        "seamline:dedup": "FINISHED",
    }
    assert running.app.event_store.count() == before - 3
    assert (
        running.app.identity.canonical(
            "default",
            __import__("seamline.identity.identifiers", fromlist=["Identifier"]).Identifier(
                "user_id", "ann"
            ),
        )
        is None
    )
    # Later messages from her are not stored; bob's are.
    await asyncio.sleep(0.1)
    await send(
        running,
        [
            {"type": "track", "userId": "ann", "event": "Again"},
            {"type": "track", "userId": "bob", "event": "Again"},
        ],
    )
    assert running.app.event_store.count() == before - 3 + 1


async def test_only_privacy_admins_and_owners_create_regulations_and_the_trail_keeps_no_id(
    running: Running, headers: dict[str, str]
) -> None:
    body = {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["zed"]}
    for role, allowed in (("source-admin", False), ("privacy-admin", True)):
        _, secret = create_token(running.app.tokens, "default", role, (parse_grant(role),))
        scoped = {"Authorization": f"Bearer {secret}"}
        answer = await running.client.post(BASE, json=body, headers=scoped)
        if allowed:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 403
            assert answer.json()["code"] == "forbidden"
    trail = await running.client.get(
        "/api/v1/audit-trail", params={"action": "regulation.create"}, headers=headers
    )
    assert trail.status_code == 200, trail.text
    (entry,) = trail.json()["data"]
    assert entry["after"]["subjectCount"] == 1
    assert "zed" not in trail.text  # the append-only trail must never name the person


async def test_a_rebuild_after_a_deletion_never_brings_the_person_back(
    running: Running, headers: dict[str, str]
) -> None:
    await send(
        running,
        story("cleo", "cleo-anon", "cleo@x.io", 1) + story("dan", "dan-anon", "dan@x.io", 1),
    )
    body = {
        "regulationType": "DELETE_INTERNAL",
        "subjectType": "EMAIL",
        "subjectIds": ["cleo@x.io"],
    }
    created = await running.client.post(BASE, json=body, headers=headers)
    regulation = await finished(running, headers, created.json()["data"]["regulateId"])
    assert regulation["overallStatus"] == "FINISHED"
    kept = running.app.event_store.count()
    await running.app.stop()
    url = running.app.settings.database_url
    rebuilt = cli(
        "--data-dir",
        str(running.data_dir),
        "rebuild",
        env={"SEAMLINE_DATABASE_URL": url} if url else None,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = Seamline(running.app.settings, roles=frozenset())
    try:
        assert again.event_store.count() == kept
        for identifier in (Identifier("user_id", "cleo"), Identifier("email", "cleo@x.io")):
            assert again.identity.canonical("default", identifier) is None
        assert again.identity.canonical("default", Identifier("user_id", "dan")) is not None
    finally:
        again.parts.close()


async def test_a_disabled_destination_is_asked_too_and_one_that_cannot_delete_says_so(
    running: Running, headers: dict[str, str]
) -> None:
    made = await running.client.put(
        "/api/v1/destinations/quiet", json={"type": "webhook", "enabled": False}, headers=headers
    )
    assert made.status_code in (200, 201), made.text
    await send(running, story("eve", "eve-anon", "eve@x.io", 1))
    body = {"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["eve"]}
    created = await running.client.post(BASE, json=body, headers=headers)
    regulation = await finished(running, headers, created.json()["data"]["regulateId"])
    (quiet,) = [t for t in regulation["streamStatus"][0]["destinationStatus"] if t["id"] == "quiet"]
    # A webhook with no deletion_url and no literal URL has nowhere to send the deletion.
    assert quiet["status"] == "NOT_SUPPORTED" and quiet["errString"]
    assert regulation["overallStatus"] == "FINISHED"  # NOT_SUPPORTED does not count against it


async def test_a_regulation_interrupted_by_a_stop_is_finished_after_the_restart(
    running: Running, headers: dict[str, str]
) -> None:
    await send(running, story("fay", "fay-anon", "fay@x.io", 1))
    body = {"regulationType": "DELETE_INTERNAL", "subjectType": "USER_ID", "subjectIds": ["fay"]}
    created = await running.client.post(BASE, json=body, headers=headers)
    regulation_id = created.json()["data"]["regulateId"]
    await running.app.stop()  # within the settle wait: the worker lets go of it
    stopped = running.app.parts.regulation_ops.get("default", regulation_id)
    assert stopped.overall_status in ("INITIALIZED", "RUNNING")
    again = Seamline(running.app.settings)
    await again.start()
    try:
        transport = httpx.ASGITransport(app=again)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            restarted = Running(again, running.source, client, running.data_dir)
            regulation = await finished(restarted, headers, regulation_id)
        assert regulation["overallStatus"] == "FINISHED"
        assert again.identity.canonical("default", Identifier("user_id", "fay")) is None
    finally:
        await again.stop()

"""PII access over HTTP: the same reader with and without the flag, through the Profile API
and the management API's violations and held messages."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from seamline.access.users import create_user
from seamline.protocols.records import HeldMessage, ViolationRecord
from seamline.store.users_sql import SqlUserStore
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
BASE = "/v1/spaces/default/collections/users/profiles"
READER = (Grant(role="unify-read-only"), Grant(role="tracking-plan-read-only"))
STORY = [
    {
        "type": "identify",
        "userId": "zoe",
        "traits": {"email": "zoe@example.com", "name": "Zoe Quinn", "plan": "pro"},
        "context": {"ip": "203.0.113.50"},
        "messageId": "m1",
        "timestamp": "2026-02-01T10:00:00Z",
    },
    {
        "type": "track",
        "userId": "zoe",
        "event": "Order Completed",
        "properties": {"total": 20, "card": "4111 1111 1111 1111"},
        "messageId": "m2",
        "timestamp": "2026-02-01T10:05:00Z",
    },
]


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}


async def send(running: Running, batch: list[dict[str, Any]]) -> None:
    answer = await running.client.post("/v1/batch", json={"batch": batch, "writeKey": running.key})
    assert answer.status_code == 200, answer.text
    for _ in range(500):
        if running.app.caught_up():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the pipeline did not catch up")


@pytest.fixture
def readers(running: Running) -> tuple[str, str]:
    """Two tokens with the same roles: one without PII access, one with it."""
    _, masked = create_token(running.app.tokens, "default", "masked", READER)
    _, clear = create_token(running.app.tokens, "default", "clear", READER, pii_access=True)
    return masked, clear


async def test_the_profile_api_masks_pii_for_a_reader_without_pii_access(
    running: Running, readers: tuple[str, str]
) -> None:
    masked, clear = readers
    await send(running, STORY)
    traits = await running.client.get(f"{BASE}/user_id:zoe/traits", headers=basic(masked))
    assert traits.status_code == 200, traits.text
    assert traits.json()["traits"] == {
        "email": "z***@example.com",
        "name": "*********",
        "plan": "pro",
    }
    verbose = await running.client.get(
        f"{BASE}/user_id:zoe/traits?verbose=true", headers=basic(masked)
    )
    assert verbose.json()["traits"]["email"]["value"] == "z***@example.com"
    shown = await running.client.get(f"{BASE}/user_id:zoe/traits", headers=basic(clear))
    assert shown.json()["traits"]["email"] == "zoe@example.com"

    events = await running.client.get(f"{BASE}/user_id:zoe/events", headers=basic(masked))
    by_id = {e["message_id"]: e for e in events.json()["data"]}
    assert by_id["m2"]["properties"] == {"total": 20, "card": "************1111"}
    assert by_id["m1"]["traits"]["email"] == "z***@example.com"
    assert by_id["m1"]["context"]["ip"] == "************"
    assert by_id["m1"]["user_id"] == "zoe"
    clear_events = await running.client.get(f"{BASE}/user_id:zoe/events", headers=basic(clear))
    clear_by_id = {e["message_id"]: e for e in clear_events.json()["data"]}
    assert clear_by_id["m2"]["properties"]["card"] == "4111 1111 1111 1111"

    ids = await running.client.get(f"{BASE}/user_id:zoe/external_ids", headers=basic(masked))
    shown_ids = {row["type"]: row["id"] for row in ids.json()["data"]}
    assert shown_ids == {"user_id": "zoe", "email": "z***@example.com"}
    found = await running.client.get(
        "/v1/spaces/default/profiles?identifier=user_id:zoe", headers=basic(masked)
    )
    assert found.json()["data"][0]["traits"]["email"] == "z***@example.com"


async def test_violations_and_held_messages_are_masked_without_pii_access(
    running: Running, readers: tuple[str, str]
) -> None:
    masked, clear = readers
    now = datetime.now(UTC)
    violation = ViolationRecord(
        workspace_id="default",
        source_id=running.source.id,
        log_offset=1,
        message_id="m9",
        message_type="identify",
        event_name=None,
        path="traits.email",
        rule="type",
        expected="number",
        actual='string "zoe@example.com"',
        recorded_at=now,
    )
    held = HeldMessage(
        workspace_id="default",
        source_id=running.source.id,
        log_offset=1,
        message_id="m9",
        disposition="block",
        reason='traits.email: type (expected number, got string "zoe@example.com")',
        message='{"type":"identify","userId":"zoe","traits":{"email":"zoe@example.com"}}',
        held_at=now,
    )
    running.app.protocols.record([violation], [held])

    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    seen = await running.client.get("/api/v1/violations", headers=bearer(masked))
    assert seen.status_code == 200, seen.text
    assert seen.json()["data"][0]["actual"] == 'string "z***@example.com"'
    unmasked = await running.client.get("/api/v1/violations", headers=bearer(clear))
    assert unmasked.json()["data"][0]["actual"] == 'string "zoe@example.com"'
    held_seen = await running.client.get("/api/v1/held", headers=bearer(masked))
    assert held_seen.status_code == 200, held_seen.text
    message = held_seen.json()["data"][0]["message"]
    assert message["traits"] == {"email": "z***@example.com"} and message["userId"] == "zoe"
    assert "zoe@example.com" not in held_seen.text
    held_clear = await running.client.get("/api/v1/held", headers=bearer(clear))
    assert held_clear.json()["data"][0]["message"]["traits"]["email"] == "zoe@example.com"


async def test_a_signed_in_user_without_pii_access_sees_masked_traits(running: Running) -> None:
    users = SqlUserStore(running.app.state)
    password = "a long enough password"
    create_user(users, "default", "analyst@example.com", password, ["unify-read-only"])
    await send(running, STORY)
    login = await running.client.post(
        "/api/v1/auth/login", json={"email": "analyst@example.com", "password": password}
    )
    assert login.status_code == 200 and login.json()["user"]["piiAccess"] is False
    cookie = login.headers["set-cookie"].split(";")[0]
    traits = await running.client.get(f"{BASE}/user_id:zoe/traits", headers={"cookie": cookie})
    assert traits.status_code == 200, traits.text
    assert traits.json()["traits"]["email"] == "z***@example.com"

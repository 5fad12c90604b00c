"""The Profile API as Segment documents it for identity: events carry their `external_ids`,
`/events` takes `start`, `end`, `include`, `exclude` and `sort`, and a phone number is shown
as it was sent while it matches on its normalised form."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.access.tokens import create_token
from tests.api.test_profiles import BASE, auth, send
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio


@pytest.fixture
def token(running: Running) -> str:
    _, secret = create_token(running.app.tokens, "default", "tests")
    return secret


STORY = [
    {
        "type": "page",
        "name": "Home",
        "anonymousId": "anon-p",
        "context": {"traits": {"phone": "+1 (555) 010-0199"}},
        "messageId": "m1",
        "timestamp": "2026-03-01T10:00:00Z",
    },
    {
        "type": "page",
        "name": "Pricing",
        "anonymousId": "anon-w",
        "messageId": "m2",
        "timestamp": "2026-03-02T10:00:00Z",
    },
    {
        "type": "identify",
        "userId": "pat",
        "anonymousId": "anon-w",
        "traits": {"phone": "+1.555.010.0199"},
        "messageId": "m3",
        "timestamp": "2026-03-02T12:00:00Z",
    },
    {
        "type": "track",
        "userId": "pat",
        "event": "Order Completed",
        "messageId": "m4",
        "timestamp": "2026-03-03T10:00:00Z",
    },
    {
        "type": "track",
        "userId": "pat",
        "event": "Cart Viewed",
        "messageId": "m5",
        "timestamp": "2026-03-04T10:00:00Z",
    },
]


async def get(running: Running, token: str, path: str) -> Any:
    answer = await running.client.get(f"{BASE}/{path}", headers=auth(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def ids(running: Running, token: str, query: str) -> list[str]:
    body = await get(running, token, f"user_id:pat/events?{query}")
    return [event["message_id"] for event in body["data"]]


async def test_a_phone_matches_normalised_and_shows_as_sent(running: Running, token: str) -> None:
    await send(running, STORY)
    external = (await get(running, token, "user_id:pat/external_ids"))["data"]
    assert {(d["type"], d["id"]) for d in external} == {
        ("anonymous_id", "anon-p"),
        ("anonymous_id", "anon-w"),
        ("user_id", "pat"),
        ("phone", "+1 (555) 010-0199"),  # as first sent, not +15550100199
    }
    only = (await get(running, token, "user_id:pat/external_ids?include=phone,user_id"))["data"]
    assert sorted(d["type"] for d in only) == ["phone", "user_id"]
    # Looked up by any spelling of the number ('+' escaped, as Segment asks).
    for spelling in ("%2B15550100199", "%2B1%20555%20010%200199"):
        body = await get(running, token, f"phone:{spelling}/external_ids")
        assert len(body["data"]) == 4
    merges = (await get(running, token, "user_id:pat/merges"))["data"]
    assert [(m["message_id"], sorted(m["identifiers"])) for m in merges] == [
        ("m3", ["anonymous_id:anon-w", "phone:+1 (555) 010-0199", "user_id:pat"])
    ]
    events = (await get(running, token, "user_id:pat/events"))["data"]
    by_id = {event["message_id"]: event for event in events}
    # Segment's event item: the identifiers the event itself carried, as it sent them.
    assert by_id["m3"]["external_ids"] == [
        {"collection": "users", "type": "user_id", "id": "pat", "encoding": "none"},
        {"collection": "users", "type": "anonymous_id", "id": "anon-w", "encoding": "none"},
        {"collection": "users", "type": "phone", "id": "+1.555.010.0199", "encoding": "none"},
    ]
    assert [e["type"] for e in by_id["m4"]["external_ids"]] == ["user_id"]


async def test_events_query_parameters_and_their_errors(running: Running, token: str) -> None:
    await send(running, STORY)
    assert await ids(running, token, "") == ["m5", "m4", "m3", "m2", "m1"]
    assert await ids(running, token, "sort=desc") == ["m5", "m4", "m3", "m2", "m1"]
    first = await get(running, token, "user_id:pat/events?sort=asc&limit=2")
    assert [e["message_id"] for e in first["data"]] == ["m1", "m2"]
    rest = await ids(running, token, f"sort=asc&limit=3&next={first['cursor']['next']}")
    assert rest == ["m3", "m4", "m5"]
    # After start, before end; a date alone is midnight UTC.
    assert await ids(running, token, "start=2026-03-02&end=2026-03-04") == ["m4", "m3", "m2"]
    assert await ids(running, token, "start=2026-03-02T10:00:00Z") == ["m5", "m4", "m3"]
    assert await ids(running, token, "end=2026-03-02T12:00:00%2B00:00") == ["m2", "m1"]
    assert await ids(running, token, "include=Order Completed,Cart Viewed") == ["m5", "m4"]
    assert await ids(running, token, "exclude=Cart Viewed&sort=asc") == ["m1", "m2", "m3", "m4"]
    assert await ids(running, token, "include=Order Completed&exclude=Order Completed") == []
    # Bad values: 400 with our error shape, naming the parameter.
    many = ",".join(f"e{n}" for n in range(101))
    for query, says in [
        ("sort=up", "sort"),
        ("start=yesterday", "start"),
        ("end=2026-13-01", "end"),
        ("start=2026-03-04&end=2026-03-02", "start must be before end"),
        (f"include={many}", "include"),
        (f"exclude={'x' * 201}", "exclude"),
    ]:
        answer = await running.client.get(
            f"{BASE}/anonymous_id:anon-p/events?{query}", headers=auth(token)
        )
        assert answer.status_code == 400, (query, answer.text)
        body = answer.json()
        assert body["code"] == "invalid_input" and says in body["message"], (query, body)

"""The Profile API: Segment's paths and shapes, over events sent through the Tracking API."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from seamline.access.tokens import create_token
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
BASE = "/v1/spaces/default/collections/users/profiles"


def auth(secret: str) -> dict[str, str]:
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
def token(running: Running) -> str:
    _, secret = create_token(running.app.tokens, "default", "tests")
    return secret


STORY = [
    {
        "type": "page",
        "anonymousId": "anon-z",
        "name": "Home",
        "messageId": "z1",
        "timestamp": "2026-02-01T10:00:00Z",
    },
    {
        "type": "identify",
        "anonymousId": "anon-z",
        "userId": "zoe",
        "traits": {"email": "Zoe@Example.com", "plan": "pro", "age": 31},
        "messageId": "z2",
        "timestamp": "2026-02-01T10:05:00Z",
    },
    {
        "type": "track",
        "userId": "zoe",
        "event": "Order Completed",
        "properties": {"total": 20},
        "messageId": "z3",
        "timestamp": "2026-02-01T10:10:00Z",
    },
]


async def test_traits_by_user_id_email_and_anonymous_id(running: Running, token: str) -> None:
    await send(running, STORY)
    for who in (
        "user_id:zoe",
        "email:zoe@example.com",
        "anonymous_id:anon-z",
        "email:ZOE@example.com",
    ):
        answer = await running.client.get(f"{BASE}/{who}/traits", headers=auth(token))
        assert answer.status_code == 200, (who, answer.text)
        body = answer.json()
        assert body["traits"] == {"age": 31, "email": "Zoe@Example.com", "plan": "pro"}
        assert body["cursor"] == {"url": f"{BASE}/{who}/traits", "has_more": False, "next": ""}


async def test_traits_include_limit_and_cursor(running: Running, token: str) -> None:
    await send(running, STORY)
    only = await running.client.get(
        f"{BASE}/user_id:zoe/traits?include=plan,age", headers=auth(token)
    )
    assert only.json()["traits"] == {"age": 31, "plan": "pro"}
    first = (
        await running.client.get(f"{BASE}/user_id:zoe/traits?limit=2", headers=auth(token))
    ).json()
    assert first["traits"] == {"age": 31, "email": "Zoe@Example.com"}
    assert first["cursor"]["has_more"] is True
    second = (
        await running.client.get(
            f"{BASE}/user_id:zoe/traits?limit=2&next={first['cursor']['next']}", headers=auth(token)
        )
    ).json()
    assert second["traits"] == {"plan": "pro"}
    assert second["cursor"]["has_more"] is False


async def test_verbose_traits_say_where_and_when(running: Running, token: str) -> None:
    await send(running, STORY)
    body = (
        await running.client.get(
            f"{BASE}/user_id:zoe/traits?verbose=true&include=plan", headers=auth(token)
        )
    ).json()
    assert body["traits"] == {
        "plan": {
            "value": "pro",
            "source_id": running.source.id,
            "updated_at": "2026-02-01T10:05:00Z",
        }
    }


async def test_trait_classes(running: Running, token: str) -> None:
    await send(running, STORY)
    custom = (
        await running.client.get(
            f"{BASE}/user_id:zoe/traits?class=custom_trait", headers=auth(token)
        )
    ).json()
    assert custom["traits"]["plan"] == "pro"
    audiences = (
        await running.client.get(f"{BASE}/user_id:zoe/traits?class=audience", headers=auth(token))
    ).json()
    assert audiences["traits"] == {}
    bad = await running.client.get(f"{BASE}/user_id:zoe/traits?class=nope", headers=auth(token))
    assert bad.status_code == 400


async def test_external_ids(running: Running, token: str) -> None:
    await send(running, STORY)
    body = (
        await running.client.get(f"{BASE}/user_id:zoe/external_ids", headers=auth(token))
    ).json()
    assert {(d["type"], d["id"]) for d in body["data"]} == {
        ("anonymous_id", "anon-z"),
        ("user_id", "zoe"),
        ("email", "zoe@example.com"),
    }
    assert all(d["collection"] == "users" and d["created_at"] for d in body["data"])


async def test_events_newest_first_with_paging(running: Running, token: str) -> None:
    await send(running, STORY)
    first = (
        await running.client.get(f"{BASE}/user_id:zoe/events?limit=2", headers=auth(token))
    ).json()
    assert [e["message_id"] for e in first["data"]] == ["z3", "z2"]
    assert first["data"][0]["event"] == "Order Completed"
    assert first["data"][0]["properties"] == {"total": 20}
    assert first["data"][0]["related"]["users"].startswith("use_")
    assert first["cursor"]["has_more"] is True
    rest = (
        await running.client.get(
            f"{BASE}/user_id:zoe/events?limit=2&next={first['cursor']['next']}", headers=auth(token)
        )
    ).json()
    assert [e["message_id"] for e in rest["data"]] == ["z1"]
    assert rest["cursor"]["has_more"] is False


async def test_events_follow_merges(running: Running, token: str) -> None:
    await send(running, [{"type": "page", "anonymousId": "a-other", "messageId": "o1"}])
    await send(
        running,
        [{"type": "identify", "anonymousId": "a-other", "userId": "olly", "messageId": "o2"}],
    )
    body = (await running.client.get(f"{BASE}/user_id:olly/events", headers=auth(token))).json()
    assert sorted(e["message_id"] for e in body["data"]) == ["o1", "o2"]


async def test_metadata(running: Running, token: str) -> None:
    await send(running, STORY)
    meta = (await running.client.get(f"{BASE}/user_id:zoe/metadata", headers=auth(token))).json()[
        "metadata"
    ]
    assert meta["first_message_id"] == "z1"
    assert meta["last_message_id"] == "z3"
    assert meta["first_message_original_timestamp"] == "2026-02-01T10:00:00Z"
    assert meta["created_at"] and meta["updated_at"]


async def test_a_profile_id_works_as_identifier(running: Running, token: str) -> None:
    await send(running, STORY)
    ids = await running.client.get(f"{BASE}/user_id:zoe/traits", headers=auth(token))
    assert ids.status_code == 200
    from seamline.identity.identifiers import Identifier

    profile_id = running.app.identity.canonical("default", Identifier("user_id", "zoe"))
    for who in (profile_id, f"profile_id:{profile_id}"):
        answer = await running.client.get(f"{BASE}/{who}/traits", headers=auth(token))
        assert answer.json()["traits"]["plan"] == "pro"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"{BASE}/user_id:nobody/traits", 404, "not_found"),
        (f"{BASE}/no-colon/traits", 400, "invalid_input"),
        (f"{BASE}/email:not-an-email/traits", 400, "invalid_input"),
        (f"{BASE}/user_id:zoe/traits?limit=0", 400, "invalid_input"),
        (f"{BASE}/user_id:zoe/events?next=garbage", 400, "invalid_input"),
        ("/v1/spaces/elsewhere/collections/users/profiles/user_id:zoe/traits", 404, "not_found"),
    ],
)
async def test_errors_are_json(
    running: Running, token: str, path: str, status: int, code: str
) -> None:
    await send(running, STORY)
    answer = await running.client.get(path, headers=auth(token))
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert answer.json()["error"] == {"code": code, "message": answer.json()["message"]}


@pytest.mark.parametrize(
    "headers", [{}, auth("sl_wrong"), auth("not-a-token"), {"Authorization": "Bearer x"}]
)
async def test_no_valid_token_is_401(running: Running, headers: dict[str, str]) -> None:
    answer = await running.client.get(f"{BASE}/user_id:zoe/traits", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"


async def test_the_profile_api_is_in_openapi(running: Running) -> None:
    schema = (await running.client.get("/openapi.json")).json()
    assert f"{BASE.replace('default', '{space_id}')}/{{identifier}}/traits" in schema["paths"]


async def test_group_calls_link_people_to_accounts_with_traits(
    running: Running, token: str
) -> None:
    await send(
        running,
        [
            {"type": "identify", "userId": "una", "messageId": "u1"},
            {
                "type": "group",
                "userId": "una",
                "groupId": "acme",
                "traits": {"plan": "team", "seats": 5},
                "messageId": "u2",
                "timestamp": "2026-03-01T00:00:00Z",
            },
            {
                "type": "group",
                "userId": "vic",
                "groupId": "acme",
                "traits": {"seats": 7},
                "messageId": "u3",
                "timestamp": "2026-03-02T00:00:00Z",
            },
            {"type": "group", "userId": "una", "groupId": "globex", "messageId": "u4"},
        ],
    )
    links = (await running.client.get(f"{BASE}/user_id:una/links", headers=auth(token))).json()
    assert [link["external_ids"][0]["id"] for link in links["data"]] == ["acme", "globex"]
    assert all(link["to_collection"] == "accounts" for link in links["data"])
    from seamline.profiles.accounts import account_id

    assert running.app.traits.traits_of_account(account_id("default", "acme")) == {
        "plan": "team",
        "seats": 7,
    }
    accounts = "/v1/spaces/default/collections/accounts/profiles"
    acme = (
        await running.client.get(f"{accounts}/group_id:acme/traits", headers=auth(token))
    ).json()
    assert acme["traits"] == {"plan": "team", "seats": 7}
    people = (
        await running.client.get(f"{accounts}/group_id:acme/links", headers=auth(token))
    ).json()["data"]
    assert len(people) == 2 and all(p["to_collection"] == "users" for p in people)
    assert (
        await running.client.get(f"{accounts}/group_id:nope/traits", headers=auth(token))
    ).status_code == 404
    assert (
        await running.client.get(f"{accounts}/user_id:x/traits", headers=auth(token))
    ).status_code == 400
    # Group traits are the account's, not the person's.
    assert (await running.client.get(f"{BASE}/user_id:una/traits", headers=auth(token))).json()[
        "traits"
    ] == {}


async def test_merge_history_and_unmerge_over_the_api(running: Running, token: str) -> None:
    await send(
        running,
        [
            {
                "type": "page",
                "anonymousId": "x-web",
                "context": {"traits": {"email": "xan@x.io"}},
                "messageId": "x1",
            }
        ],
    )
    await send(
        running, [{"type": "identify", "anonymousId": "x-app", "userId": "xan", "messageId": "x2"}]
    )
    await send(
        running,
        [
            {
                "type": "identify",
                "anonymousId": "x-app",
                "traits": {"email": "xan@x.io"},
                "messageId": "x3",
            }
        ],
    )
    history = (await running.client.get(f"{BASE}/user_id:xan/merges", headers=auth(token))).json()[
        "data"
    ]
    assert [(m["message_id"], sorted(m["identifiers"])) for m in history] == [
        ("x3", ["anonymous_id:x-app", "email:xan@x.io"])
    ]
    done = await running.client.post(
        f"/v1/spaces/default/merges/{history[0]['merge_id']}/unmerge", headers=auth(token)
    )
    assert done.status_code == 200, done.text
    web = (
        await running.client.get(f"{BASE}/anonymous_id:x-web/external_ids", headers=auth(token))
    ).json()["data"]
    assert {(d["type"], d["id"]) for d in web} == {("anonymous_id", "x-web"), ("email", "xan@x.io")}
    again = await running.client.post(
        f"/v1/spaces/default/merges/{history[0]['merge_id']}/unmerge", headers=auth(token)
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    unauthorised = await running.client.post(
        f"/v1/spaces/default/merges/{history[0]['merge_id']}/unmerge"
    )
    assert unauthorised.status_code == 401


async def test_search_by_trait_and_by_identifier(running: Running, token: str) -> None:
    await send(running, STORY)
    await send(
        running,
        [
            {
                "type": "identify",
                "userId": "yan",
                "traits": {"plan": "free", "age": 31},
                "messageId": "y1",
            }
        ],
    )
    by_plan = (
        await running.client.get("/v1/spaces/default/profiles?trait.plan=pro", headers=auth(token))
    ).json()["data"]
    assert [p["traits"]["email"] for p in by_plan] == ["Zoe@Example.com"]
    by_age = (
        await running.client.get("/v1/spaces/default/profiles?trait.age=31", headers=auth(token))
    ).json()["data"]
    assert len(by_age) == 2
    by_email = (
        await running.client.get(
            "/v1/spaces/default/profiles?identifier=email:zoe@example.com", headers=auth(token)
        )
    ).json()["data"]
    assert [p["traits"]["plan"] for p in by_email] == ["pro"]
    nobody = (
        await running.client.get(
            "/v1/spaces/default/profiles?trait.plan=enterprise", headers=auth(token)
        )
    ).json()
    assert nobody == {"data": []}
    bad = await running.client.get("/v1/spaces/default/profiles", headers=auth(token))
    assert bad.status_code == 400

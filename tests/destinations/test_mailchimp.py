"""Mailchimp against a local sink that plays the Marketing API: HTTP Basic with the key,
members addressed by the MD5 of the lowercased email, tags, batch operations, deletion."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import mailchimp
from seamline.destinations.definition import Context, Subscribed
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

KEY = "0123456789abcdef-us21"
ADA = hashlib.md5(b"ada@example.com").hexdigest()


def documented_shape(got: Received) -> Reply | None:
    """Mailchimp's answer to a request that breaks its reference, else None."""
    _user, _, key = (
        base64.b64decode(got.headers.get("authorization", "Basic ")[6:]).decode().partition(":")
    )
    if key != KEY:
        return Reply(401, {"title": "API Key Invalid", "status": 401})
    if got.method == "GET":
        return (
            Reply(200, {"health_status": "Everything's Chimpy!"}) if got.path == "/ping" else None
        )
    parts = got.path.strip("/").split("/")
    if got.path == "/batches":
        operations = got.json()["operations"]
        if not 1 <= len(operations) <= 500 or not all(
            isinstance(o["body"], str) for o in operations
        ):
            return Reply(400, {"title": "Invalid Resource", "status": 400})
        return Reply(200, {"id": "batch-1", "status": "pending"})
    if parts[:1] != ["lists"] or parts[2:3] != ["members"]:
        return Reply(404, {"title": "Resource Not Found", "status": 404})
    if got.method == "PUT":
        body = got.json()
        if hashlib.md5(body["email_address"].lower().encode()).hexdigest() != parts[3]:
            return Reply(400, {"title": "Invalid Resource", "detail": "hash", "status": 400})
        if body.get("status_if_new") not in mailchimp.STATUSES:
            return Reply(400, {"title": "Invalid Resource", "status": 400})
        return None
    if parts[4:] == ["tags"]:
        tags = got.json()["tags"]
        return None if all(t["status"] in ("active", "inactive") for t in tags) else Reply(400, {})
    if parts[4:] == ["actions", "delete-permanent"]:
        return (
            Reply(204, b"")
            if parts[3] == ADA
            else Reply(404, {"title": "Resource Not Found", "status": 404})
        )
    return Reply(404, {"title": "Resource Not Found", "status": 404})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"id": ADA, "status": "subscribed"}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"api_key": KEY, "audience_id": "aud1", "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    return default_payload(mailchimp.DESTINATION.actions[action], event)


def test_the_catalog_finds_mailchimp() -> None:
    assert registry.load("mailchimp") is mailchimp.DESTINATION


def test_the_data_center_comes_from_the_key(http: Http) -> None:
    assert mailchimp._base(Context({"api_key": KEY}, http)) == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(PermanentError, match="data center"):
        mailchimp._base(Context({"api_key": "abc-evil.example.com/x"}, http))


def test_the_identify_preset_upserts_the_member_without_touching_its_status(
    ctx: Context, tool: Sink
) -> None:
    identify = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "Ada@Example.com", "firstName": "Ada"},
    }

    mailchimp.upsert_member(ctx, mapped("upsert_member", identify))

    [got] = tool.received
    assert (got.method, got.path) == ("PUT", f"/lists/aud1/members/{ADA}")
    assert got.json() == {
        "email_address": "Ada@Example.com",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ada"},
    }


def test_a_batch_is_sent_as_batch_operations_500_per_request(ctx: Context, tool: Sink) -> None:
    mailchimp.upsert_members(ctx, [{"email": f"p{n}@example.com"} for n in range(501)])

    first, _ = tool.received
    assert [len(got.json()["operations"]) for got in tool.received] == [500, 1]
    operation = first.json()["operations"][0]
    assert operation["method"] == "PUT"
    assert operation["path"] == f"/lists/aud1/members/{hashlib.md5(b'p0@example.com').hexdigest()}"
    assert json.loads(operation["body"])["status_if_new"] == "subscribed"


def test_audience_entered_upserts_and_tags_and_exited_untags(ctx: Context, tool: Sink) -> None:
    entered = {
        "type": "track",
        "event": "Audience Entered",
        "userId": "u1",
        "properties": {"audience_key": "vip_customers", "vip_customers": True},
        "context": {"traits": {"email": "ada@example.com"}},
    }
    mailchimp.sync_audience_tag(ctx, mapped("sync_audience_tag", entered))
    mailchimp.sync_audience_tag(
        ctx, mapped("sync_audience_tag", entered | {"event": "Audience Exited"})
    )

    put, tag, untag = tool.received
    assert put.method == "PUT"
    assert (tag.path, tag.json()) == (
        f"/lists/aud1/members/{ADA}/tags",
        {"tags": [{"name": "vip_customers", "status": "active"}]},
    )
    assert untag.json() == {"tags": [{"name": "vip_customers", "status": "inactive"}]}


def test_untagging_someone_not_in_the_audience_is_done(ctx: Context, tool: Sink) -> None:
    tool.replies.append(Reply(404, {"title": "Resource Not Found", "status": 404}))
    tool.check = None
    mailchimp.sync_audience_tag(ctx, {"email": "x@example.com", "tag": "vip", "active": False})
    assert len(tool.received) == 1


def test_authentication_pings(ctx: Context, tool: Sink) -> None:
    mailchimp.test_authentication(ctx)
    assert [(got.method, got.path) for got in tool.received] == [("GET", "/ping")]


@failure_modes(
    unauthorized=Reply(401, {"title": "API Key Invalid", "status": 401}),
    more={
        "400": Failure(
            Reply(400, {"title": "Forgotten Email Not Subscribed", "status": 400}), PermanentError
        ),
        "404": Failure(Reply(404, {"title": "Resource Not Found", "status": 404}), PermanentError),
    },
    throttled=Reply(429, {"title": "Too Many Requests", "status": 429}, {"Retry-After": "4"}),
)
def test_mailchimp_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: mailchimp.upsert_member(ctx, {"email": "ada@example.com"}))


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("upsert_member", {"email": "not-an-email"}, "valid email"),
        ("upsert_member", {"email": "a@example.com", "audience_id": "../../x"}, "audience id"),
        ("upsert_member", {"email": "a@example.com", "status_if_new": "cleaned"}, "status_if_new"),
        (
            "sync_audience_tag",
            {"email": "a@example.com", "tag": "vip", "event_name": "Signed Up"},
            "active",
        ),
        ("sync_audience_tag", {"email": "a@example.com", "active": True}, "needs a name"),
    ],
    ids=["bad email", "audience not an id", "status not allowed", "no membership", "no tag"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        mailchimp.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_deletion_deletes_permanently_from_every_audience_sent_to(tool: Sink, http: Http) -> None:
    subscriptions = (
        Subscribed("upsert_member", {"audience_id": "aud2"}),
        Subscribed("upsert_member", {"audience_id": {"@path": "$.x"}}),
    )
    ctx = Context(
        {"api_key": KEY, "audience_id": "aud1", "endpoint": tool.url},
        http,
        subscriptions=subscriptions,
    )
    ids = {Identifier("email", "ada@example.com"), Identifier("email", "gone@example.com")}

    mailchimp.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )

    assert [got.path for got in tool.received] == [
        f"/lists/aud1/members/{ADA}/actions/delete-permanent",
        f"/lists/aud1/members/{hashlib.md5(b'gone@example.com').hexdigest()}/actions/delete-permanent",
        f"/lists/aud2/members/{ADA}/actions/delete-permanent",
        f"/lists/aud2/members/{hashlib.md5(b'gone@example.com').hexdigest()}/actions/delete-permanent",
    ]

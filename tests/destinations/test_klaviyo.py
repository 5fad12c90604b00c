"""Klaviyo against a local sink that enforces its JSON:API reference: the private key and
revision headers, each endpoint's `data.type`, and the bulk jobs' limits."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import klaviyo
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

KEY = "pk_test_key"
TYPES = {
    ("POST", "/api/profile-import/"): "profile",
    ("POST", "/api/profile-bulk-import-jobs/"): "profile-bulk-import-job",
    ("POST", "/api/events/"): "event",
    ("POST", "/api/event-bulk-create-jobs/"): "event-bulk-create-job",
    ("POST", "/api/data-privacy-deletion-jobs/"): "data-privacy-deletion-job",
}
KNOWN = {"ada@example.com": "01PROFILEADA", "user-1": "01PROFILEU1"}


def documented_shape(got: Received) -> Reply | None:
    """Klaviyo's answer to a request that breaks its reference, else None."""
    if got.headers.get("authorization") != f"Klaviyo-API-Key {KEY}":
        return Reply(401, {"errors": [{"status": 401, "code": "not_authenticated"}]})
    if got.headers.get("revision") != klaviyo.REVISION:
        return Reply(400, {"errors": [{"status": 400, "code": "invalid_revision"}]})
    if got.method == "GET":
        if got.path == "/api/profiles/":
            found = [
                {"type": "profile", "id": i}
                for v, i in KNOWN.items()
                if f'"{v}"' in got.query["filter"][0]
            ]
            return Reply(200, {"data": found})
        return Reply(200, {"data": [{"type": "account", "id": "ACC"}]})
    body = got.json()
    if got.path.startswith("/api/lists/") and got.path.endswith("/relationships/profiles/"):
        ok = 1 <= len(body["data"]) <= 1000 and all(d["type"] == "profile" for d in body["data"])
        return None if ok else Reply(400, {"errors": [{"code": "invalid"}]})
    kind = TYPES.get((got.method, got.path))
    if kind is None:
        return Reply(404, {"errors": [{"code": "not_found"}]})
    if body["data"]["type"] != kind:
        return Reply(400, {"errors": [{"code": "invalid", "detail": "wrong type"}]})
    attributes = body["data"]["attributes"]
    if kind == "profile-bulk-import-job" and not 1 <= len(attributes["profiles"]["data"]) <= 10_000:
        return Reply(400, {"errors": [{"code": "invalid", "detail": "too many profiles"}]})
    if (
        kind == "event-bulk-create-job"
        and not 1 <= len(attributes["events-bulk-create"]["data"]) <= 1_000
    ):
        return Reply(400, {"errors": [{"code": "invalid", "detail": "too many events"}]})
    if kind == "event" and ("metric" not in attributes or "properties" not in attributes):
        return Reply(400, {"errors": [{"code": "invalid", "detail": "metric"}]})
    if kind == "profile":
        return Reply(200, {"data": {"type": "profile", "id": "01NEWPROFILE"}})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(202, b""), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"api_key": KEY, "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any], **literals: Any) -> dict[str, Any]:
    return default_payload(klaviyo.DESTINATION.actions[action], event, **literals)


def test_the_catalog_finds_klaviyo() -> None:
    assert registry.load("klaviyo") is klaviyo.DESTINATION


def test_the_track_preset_turns_a_segment_event_into_a_klaviyo_event(
    ctx: Context, tool: Sink
) -> None:
    event = {
        "type": "track",
        "event": "Order Completed",
        "userId": "user-1",
        "anonymousId": "anon-1",
        "messageId": "msg-1",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"revenue": 30.5, "order_id": "o-1"},
        "context": {"traits": {"email": "ada@example.com"}},
    }

    klaviyo.track_event(ctx, mapped("track_event", event))

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/api/events/")
    assert got.headers["content-type"] == "application/vnd.api+json"
    assert got.json() == {
        "data": {
            "type": "event",
            "attributes": {
                "time": "2024-05-01T10:00:00+00:00",
                "value": 30.5,
                "unique_id": "msg-1",
                "properties": {"revenue": 30.5, "order_id": "o-1"},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Order Completed"}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {
                            "email": "ada@example.com",
                            "external_id": "user-1",
                            "anonymous_id": "anon-1",
                        },
                    }
                },
            },
        }
    }


def test_an_identify_upserts_a_profile_and_adds_it_to_a_list(ctx: Context, tool: Sink) -> None:
    identify = {
        "type": "identify",
        "userId": "user-1",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "address": {"city": "London"}},
    }
    payload = mapped("upsert_profile", identify, list_id="Y6nRLr")

    klaviyo.upsert_profile(ctx, payload)

    imported, related = tool.received
    assert imported.json()["data"]["attributes"] == {
        "email": "ada@example.com",
        "external_id": "user-1",
        "first_name": "Ada",
        "location": {"city": "London"},
        "properties": identify["traits"],
    }
    assert related.path == "/api/lists/Y6nRLr/relationships/profiles/"
    assert related.json() == {"data": [{"type": "profile", "id": "01NEWPROFILE"}]}


def test_an_audience_entered_adds_the_person_to_the_list_in_a_bulk_job(
    ctx: Context, tool: Sink
) -> None:
    entered = {
        "type": "track",
        "event": "Audience Entered",
        "userId": "user-1",
        "properties": {"audience_key": "vip", "vip": True},
        "context": {"traits": {"email": "ada@example.com"}},
    }
    payload = mapped("add_profile_to_list", entered, list_id="Y6nRLr")

    klaviyo.add_to_list(ctx, payload)

    [got] = tool.received
    job = got.json()["data"]
    assert job["relationships"] == {"lists": {"data": [{"type": "list", "id": "Y6nRLr"}]}}
    assert job["attributes"]["profiles"]["data"] == [
        {"type": "profile", "attributes": {"email": "ada@example.com", "external_id": "user-1"}}
    ]


def test_bulk_jobs_hold_at_most_10000_profiles_and_1000_events(
    tool: Sink, patient_http: Http
) -> None:
    ctx = Context({"api_key": KEY, "endpoint": tool.url}, patient_http)
    klaviyo.upsert_profiles(ctx, [{"external_id": f"u{n}"} for n in range(10_001)])
    events = [{"external_id": f"u{n}", "metric_name": "Viewed"} for n in range(1_001)]
    klaviyo.track_events(ctx, events)

    sizes = [
        len(got.json()["data"]["attributes"].get("profiles", {}).get("data", []))
        or len(got.json()["data"]["attributes"]["events-bulk-create"]["data"])
        for got in tool.received
    ]
    assert sizes == [10_000, 1, 1_000, 1]


def test_an_audience_exited_removes_known_profiles_only(ctx: Context, tool: Sink) -> None:
    klaviyo.remove_from_lists(
        ctx,
        [
            {"email": "ada@example.com", "list_id": "Y6nRLr"},
            {"email": "nobody@example.com", "list_id": "Y6nRLr"},
        ],
    )

    lookup, removal = tool.received
    assert lookup.query["filter"] == ['any(email,["ada@example.com","nobody@example.com"])']
    assert (removal.method, removal.path) == ("DELETE", "/api/lists/Y6nRLr/relationships/profiles/")
    assert removal.json() == {"data": [{"type": "profile", "id": "01PROFILEADA"}]}


def test_a_list_id_that_is_not_an_id_is_refused(ctx: Context, tool: Sink) -> None:
    with pytest.raises(InvalidPayload, match="list id"):
        klaviyo.add_to_list(ctx, {"email": "a@example.com", "list_id": "../accounts"})
    assert tool.received == []


def test_authentication_reads_the_account(ctx: Context, tool: Sink) -> None:
    assert klaviyo.DESTINATION.test_authentication is not None
    klaviyo.DESTINATION.test_authentication(ctx)
    assert [(got.method, got.path) for got in tool.received] == [("GET", "/api/accounts/")]


@failure_modes(
    unauthorized=Reply(401, {"errors": [{"status": 401, "code": "not_authenticated"}]}),
    more={
        "403": Failure(Reply(403, {"errors": [{"code": "permission_denied"}]}), PermanentError),
        "400": Failure(Reply(400, {"errors": [{"code": "invalid"}]}), PermanentError),
    },
    throttled=Reply(429, {"errors": [{"code": "throttled"}]}, {"Retry-After": "12"}),
)
def test_klaviyo_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    payload = {"email": "ada@example.com", "metric_name": "Viewed"}
    assert_fails(tool, failure, lambda: klaviyo.track_event(ctx, payload), every_request=True)


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("track_event", {"metric_name": "x"}, "needs one of email"),
        ("track_event", {"email": "a@example.com"}, "metric name"),
        ("upsert_profile", {"first_name": "Ada"}, "needs one of email"),
        ("remove_profile_from_list", {"email": "a@example.com"}, "list id"),
    ],
    ids=["event for nobody", "event without name", "profile for nobody", "no list"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        klaviyo.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_deletion_asks_one_job_per_email_and_per_profile_of_a_user_id(
    ctx: Context, tool: Sink
) -> None:
    ids = {Identifier("email", "ada@example.com"), Identifier("user_id", "user-1")}
    klaviyo.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )

    jobs = [
        got.json()["data"]["attributes"]["profile"]["data"]
        for got in tool.received
        if got.method == "POST"
    ]
    assert jobs == [
        {"type": "profile", "attributes": {"email": "ada@example.com"}},
        {"type": "profile", "id": "01PROFILEU1"},
    ]

"""Amplitude against a local sink that enforces the HTTP V2, Identify and User Privacy APIs'
documented shapes: the API key in the body, a user or device id per event, Basic auth for
deletions."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import amplitude
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

KEY = "amp-api-key"
SECRET = "amp-secret-key"


def documented_shape(got: Received) -> Reply | None:
    """Amplitude's answer to a request that breaks its API reference, else None."""
    if got.path == "/api/2/deletions/users":
        expected = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        if got.headers.get("authorization") != expected:
            return Reply(401, {"error": "invalid credentials"})
        body = got.json()
        if not 1 <= len(body.get("user_ids", [])) <= 100 or not body.get("requester"):
            return Reply(400, {"error": "bad deletion request"})
        return Reply(200, {"day": "2024-05-04", "amplitude_ids": [], "status": "staging"})
    if got.path == "/identify":
        form = parse_qs(got.body.decode())
        if form.get("api_key") != [KEY]:
            return Reply(401, {"code": 401, "error": "invalid_api_key"})
        identifications = json.loads(form["identification"][0])
        if not all(i.get("user_id") or i.get("device_id") for i in identifications):
            return Reply(400, {"code": 400, "error": "missing_field"})
        return Reply(200, b"success")
    if (got.method, got.path) not in {("POST", "/2/httpapi"), ("POST", "/batch")}:
        return Reply(404, {"error": "not found"})
    body = got.json()
    if body.get("api_key") != KEY:
        return Reply(400, {"code": 400, "error": "invalid_api_key"})
    events = body.get("events") or []
    if not 1 <= len(events) <= 2000 or len(got.body) > 1_000_000:
        return Reply(413, {"code": 413, "error": "payload too large"})
    for event in events:
        if not event.get("event_type") or not (event.get("user_id") or event.get("device_id")):
            return Reply(400, {"code": 400, "error": "missing_field"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"code": 200, "events_ingested": 1}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    settings = {"api_key": KEY, "secret_key": SECRET, "endpoint": tool.url}
    return Context({**settings, "privacy_endpoint": tool.url}, http)


def event(user: str = "user-1", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "event_type": "Signed Up", "insert_id": "m-1", **extra}


TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-42",
    "anonymousId": "anon-42",
    "messageId": "msg-1",
    "timestamp": "2024-05-01T10:00:00.000Z",
    "properties": {"revenue": 30.5, "order_id": "o-1"},
    "context": {
        "ip": "203.0.113.9",
        "locale": "en-GB",
        "os": {"name": "iOS", "version": "17.4"},
        "device": {"id": "dev-42", "type": "ios", "model": "iPhone15,2"},
        "traits": {"plan": "pro"},
    },
}


def test_the_catalog_finds_amplitude() -> None:
    assert registry.load("amplitude") is amplitude.DESTINATION


def test_the_track_preset_turns_a_segment_event_into_an_http_api_event(
    ctx: Context, tool: Sink
) -> None:
    fields = amplitude.DESTINATION.actions["log_event"].fields
    payload = validate_payload(compile_mapping(default_mapping(fields))(TRACK), fields)

    amplitude.log_event(ctx, payload)

    [got] = tool.received
    assert got.path == "/2/httpapi"
    assert got.json() == {
        "api_key": KEY,
        "events": [
            {
                "user_id": "user-42",
                "device_id": "dev-42",
                "event_type": "Order Completed",
                "event_properties": {"revenue": 30.5, "order_id": "o-1"},
                "user_properties": {"plan": "pro"},
                "platform": "ios",
                "os_name": "iOS",
                "os_version": "17.4",
                "device_model": "iPhone15,2",
                "language": "en-GB",
                "ip": "203.0.113.9",
                "revenue": 30.5,
                "insert_id": "msg-1",
                "time": 1714557600000,
            }
        ],
    }


def test_a_page_call_is_named_viewed_and_falls_back_to_the_anonymous_id() -> None:
    fields = amplitude.DESTINATION.actions["log_event"].fields
    page = {"type": "page", "name": "Pricing", "anonymousId": "anon-7", "messageId": "m"}
    payload = compile_mapping(default_mapping(fields))(page)
    assert (payload["event_type"], payload["device_id"]) == ("Viewed Pricing", "anon-7")


def test_events_are_sent_1000_per_request_with_min_id_length(tool: Sink, http: Http) -> None:
    ctx = Context({"api_key": KEY, "endpoint": tool.url, "min_id_length": 1}, http)
    amplitude.log_events(ctx, [event(f"u{n}") for n in range(1_001)])

    first, second = tool.received
    assert [len(got.json()["events"]) for got in tool.received] == [1_000, 1]
    assert first.json()["options"] == {"min_id_length": 1}
    assert second.json()["events"][0]["user_id"] == "u1000"


def test_the_batch_endpoint_is_used_when_set(tool: Sink, http: Http) -> None:
    ctx = Context({"api_key": KEY, "endpoint": tool.url, "use_batch_endpoint": True}, http)
    amplitude.log_event(ctx, event())
    assert [got.path for got in tool.received] == ["/batch"]


def test_identify_sends_a_form_with_the_identification(ctx: Context, tool: Sink) -> None:
    amplitude.identify_user(
        ctx, {"user_id": "user-1", "user_properties": {"plan": "pro"}, "country": None}
    )

    [got] = tool.received
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(got.body.decode())
    assert json.loads(form["identification"][0]) == [
        {"user_id": "user-1", "user_properties": {"plan": "pro"}}
    ]


def test_a_throttled_device_is_retried_after_30_seconds(ctx: Context, tool: Sink) -> None:
    tool.replies.append(Reply(429, {"code": 429, "throttled_devices": {"d": 31}}))
    with pytest.raises(RetryableError) as raised:
        amplitude.log_event(ctx, event())
    assert raised.value.retry_after == 30.0


@failure_modes(
    unauthorized=Reply(401, {"code": 401, "error": "invalid_api_key"}),
    more={
        "400": Failure(Reply(400, {"code": 400, "error": "missing_field"}), PermanentError),
        "413": Failure(Reply(413, {"code": 413, "error": "too large"}), PermanentError),
    },
    throttled=Reply(429, {"code": 429}, {"Retry-After": "5"}),
    outage=Reply(503, {"code": 503}),
)
def test_amplitude_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: amplitude.log_event(ctx, event()))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"event_type": "x"}, "user_id or a device_id"),
        (event("abc"), "shorter than 5"),
        (event("abc", device_id="device-12345"), "shorter than 5"),
        (event(event_type=""), "event_type"),
        (event(time="yesterday"), "ISO 8601"),
    ],
    ids=["nobody", "short id", "short user id beside a device id", "no name", "bad time"],
)
def test_invalid_events_are_refused_before_sending(
    ctx: Context, tool: Sink, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        amplitude.log_event(ctx, payload)
    assert tool.received == []


def test_deletion_sends_user_ids_100_per_request(ctx: Context, tool: Sink) -> None:
    ids = frozenset(Identifier("user_id", f"user-{n:03}") for n in range(150))
    who = Person(workspace_id="w", identifiers=ids, profile_ids=frozenset())

    amplitude.delete_person(ctx, who)

    assert [len(got.json()["user_ids"]) for got in tool.received] == [100, 50]
    assert tool.received[0].json()["ignore_invalid_id"] == "True"


def test_deletion_without_the_secret_key_fails_and_sends_nothing(tool: Sink, http: Http) -> None:
    ctx = Context({"api_key": KEY, "endpoint": tool.url}, http)
    who = Person(workspace_id="w", identifiers=frozenset(), profile_ids=frozenset())
    with pytest.raises(PermanentError, match="secret_key"):
        amplitude.delete_person(ctx, who)
    assert tool.received == []


@pytest.mark.parametrize(
    ("region", "api", "privacy"),
    [
        ("US", "https://api2.amplitude.com", "https://amplitude.com"),
        ("EU", "https://api.eu.amplitude.com", "https://analytics.eu.amplitude.com"),
    ],
)
def test_the_region_picks_the_hosts(http: Http, region: str, api: str, privacy: str) -> None:
    ctx = Context({"api_key": KEY, "region": region}, http)
    assert amplitude._host(ctx, "endpoint", amplitude.API_HOSTS) == api
    assert amplitude._host(ctx, "privacy_endpoint", amplitude.PRIVACY_HOSTS) == privacy

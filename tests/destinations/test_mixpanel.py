"""The Mixpanel destination against a local sink that checks the Import and Engage APIs'
documented request shapes."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
from typing import Any

import pytest

from seamline.destinations.catalog.mixpanel import (
    DESTINATION,
    identify_user,
    identify_users,
    track_event,
    track_events,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

TOKEN, SECRET = "tok123", "sec456"
BASIC = "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
WHEN = "2026-11-28T10:00:00.000Z"
WHEN_MS = int(dt.datetime(2026, 11, 28, 10, tzinfo=dt.UTC).timestamp() * 1000)


def rejected(message: str) -> Reply:
    return Reply(400, {"code": 400, "status": "Bad Request", "error": message})


def import_api(received: Received) -> Reply | None:
    body = received.body
    if received.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    if received.headers.get("authorization") != BASIC:
        return Reply(401, {"error": "Invalid credentials"})
    if (
        received.query.get("strict") != ["1"]
        or received.headers["content-type"] != "application/json"
    ):
        return rejected("strict=1 and JSON expected")
    events = json.loads(body)
    if not 1 <= len(events) <= 2000 or len(body) > 2_000_000:
        return Reply(413, {"error": "too many events or bytes"})
    for event in events:
        props = event["properties"]
        if not (
            isinstance(event.get("event"), str)
            and isinstance(props.get("time"), int)
            and props["time"] > 10**12  # milliseconds
            and isinstance(props.get("distinct_id"), str)
            and re.fullmatch(r"[A-Za-z0-9-]{1,36}", props.get("$insert_id", ""))
        ):
            return rejected(f"invalid event {event}")
    return Reply(200, {"code": 200, "num_records_imported": len(events), "status": "OK"})


def engage_api(received: Received) -> Reply | None:
    if received.query.get("verbose") != ["1"]:
        return rejected("verbose=1 expected")
    updates = received.json()
    if not 1 <= len(updates) <= 2000:
        return rejected("1 to 2000 updates")
    for update in updates:
        if update.get("$token") != TOKEN or not update.get("$distinct_id"):
            return Reply(200, {"status": 0, "error": "Invalid token or distinct id"})
        if not isinstance(update.get("$set"), dict):
            return Reply(200, {"status": 0, "error": "$set must be an object"})
    return Reply(200, {"status": 1, "error": None})


def mixpanel(received: Received) -> Reply | None:
    if received.path == "/import":
        return import_api(received)
    if received.path == "/engage":
        return engage_api(received)
    if received.path == "/api/app/validate-project-credentials/":
        creds = received.json()
        ok = creds == {"api_secret": SECRET, "project_token": TOKEN}
        return Reply(200, {"status": "ok"}) if ok else Reply(401, {"error": "invalid"})
    return Reply(404)


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(), mixpanel)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"project_token": TOKEN, "api_secret": SECRET, "endpoint": tool.url}
    return Context(settings={**base, **settings}, http=http)


def track(**fields: Any) -> dict[str, Any]:
    return {
        "event": "Order Completed",
        "distinct_id": "user-1",
        "user_id": "user-1",
        "insert_id": "msg-1",
        "time": WHEN,
        "event_properties": {"revenue": 42.5, "currency": "EUR"},
        "ip": "203.0.113.9",
        "url": "https://shop.example/thanks",
        "utm_properties": {"utm_source": "newsletter", "utm_medium": None},
        **fields,
    }


def test_one_event_is_imported_with_mixpanel_properties(tool: Sink, http: Http) -> None:
    track_event(context(tool, http), track())

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/import")
    assert got.json() == [
        {
            "event": "Order Completed",
            "properties": {
                "ip": "203.0.113.9",
                "$user_id": "user-1",
                "$current_url": "https://shop.example/thanks",
                "utm_source": "newsletter",
                "revenue": 42.5,
                "currency": "EUR",
                "time": WHEN_MS,
                "distinct_id": "user-1",
                "$insert_id": "msg-1",
            },
        }
    ]


def test_a_message_id_mixpanel_refuses_becomes_a_stable_insert_id(tool: Sink, http: Http) -> None:
    message_id = "ajs-next-1795935600000-3f2b9c4e-8d1a-4b7e-9c2d-0e5f6a7b8c9d"
    track_event(context(tool, http), track(insert_id=message_id))
    track_event(context(tool, http), track(insert_id=message_id))  # a retry

    ids = [r.json()[0]["properties"]["$insert_id"] for r in tool.received]
    assert ids == [hashlib.sha256(message_id.encode()).hexdigest()[:36]] * 2


def test_a_batch_is_split_at_2000_events(tool: Sink, patient_http: Http) -> None:
    payloads = [track(insert_id=f"m{i}", time=WHEN_MS + i) for i in range(2001)]
    track_events(context(tool, patient_http), payloads)

    assert [len(r.json()) for r in tool.received] == [2000, 1]
    assert tool.received[1].json()[0]["properties"]["$insert_id"] == "m2000"


def test_a_batch_is_split_to_stay_under_2_mb(tool: Sink, http: Http) -> None:
    big = {"notes": "x" * 900_000}
    track_events(
        context(tool, http), [track(insert_id=f"m{i}", event_properties=big) for i in range(3)]
    )

    assert [len(r.json()) for r in tool.received] == [2, 1]


def test_gzip_compresses_the_body(tool: Sink, http: Http) -> None:
    track_events(context(tool, http, gzip=True), [track(), track(insert_id="msg-2")])

    [got] = tool.received
    assert got.headers["content-encoding"] == "gzip"
    assert [e["properties"]["$insert_id"] for e in json.loads(gzip.decompress(got.body))] == [
        "msg-1",
        "msg-2",
    ]


def test_identify_sets_profile_properties(tool: Sink, http: Http) -> None:
    traits = {"email": "jane@example.com", "firstName": "Jane", "plan": "pro"}
    identify_users(
        context(tool, http),
        [
            {"user_id": "user-1", "traits": traits, "ip": "203.0.113.9"},
            {"user_id": "user-2", "traits": {}},  # nothing to set: not sent
        ],
    )

    [got] = tool.received
    assert got.json() == [
        {
            "$token": TOKEN,
            "$distinct_id": "user-1",
            "$set": {"$email": "jane@example.com", "$first_name": "Jane", "plan": "pro"},
            "$ip": "203.0.113.9",
        }
    ]


def test_a_refused_profile_update_is_permanent(tool: Sink, http: Http) -> None:
    tool.check = None
    tool.replies.append(Reply(200, {"status": 0, "error": "$distinct_id is too long"}))
    with pytest.raises(PermanentError, match="too long"):
        identify_user(context(tool, http), {"user_id": "u1", "traits": {"plan": "pro"}})


def test_authentication_checks_the_token_and_secret(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, api_secret="wrong"))
    assert [r.path for r in tool.received] == ["/api/app/validate-project-credentials/"] * 2


@failure_modes(
    unauthorized=Reply(401, {"error": "Invalid credentials"}),
    throttled=Reply(429, {"error": "rate limited"}, headers={"Retry-After": "12"}),
)
def test_mixpanel_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    tool.check = None  # the import API's check answers every valid request itself
    assert_fails(tool, failure, lambda: track_event(context(tool, http), track()))


def test_wrong_secret_is_refused_by_the_import_api(tool: Sink, http: Http) -> None:
    with pytest.raises(PermanentError) as raised:
        track_event(context(tool, http, api_secret="wrong"), track())
    assert raised.value.status == 401


@pytest.mark.parametrize(
    "fields",
    [
        {"event": ""},
        {"distinct_id": None},
        {"distinct_id": "undefined"},
        {"distinct_id": "00000000-0000-0000-0000-000000000000"},
        {"time": "yesterday"},
        {"event_properties": {"blob": "x" * 1_000_000}},
    ],
    ids=["no name", "no distinct_id", "undefined", "nil uuid", "bad time", "over 1 MB"],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        track_events(context(tool, http), [track(), track(**fields)])
    assert tool.received == []


def test_a_profile_update_needs_a_user_id(tool: Sink, http: Http) -> None:
    with pytest.raises(InvalidPayload):
        identify_user(context(tool, http), {"user_id": None, "traits": {"plan": "pro"}})
    assert tool.received == []


def test_definition() -> None:
    track_action = DESTINATION.actions["track_event"]
    assert track_action.fields["insert_id"].default == {"@path": "$.messageId"}
    assert track_action.max_batch == 2000
    assert DESTINATION.actions["identify_user"].ordered
    assert DESTINATION.secret_settings() == {"api_secret", "gdpr_token"}

"""Meta Custom Audiences against a local sink that checks the documented request shape: adds as
POST and removals as DELETE on /{audience_id}/users, a multi-key payload of SHA-256 hashes, at
most 10,000 rows, the token as a Bearer header."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.meta_custom_audiences import (
    DESTINATION,
    sync_audience,
    sync_audiences,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from seamline.spec.fql import compile_fql
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

TOKEN, AUDIENCE, OTHER = "EAAB-audience-token", "23851234567890123", "23859999999999999"
USERS_PATH = re.compile(r"/v26\.0/(\d+)/users")
SCHEMA_KEYS = ("EMAIL", "PHONE", "EXTERN_ID")
_CELL = re.compile(r"[0-9a-f]{64}|")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


JANE = {
    "email": sha256("jane.doe@example.com"),
    "phone": sha256("16505551212"),
    "user": sha256("user-1"),
}


def graph_error(code: int, message: str, transient: bool = False) -> Reply:
    error = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient}
    return Reply(400, {"error": error})


def custom_audiences(got: Received) -> Reply | None:
    """The Graph API's answer to a request that breaks the Custom Audience Users reference."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}" or "access_token" in got.query:
        return graph_error(190, "Invalid OAuth access token")
    if (got.method, got.path) == ("GET", "/v26.0/me"):
        return Reply(200, {"id": "1000"})
    if got.method not in ("POST", "DELETE") or not USERS_PATH.fullmatch(got.path):
        return graph_error(100, "Unsupported request")
    payload = got.json().get("payload", {})
    schema, data = payload.get("schema"), payload.get("data")
    ok = (
        isinstance(schema, list)
        and schema
        and set(schema) <= set(SCHEMA_KEYS)
        and len(set(schema)) == len(schema)
        and isinstance(data, list)
        and 1 <= len(data) <= 10_000
        and all(
            isinstance(row, list)
            and len(row) == len(schema)
            and any(row)
            and all(isinstance(cell, str) and _CELL.fullmatch(cell) for cell in row)
            for row in data
        )
    )
    return None if ok else graph_error(100, "Invalid parameter: payload")


@pytest.fixture
def tool(server: Sink) -> Sink:
    accepted = Reply(200, {"audience_id": AUDIENCE, "num_received": 1, "num_invalid_entries": 0})
    return reset(server, accepted, custom_audiences)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    return Context({"access_token": TOKEN, "endpoint": tool.url, **settings}, http)


def change(**fields: Any) -> dict[str, Any]:
    """A payload as the default mapping makes it from an Audience Entered track call."""
    return {
        "audience_id": AUDIENCE,
        "audience_key": "high_value",
        "event_name": "Audience Entered",
        "email": " Jane.Doe@Example.COM ",
        "phone": "+1 (650) 555-1212",
        "external_id": "user-1",
        **fields,
    }


def sent(tool: Sink) -> list[tuple[str, str, list[str], list[list[str]]]]:
    return [
        (got.method, got.path, got.json()["payload"]["schema"], got.json()["payload"]["data"])
        for got in tool.received
    ]


def test_the_catalog_finds_it() -> None:
    assert registry.load("meta-custom-audiences") is DESTINATION


def test_an_entered_person_is_added_with_hashed_identifiers(tool: Sink, http: Http) -> None:
    sync_audience(context(tool, http), change())

    [got] = tool.received
    assert (got.method, got.path, got.query) == ("POST", f"/v26.0/{AUDIENCE}/users", {})
    assert got.headers["authorization"] == f"Bearer {TOKEN}"
    assert got.json() == {
        "payload": {
            "schema": ["EMAIL", "PHONE", "EXTERN_ID"],
            "data": [[JANE["email"], JANE["phone"], JANE["user"]]],
        }
    }


@pytest.mark.parametrize(
    ("fields", "method"),
    [
        ({"event_name": "Audience Exited"}, "DELETE"),
        ({"event_name": None, "traits": {"high_value": True}}, "POST"),
        ({"event_name": None, "traits": {"high_value": False}}, "DELETE"),
        ({"event_name": "Audience Entered", "in_audience": False}, "DELETE"),
        ({"event_name": "Audience Exited", "in_audience": True}, "POST"),
    ],
    ids=["exited", "identify true", "identify false", "in_audience false", "in_audience true"],
)
def test_membership_decides_add_or_remove(
    tool: Sink, http: Http, fields: dict[str, Any], method: str
) -> None:
    sync_audience(context(tool, http), change(**fields))

    assert sent(tool) == [
        (
            method,
            f"/v26.0/{AUDIENCE}/users",
            ["EMAIL", "PHONE", "EXTERN_ID"],
            [[JANE["email"], JANE["phone"], JANE["user"]]],
        )
    ]


PERSONAS = {
    "computation_class": "audience",
    "computation_key": "high_value",
    "computation_id": "aud_1",
    "space_id": "default",
}
ENGAGE_TRACK = {
    "type": "track",
    "event": "Audience Exited",
    "userId": "user-1",
    "anonymousId": "anon-1",
    "properties": {"audience_key": "high_value", "high_value": False},
    "context": {
        "traits": {"email": "Jane.Doe@example.com", "phone": "+16505551212"},
        "personas": PERSONAS,
    },
}
ENGAGE_IDENTIFY = {
    "type": "identify",
    "userId": "user-1",
    "traits": {"high_value": True, "email": "jane.doe@example.com"},
    "context": {"personas": PERSONAS},
}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            ENGAGE_TRACK,
            ("DELETE", SCHEMA_KEYS, [[JANE["email"], JANE["phone"], JANE["user"]]]),
        ),
        (ENGAGE_IDENTIFY, ("POST", ("EMAIL", "EXTERN_ID"), [[JANE["email"], JANE["user"]]])),
    ],
    ids=["track", "identify"],
)
def test_the_default_mapping_reads_engage_messages(
    tool: Sink, http: Http, message: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    action = DESTINATION.actions["sync_audience"]
    assert compile_fql(DESTINATION.presets[0].trigger)(message) is (message["type"] == "track")
    mapper = compile_mapping({**default_mapping(action.fields), "audience_id": AUDIENCE})
    payload = validate_payload(mapper(message), action.fields)
    assert payload["audience_key"] == "high_value"

    action.perform(context(tool, http), payload)

    [(method, _, schema, data)] = sent(tool)
    assert (method, tuple(schema), data) == expected


def test_a_batch_is_one_request_per_audience_and_direction(tool: Sink, http: Http) -> None:
    outcomes = sync_audiences(
        context(tool, http),
        [
            change(phone=None, external_id=None),
            change(email=None, phone=None, external_id="user-2"),
            change(event_name="Audience Exited", email=None, external_id=None),
            change(email=None, phone=None, external_id=None),
            change(audience_id=OTHER, email="ada@example.com", phone=None, external_id=None),
        ],
    )

    assert outcomes[:3] == [None, None, None] and outcomes[4] is None
    assert isinstance(outcomes[3], InvalidPayload)
    assert sent(tool) == [
        (
            "POST",
            f"/v26.0/{AUDIENCE}/users",
            ["EMAIL", "EXTERN_ID"],
            [[JANE["email"], ""], ["", sha256("user-2")]],
        ),
        ("DELETE", f"/v26.0/{AUDIENCE}/users", ["PHONE"], [[JANE["phone"]]]),
        ("POST", f"/v26.0/{OTHER}/users", ["EMAIL"], [[sha256("ada@example.com")]]),
    ]


def test_a_person_changing_twice_in_a_batch_is_sent_once_with_the_later_change(
    tool: Sink, http: Http
) -> None:
    outcomes = sync_audiences(context(tool, http), [change(), change(event_name="Audience Exited")])

    assert outcomes == [None, None]
    assert [(method, data) for method, _, _, data in sent(tool)] == [
        ("DELETE", [[JANE["email"], JANE["phone"], JANE["user"]]])
    ]

    tool.replies.append(Reply(500))
    retried = sync_audiences(context(tool, http), [change(), change(event_name="Audience Exited")])
    assert all(isinstance(outcome, RetryableError) for outcome in retried)


def test_a_batch_is_split_at_10000_people(tool: Sink, patient_http: Http) -> None:
    payloads = [change(email=None, phone=None, external_id=f"u{n}") for n in range(10_001)]

    assert sync_audiences(context(tool, patient_http), payloads) == [None] * 10_001
    assert [len(data) for _, _, _, data in sent(tool)] == [10_000, 1]
    assert sent(tool)[1][3] == [[sha256("u10000")]]


def test_a_failed_request_fails_only_its_own_payloads(tool: Sink, http: Http) -> None:
    tool.replies.append(Reply(503))
    outcomes = sync_audiences(
        context(tool, http),
        [change(), change(audience_id=OTHER), change(email="ada@example.com", phone=None)],
    )

    assert isinstance(outcomes[0], RetryableError) and outcomes[0] is outcomes[2]
    assert outcomes[1] is None
    assert len(tool.received) == 2


def test_identifiers_already_hashed_are_not_hashed_again(tool: Sink, http: Http) -> None:
    sync_audience(
        context(tool, http),
        change(email=JANE["email"].upper(), phone=f" {JANE['phone']} ", external_id=JANE["user"]),
    )

    assert sent(tool)[0][3] == [[JANE["email"], JANE["phone"], JANE["user"]]]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": None, "phone": "", "external_id": None}, "no email, phone or external id"),
        ({"email": " ", "phone": "n/a", "external_id": None}, "no email, phone or external id"),
        ({"audience_id": None}, "audience_id"),
        ({"audience_id": "../me"}, "audience_id"),
        ({"event_name": "Signed Up"}, "entered or exited"),
        ({"event_name": None, "traits": {"high_value": "yes"}}, "entered or exited"),
    ],
    ids=[
        "no identifier",
        "identifiers that normalise to nothing",
        "no audience id",
        "audience id not an id",
        "another event",
        "identify without a boolean trait",
    ],
)
def test_invalid_payloads_are_refused_and_send_nothing(
    tool: Sink, http: Http, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        sync_audience(context(tool, http), change(**fields))
    assert tool.received == []


def test_authentication_reads_the_token_owner(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError, match="refused the access token") as raised:
        check(context(tool, http, access_token="expired"))
    assert type(raised.value) is PermanentError
    assert [(r.method, r.path, r.query) for r in tool.received] == [
        ("GET", "/v26.0/me", {"fields": ["id"]})
    ] * 2


def test_the_api_version_may_be_written_with_its_v(tool: Sink, http: Http) -> None:
    tool.check = None
    sync_audience(context(tool, http, api_version="v21.0"), change())
    assert tool.received[0].path == f"/v21.0/{AUDIENCE}/users"


@failure_modes(
    unauthorized=Reply(401, {"error": {"message": "unauthorized"}}),
    more={
        "expired token": Failure(graph_error(190, "Error validating access token"), PermanentError),
        "invalid parameter": Failure(graph_error(100, "Invalid parameter"), PermanentError),
        "throttled": Failure(graph_error(17, "User request limit reached"), RetryableError),
        "audience throttled": Failure(graph_error(80003, "Too many calls"), RetryableError),
        "transient": Failure(
            graph_error(2, "Service temporarily unavailable", transient=True), RetryableError
        ),
    },
    throttled=Reply(429, headers={"Retry-After": "30"}),
)
def test_meta_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: sync_audience(context(tool, http), change()))


def test_definition() -> None:
    action = DESTINATION.actions["sync_audience"]
    assert (action.max_batch, action.ordered) == (10_000, True)
    assert action.fields["audience_id"].required and action.fields["audience_id"].default is None
    assert action.fields["external_id"].default == {"@path": "$.userId"}
    assert DESTINATION.secret_settings() == {"access_token"}
    assert [(p.action, p.trigger) for p in DESTINATION.presets] == [
        ("sync_audience", 'event = "Audience Entered" or event = "Audience Exited"')
    ]

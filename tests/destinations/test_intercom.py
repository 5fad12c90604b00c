"""Intercom against a local sink that plays its REST API: Bearer token and Intercom-Version
headers, contact search, create and update, data events, companies, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import intercom
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

TOKEN = "intercom-token"
CONTACTS = {"user-1": "c-100", "ada@example.com": "c-100", "user-2": "c-200"}


def documented_shape(got: Received) -> Reply | None:
    """Intercom's answer to a request that breaks its reference, else None."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"type": "error.list", "errors": [{"code": "unauthorized"}]})
    if got.headers.get("intercom-version") != intercom.API_VERSION:
        return Reply(400, {"type": "error.list", "errors": [{"code": "intercom_version_invalid"}]})
    if got.method in ("GET", "DELETE", "PUT"):
        return None
    body = got.json()
    if got.path == "/contacts/search":
        query = body["query"]
        clauses = query["value"] if query.get("operator") in ("OR", "AND") else [query]
        ids = sorted({CONTACTS[c["value"]] for c in clauses if c["value"] in CONTACTS})
        data = [
            {"type": "contact", "id": i, "external_id": "user-1" if i == "c-100" else "user-2"}
            for i in ids
        ]
        return Reply(200, {"type": "list", "data": data, "total_count": len(data)})
    if got.path == "/contacts":
        if body.get("role") not in ("user", "lead") or not (
            body.get("external_id") or body.get("email")
        ):
            return Reply(400, {"type": "error.list", "errors": [{"code": "parameter_invalid"}]})
        return Reply(200, {"type": "contact", "id": "c-new"})
    if got.path == "/events":
        missing = not body.get("event_name") or not isinstance(body.get("created_at"), int)
        if missing or len(body.get("metadata", {})) > 20:
            return Reply(400, {"type": "error.list", "errors": [{"code": "parameter_invalid"}]})
        return None
    if got.path == "/companies":
        return Reply(200, {"type": "company", "id": "co-1", "company_id": body["company_id"]})
    if got.path.startswith("/contacts/") and got.path.endswith("/companies"):
        return None if body.get("id") else Reply(400, {"errors": [{"code": "parameter_missing"}]})
    return Reply(404, {"type": "error.list", "errors": [{"code": "not_found"}]})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"type": "contact", "id": "c-100"}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"access_token": TOKEN, "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    return default_payload(intercom.DESTINATION.actions[action], event)


def test_the_catalog_finds_intercom() -> None:
    assert registry.load("intercom") is intercom.DESTINATION


def test_an_identify_of_a_known_contact_updates_it(ctx: Context, tool: Sink) -> None:
    identify = {
        "type": "identify",
        "userId": "user-1",
        "traits": {
            "email": "ada@example.com",
            "name": "Ada",
            "plan": "pro",
            "tags": ["a"],
            "createdAt": "2024-05-01T10:00:00Z",
        },
    }

    intercom.identify_contact(ctx, mapped("identify_contact", identify))

    search, update = tool.received
    assert search.json()["query"]["operator"] == "OR"
    assert (update.method, update.path) == ("PUT", "/contacts/c-100")
    assert update.json() == {
        "external_id": "user-1",
        "email": "ada@example.com",
        "name": "Ada",
        "signed_up_at": 1714557600,
        "custom_attributes": {"plan": "pro"},
    }


def test_an_identify_of_someone_new_creates_a_user(ctx: Context, tool: Sink) -> None:
    intercom.identify_contact(ctx, {"external_id": "user-9"})

    search, create = tool.received
    assert search.json() == {"query": {"field": "external_id", "operator": "=", "value": "user-9"}}
    assert (create.method, create.path) == ("POST", "/contacts")
    assert create.json() == {"external_id": "user-9", "role": "user"}


def test_the_track_preset_sends_a_data_event_with_20_metadata_values(
    ctx: Context, tool: Sink
) -> None:
    properties = {f"p{n}": n for n in range(22)} | {
        "nested": {"a": 1},
        "revenue": 12.5,
        "currency": "EUR",
    }
    track = {
        "type": "track",
        "event": "Placed Order",
        "userId": "user-1",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": properties,
    }

    intercom.track_event(ctx, mapped("track_event", track))

    [got] = tool.received
    body = got.json()
    assert {k: v for k, v in body.items() if k != "metadata"} == {
        "event_name": "Placed Order",
        "created_at": 1714557600,
        "user_id": "user-1",
    }
    assert len(body["metadata"]) == 20
    assert body["metadata"]["price"] == {"amount": 1250, "currency": "eur"}
    assert "nested" not in body["metadata"]


def test_a_group_upserts_the_company_and_attaches_the_contact(ctx: Context, tool: Sink) -> None:
    group = {
        "type": "group",
        "groupId": "acme",
        "userId": "user-2",
        "traits": {"name": "Acme", "employees": 40},
    }

    intercom.group_contact(ctx, mapped("group_contact", group))

    company, search, attach = tool.received
    assert company.json() == {"company_id": "acme", "name": "Acme", "size": 40}
    assert search.path == "/contacts/search"
    assert (attach.path, attach.json()) == ("/contacts/c-200/companies", {"id": "co-1"})


def test_a_group_of_a_contact_not_yet_in_intercom_is_retried(ctx: Context, tool: Sink) -> None:
    with pytest.raises(RetryableError, match="not in Intercom yet"):
        intercom.group_contact(ctx, {"company_id": "acme", "external_id": "user-9"})


def test_authentication_reads_me(ctx: Context, tool: Sink) -> None:
    intercom.test_authentication(ctx)
    assert [(got.method, got.path) for got in tool.received] == [("GET", "/me")]


@failure_modes(
    unauthorized=Reply(401, {"type": "error.list", "errors": [{"code": "unauthorized"}]}),
    more={
        "403": Failure(Reply(403, {"errors": [{"code": "forbidden"}]}), PermanentError),
        "422": Failure(Reply(422, {"errors": [{"code": "invalid"}]}), PermanentError),
        "409": Failure(Reply(409, {"errors": [{"code": "conflict"}]}), RetryableError),
    },
    throttled=Reply(429, {"errors": [{"code": "rate_limit_exceeded"}]}, {"Retry-After": "10"}),
)
def test_intercom_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    payload = {"event_name": "Viewed", "created_at": 1714557600, "user_id": "user-1"}
    assert_fails(tool, failure, lambda: intercom.track_event(ctx, payload))


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("identify_contact", {"name": "Ada"}, "external_id or an email"),
        ("track_event", {"event_name": "x", "created_at": 1}, "user_id or an email"),
        ("track_event", {"user_id": "u", "created_at": 1}, "event_name"),
        ("group_contact", {"external_id": "u"}, "company_id"),
    ],
    ids=["contact for nobody", "event for nobody", "event without name", "company without id"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        intercom.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_deletion_deletes_each_contact_found_once(ctx: Context, tool: Sink) -> None:
    ids = {
        Identifier("email", "ada@example.com"),
        Identifier("user_id", "user-1"),
        Identifier("user_id", "ghost"),
    }
    intercom.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )
    deletes = [(got.method, got.path) for got in tool.received if got.method == "DELETE"]
    assert deletes == [("DELETE", "/contacts/c-100")]


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("US", "https://api.intercom.io"),
        ("EU", "https://api.eu.intercom.io"),
        ("AU", "https://api.au.intercom.io"),
    ],
)
def test_the_region_picks_the_host(http: Http, region: str, host: str) -> None:
    assert (
        intercom._url(Context({"access_token": TOKEN, "region": region}, http), "/me")
        == host + "/me"
    )

"""Zendesk Support against a local sink that checks the Support API's documented shapes."""

from __future__ import annotations

import base64

import pytest

from seamline.destinations.catalog import zendesk
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

BASIC = "Basic " + base64.b64encode(b"agent@example.com/token:zd-token").decode()
USERS = {"u1": 11, "jo@example.com": 12}


def support_api(received: Received) -> Reply | None:
    """Zendesk's answers: 401 without the agent's token, 422 RecordInvalid for a body it
    cannot take, 201 for an upsert, searches by external_id or `email:` query."""
    if received.headers.get("authorization") != BASIC:
        return Reply(401, {"error": "Couldn't authenticate you"})
    route = (received.method, received.path)
    if route == ("POST", "/api/v2/users/create_or_update"):
        user = received.json().get("user") or {}
        if not user.get("name") or not (user.get("email") or user.get("external_id")):
            return Reply(422, {"error": "RecordInvalid", "description": "Record validation errors"})
        return None  # the queued or default answer (201 with the user)
    if route == ("POST", "/api/v2/organizations/create_or_update"):
        organization = received.json().get("organization") or {}
        if not organization.get("name"):
            return Reply(422, {"error": "RecordInvalid"})
        return None
    if route == ("GET", "/api/v2/users/search"):
        key = (received.query.get("external_id") or received.query.get("query") or [""])[0]
        found = USERS.get(key.removeprefix("email:"))
        return Reply(200, {"users": [{"id": found}] if found else []})
    if received.method == "DELETE" and received.path.startswith(
        ("/api/v2/users/", "/api/v2/deleted_users/")
    ):
        return Reply(200 if "deleted_users" not in received.path else 204, b"")
    if route == ("GET", "/api/v2/users/me"):
        return Reply(200, {"user": {"id": 1}})
    return Reply(404, {"error": "InvalidEndpoint"})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(201, {"user": {"id": 11}}), support_api)


def ctx(tool: Sink, http: Http) -> Context:
    settings = {
        "email": "agent@example.com",
        "api_token": "zd-token",
        "endpoint": tool.url + "/api/v2",
    }
    return Context(settings=settings, http=http)


IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {"email": "jo@example.com", "name": "Jo", "phone": "+33 6 12 34 56 78"},
    "context": {"groupId": "acme"},
}


def test_an_identify_upserts_the_user_by_external_id(tool: Sink, http: Http) -> None:
    zendesk.upsert_user(
        ctx(tool, http), default_payload(zendesk.DESTINATION.actions["upsert_user"], IDENTIFY)
    )

    [got] = tool.received
    assert got.json() == {
        "user": {
            "external_id": "u1",
            "email": "jo@example.com",
            "name": "Jo",
            "phone": "+33 6 12 34 56 78",
            "organization": {"external_id": "acme"},
        }
    }


def test_a_user_without_a_name_is_named_after_the_email(tool: Sink, http: Http) -> None:
    zendesk.upsert_user(ctx(tool, http), {"email": "jo@example.com"})
    assert tool.received[0].json()["user"]["name"] == "jo@example.com"


def test_a_user_with_no_id_is_refused_before_sending(tool: Sink, http: Http) -> None:
    with pytest.raises(InvalidPayload):
        zendesk.upsert_user(ctx(tool, http), {"name": "Jo"})
    assert tool.received == []


def test_a_group_upserts_the_organization(tool: Sink, http: Http) -> None:
    event = {"type": "group", "groupId": "acme", "traits": {"name": "Acme"}}
    action = zendesk.DESTINATION.actions["upsert_organization"]
    zendesk.upsert_organization(ctx(tool, http), default_payload(action, event))
    assert tool.received[0].json() == {"organization": {"external_id": "acme", "name": "Acme"}}


def test_deletion_finds_the_users_and_deletes_them_for_good(tool: Sink, http: Http) -> None:
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u1"), Identifier("email", "jo@example.com")}),
        profile_ids=frozenset(),
    )

    zendesk.delete_person(ctx(tool, http), person)

    deletes = [(r.method, r.path) for r in tool.received if r.method == "DELETE"]
    assert deletes == [
        ("DELETE", "/api/v2/users/11"),
        ("DELETE", "/api/v2/deleted_users/11"),
        ("DELETE", "/api/v2/users/12"),
        ("DELETE", "/api/v2/deleted_users/12"),
    ]


@pytest.mark.parametrize("subdomain", ["", "evil.com/x", "a b", "-x", "x" * 64])
def test_a_subdomain_that_is_not_one_is_refused(http: Http, subdomain: str) -> None:
    settings = {"subdomain": subdomain, "email": "a@b.c", "api_token": "t"}
    with pytest.raises(PermanentError, match="subdomain"):
        zendesk.upsert_user(Context(settings=settings, http=http), {"email": "jo@example.com"})


def test_credentials_are_checked_with_a_read(tool: Sink, http: Http) -> None:
    zendesk.check_credentials(ctx(tool, http))
    assert tool.received[0].path == "/api/v2/users/me"
    bad = Context(settings={**ctx(tool, http).settings, "api_token": "nope"}, http=http)
    with pytest.raises(PermanentError):
        zendesk.check_credentials(bad)


@failure_modes(
    unauthorized=Reply(401, {"error": "Couldn't authenticate you"}),
    throttled=Reply(429, {"error": "APIRateLimitExceeded"}, {"Retry-After": "7"}),
    more={"422": Failure(Reply(422, {"error": "RecordInvalid"}), PermanentError)},
)
def test_failures(tool: Sink, http: Http, failure: Failure) -> None:
    context = ctx(tool, http)
    assert_fails(tool, failure, lambda: zendesk.upsert_user(context, {"email": "jo@example.com"}))

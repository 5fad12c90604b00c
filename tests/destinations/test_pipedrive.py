"""Pipedrive against a local sink that checks the API's documented shapes."""

from __future__ import annotations

import pytest

from seamline.destinations.catalog import pipedrive
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

TOKEN = "pd-0123456789abcdef"
KNOWN = {("persons", "known@example.com"): 42, ("organizations", "Acme"): 7}


def pipedrive_api(received: Received) -> Reply | None:
    """Pipedrive's answers: 401 without the token, searches by exact term, 400 for a person
    without a name, `{"success": true, "data": {"id"}}` otherwise."""
    if received.headers.get("x-api-token") != TOKEN or "api_token" in received.query:
        return Reply(401, {"success": False, "error": "unauthorized access"})
    parts = received.path.strip("/").split("/")
    if received.method == "GET" and parts[-1] == "search":
        assert received.query["exact_match"] == ["true"]
        found = KNOWN.get((parts[-2], received.query["term"][0]))
        items = [{"result_score": 1, "item": {"id": found}}] if found else []
        return Reply(200, {"success": True, "data": {"items": items}})
    if received.method == "PUT" and parts[-1].isdigit():
        return Reply(200, {"success": True, "data": {"id": int(parts[-1])}})
    if received.method == "POST" and parts[-1] in ("persons", "organizations", "deals"):
        body = received.json()
        if not body.get("name") and not body.get("title"):
            return Reply(400, {"success": False, "error": "Name must be given."})
        return None
    if received.method == "DELETE" or parts[-2:] == ["users", "me"]:
        return None
    return Reply(404, {"success": False, "error": "Unknown method ."})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(201, {"success": True, "data": {"id": 99}}), pipedrive_api)


def ctx(tool: Sink, http: Http) -> Context:
    return Context(settings={"api_token": TOKEN, "endpoint": tool.url + "/api/v1"}, http=http)


def calls(tool: Sink) -> list[tuple[str, str]]:
    return [(r.method, r.path.removeprefix("/api/v1")) for r in tool.received]


def test_a_new_person_is_created_with_its_organization(tool: Sink, http: Http) -> None:
    event = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "new@example.com", "name": "Jo", "company": {"name": "Acme"}},
    }
    pipedrive.upsert_person(
        ctx(tool, http), default_payload(pipedrive.DESTINATION.actions["upsert_person"], event)
    )

    assert calls(tool) == [
        ("GET", "/organizations/search"),
        ("PUT", "/organizations/7"),
        ("GET", "/persons/search"),
        ("POST", "/persons"),
    ]
    assert tool.received[-1].json() == {
        "name": "Jo",
        "email": [{"value": "new@example.com", "primary": True, "label": "work"}],
        "org_id": 7,
    }


def test_a_known_person_is_updated_in_place(tool: Sink, http: Http) -> None:
    pipedrive.upsert_person(ctx(tool, http), {"email": "known@example.com", "name": "Kay"})
    assert calls(tool)[-1] == ("PUT", "/persons/42")


def test_a_person_without_an_email_is_refused_before_sending(tool: Sink, http: Http) -> None:
    with pytest.raises(InvalidPayload):
        pipedrive.upsert_person(ctx(tool, http), {"name": "Jo"})
    assert tool.received == []


def test_a_deal_is_tied_to_its_person(tool: Sink, http: Http) -> None:
    event = {
        "type": "track",
        "event": "Deal Created",
        "properties": {"title": "Acme renewal", "value": 1200, "currency": "EUR"},
        "context": {"traits": {"email": "known@example.com"}},
    }
    pipedrive.create_deal(
        ctx(tool, http), default_payload(pipedrive.DESTINATION.actions["create_deal"], event)
    )

    assert tool.received[-1].json() == {
        "title": "Acme renewal",
        "value": 1200,
        "currency": "EUR",
        "person_id": 42,
    }


def test_deletion_deletes_the_people_found_by_email(tool: Sink, http: Http) -> None:
    person = Person(
        workspace_id="w",
        identifiers=frozenset(
            {Identifier("email", "known@example.com"), Identifier("email", "gone@example.com")}
        ),
        profile_ids=frozenset(),
    )
    pipedrive.delete_person(ctx(tool, http), person)
    assert [c for c in calls(tool) if c[0] == "DELETE"] == [("DELETE", "/persons/42")]


@pytest.mark.parametrize("domain", ["", "evil.com/x", "a b", "x" * 64])
def test_a_company_domain_that_is_not_one_is_refused(http: Http, domain: str) -> None:
    context = Context(settings={"company_domain": domain, "api_token": TOKEN}, http=http)
    with pytest.raises(PermanentError, match="company_domain"):
        pipedrive.check_token(context)


def test_the_token_is_hidden_from_recorded_exchanges(tool: Sink) -> None:
    from seamline.destinations.client import destination_client
    from tests.destinations.conftest import LOOPBACK

    with destination_client(LOOPBACK) as client:
        http = Http(client, timeout=5.0, secrets=[TOKEN])
        pipedrive.check_token(ctx(tool, http))
        assert TOKEN not in http.exchanges[-1].request_text()


@failure_modes(
    unauthorized=Reply(401, {"success": False, "error": "unauthorized access"}),
    throttled=Reply(429, {"success": False, "error": "Rate limit"}, {"Retry-After": "2"}),
    more={"400": Failure(Reply(400, {"success": False, "error": "bad"}), PermanentError)},
)
def test_failures(tool: Sink, http: Http, failure: Failure) -> None:
    context = ctx(tool, http)
    deliver = lambda: pipedrive.upsert_organization(context, {"name": "New"})  # noqa: E731
    assert_fails(tool, failure, deliver, every_request=True)

"""LinkedIn Matched Audiences against a local stand-in for LinkedIn's DMP API that checks the
documented request shape: the segment found or created for an audience, then BATCH_CREATE users
with ADD or REMOVE, SHA256_EMAIL and GOOGLE_AID ids, LinkedIn-Version and Rest.li headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.linkedin_matched_audiences import (
    DESTINATION,
    delete_person,
    sync_audience,
    sync_audiences,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.ads_contract import preset_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

ACCOUNT, TOKEN, PLATFORM = "5123456", "AQX-linkedin-token", "SEAMLINE"
URN = f"urn:li:sponsoredAccount:{ACCOUNT}"
USERS = re.compile(r"/rest/dmpSegments/(\d+)/users")
JANE = sha256_hex("jane.doe@example.com")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class FakeLinkedIn:
    """Segments by sourceSegmentId, and the DMP API's answers."""

    def __init__(self) -> None:
        self.segments: dict[str, dict[str, Any]] = {}

    def __call__(self, got: Received) -> Reply | None:
        headers = got.headers
        if got.path == "/oauth/v2/accessToken":
            form = parse_qs(got.body.decode())
            ok = form.get("refresh_token") == ["refresh-1"] and form.get("client_secret") == ["s3"]
            body = {"access_token": TOKEN, "expires_in": 5_184_000}
            return Reply(200, body) if ok else Reply(400, {"error": "invalid_grant"})
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(
                401, {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN"}
            )
        if (
            headers.get("linkedin-version") != "202604"
            or headers.get("x-restli-protocol-version") != "2.0.0"
        ):
            return Reply(426, {"status": 426, "code": "NONEXISTENT_VERSION"})
        query = {k: v[0] for k, v in got.query.items()}
        if (got.method, got.path) == ("GET", f"/rest/adAccounts/{ACCOUNT}"):
            return Reply(200, {"id": int(ACCOUNT), "status": "ACTIVE"})
        if (got.method, got.path) == ("GET", "/rest/dmpSegments"):
            if query.get("q") != "account" or query.get("account") != URN:
                return Reply(400, {"status": 400, "message": "invalid finder"})
            found = [
                s for s in self.segments.values()
                if s["sourcePlatform"] == query.get("sourcePlatform")
                and query.get("sourceSegmentId") in (None, s["sourceSegmentId"])
            ]  # fmt: skip
            return Reply(200, {"elements": found, "paging": {"start": 0, "count": 100}})
        if (got.method, got.path) == ("POST", "/rest/dmpSegments"):
            body = got.json()
            expected = {
                "name",
                "account",
                "sourcePlatform",
                "sourceSegmentId",
                "type",
                "destinations",
            }
            if set(body) != expected or body["type"] != "USER" or body["account"] != URN:
                return Reply(400, {"status": 400, "message": f"invalid segment {body}"})
            segment_id = str(1000 + len(self.segments))
            self.segments[body["sourceSegmentId"]] = {**body, "id": int(segment_id)}
            return Reply(201, {}, headers={"x-linkedin-id": segment_id})
        if got.method == "POST" and USERS.fullmatch(got.path):
            return self.users(got)
        return Reply(404, {"status": 404, "message": "not found"})

    def users(self, got: Received) -> Reply | None:
        if got.headers.get("x-restli-method") != "BATCH_CREATE":
            return Reply(400, {"status": 400, "message": "X-RestLi-Method must be BATCH_CREATE"})
        elements = got.json().get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 5000:
            return Reply(400, {"status": 400, "message": "1 to 5000 elements"})
        statuses = []
        for element in elements:
            ids = element.get("userIds") or []
            ok = (
                element.get("action") in ("ADD", "REMOVE")
                and ids
                and all(
                    (i["idType"] == "SHA256_EMAIL" and _HEX64.fullmatch(i["idValue"]))
                    or (i["idType"] == "GOOGLE_AID" and i["idValue"])
                    for i in ids
                )
            )
            statuses.append({"status": 201} if ok else {"status": 400, "message": "invalid"})
        if all(s["status"] == 201 for s in statuses):
            return None  # the scripted answer
        return Reply(200, {"elements": statuses})


@pytest.fixture
def linkedin() -> FakeLinkedIn:
    return FakeLinkedIn()


@pytest.fixture
def tool(server: Sink, linkedin: FakeLinkedIn) -> Iterator[Sink]:
    yield reset(server, Reply(200, {"elements": []}), linkedin)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {
        "ad_account_id": ACCOUNT,
        "source_platform": PLATFORM,
        "access_token": TOKEN,
        "endpoint": tool.url,
    }
    return Context({**base, **settings}, http)


def change(**fields: Any) -> dict[str, Any]:
    return {
        "audience_key": "high_value",
        "segment_name": "high_value",
        "event_name": "Audience Entered",
        "email": " Jane.Doe@Example.COM ",
        "google_advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d",
        **fields,
    }


def users_requests(tool: Sink) -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        (USERS.fullmatch(got.path)[1], got.json()["elements"])  # type: ignore[index]
        for got in tool.received
        if USERS.fullmatch(got.path)
    ]


def test_the_catalog_finds_it() -> None:
    assert registry.load("linkedin-matched-audiences") is DESTINATION


def test_the_first_entry_creates_the_segment_then_adds_the_person(
    tool: Sink, http: Http, linkedin: FakeLinkedIn
) -> None:
    ctx = context(tool, http)
    sync_audience(ctx, change())
    sync_audience(ctx, change(event_name="Audience Exited", google_advertising_id=None))

    assert [(got.method, got.path) for got in tool.received] == [
        ("GET", "/rest/dmpSegments"),
        ("POST", "/rest/dmpSegments"),
        ("POST", "/rest/dmpSegments/1000/users"),
        ("POST", "/rest/dmpSegments/1000/users"),  # the segment's id is remembered
    ]
    assert linkedin.segments["high_value"]["destinations"] == [{"destination": "LINKEDIN"}]
    assert linkedin.segments["high_value"]["sourcePlatform"] == PLATFORM
    assert users_requests(tool) == [
        (
            "1000",
            [
                {
                    "action": "ADD",
                    "userIds": [
                        {"idType": "SHA256_EMAIL", "idValue": JANE},
                        {"idType": "GOOGLE_AID", "idValue": "38400000-8cf0-11bd-b23e-10b96e40000d"},
                    ],
                }
            ],
        ),
        ("1000", [{"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": JANE}]}]),
    ]


def test_an_existing_segment_is_found_not_created(
    tool: Sink, http: Http, linkedin: FakeLinkedIn
) -> None:
    linkedin.segments["high_value"] = {
        "id": 77,
        "sourcePlatform": PLATFORM,
        "sourceSegmentId": "high_value",
    }
    sync_audience(context(tool, http), change(first_name="Jane", company="Acme"))

    assert [got.method for got in tool.received] == ["GET", "POST"]
    [(segment, [element])] = users_requests(tool)
    assert segment == "77" and (element["firstName"], element["company"]) == ("Jane", "Acme")


def test_settings_choose_the_identifiers_sent(tool: Sink, http: Http) -> None:
    ctx = context(tool, http, send_google_advertising_id=False)
    ctx.state["linkedin.segment:high_value"] = "5"
    sync_audience(ctx, change())
    with pytest.raises(InvalidPayload):
        sync_audience(ctx, change(email=None))
    assert users_requests(tool)[0][1][0]["userIds"] == [{"idType": "SHA256_EMAIL", "idValue": JANE}]


def test_an_element_linkedin_refuses_fails_only_its_payload(tool: Sink, http: Http) -> None:
    ctx = context(tool, http, send_email=False)
    ctx.state["linkedin.segment:high_value"] = "5"
    outcomes = sync_audiences(
        ctx, [change(), change(google_advertising_id=" "), change(google_advertising_id="")]
    )
    # " " is not empty to Seamline, so it is sent, and LinkedIn refuses it; "" is not sent.
    assert outcomes[0] is None
    assert isinstance(outcomes[1], PermanentError) and not isinstance(outcomes[1], InvalidPayload)
    assert isinstance(outcomes[2], InvalidPayload)


def test_a_batch_is_split_at_5000_per_segment(tool: Sink, patient_http: Http) -> None:
    ctx = context(tool, patient_http)
    ctx.state["linkedin.segment:high_value"] = "5"
    ctx.state["linkedin.segment:churn_risk"] = "6"
    payloads = [change(email=f"u{n}@example.com", google_advertising_id=None) for n in range(5001)]
    payloads.append(change(audience_key="churn_risk"))

    assert sync_audiences(ctx, payloads) == [None] * 5002
    assert [(segment, len(elements)) for segment, elements in users_requests(tool)] == [
        ("5", 5000),
        ("5", 1),
        ("6", 1),
    ]


def test_a_new_segment_not_ready_yet_is_retried(tool: Sink, http: Http) -> None:
    ctx = context(tool, http)
    ctx.state["linkedin.segment:high_value"] = "5"
    tool.replies.append(Reply(404, {"status": 404, "message": "DMP segment not found"}))
    with pytest.raises(RetryableError):
        sync_audience(ctx, change())


def test_the_default_mapping_reads_an_engage_track_call(tool: Sink, http: Http) -> None:
    message = {
        "type": "track",
        "event": "Audience Exited",
        "userId": "user-1",
        "properties": {"audience_key": "high_value", "high_value": False},
        "context": {
            "traits": {"email": "jane.doe@example.com"},
            "personas": {"computation_key": "high_value", "computation_class": "audience"},
        },
    }
    action, payload = preset_payload(DESTINATION, message, lambda preset: True)
    ctx = context(tool, http)
    ctx.state["linkedin.segment:high_value"] = "5"

    action.perform(ctx, payload)

    assert users_requests(tool) == [
        ("5", [{"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": JANE}]}])
    ]


def test_a_refresh_token_is_exchanged_once_and_kept_out_of_records(tool: Sink, http: Http) -> None:
    ctx = context(
        tool,
        http,
        access_token=None,
        refresh_token="refresh-1",
        client_id="app-1",
        client_secret="s3",
        token_url=f"{tool.url}/oauth/v2/accessToken",
    )
    ctx.state["linkedin.segment:high_value"] = "5"
    sync_audience(ctx, change())
    sync_audience(ctx, change())

    assert [got.path for got in tool.received].count("/oauth/v2/accessToken") == 1
    assert all("refresh-1" not in exchange.request_body for exchange in http.exchanges)
    with pytest.raises(PermanentError, match="refused the refresh token"):
        sync_audience(context(tool, http, access_token=None, refresh_token="revoked",
                              client_secret="s3", token_url=f"{tool.url}/oauth/v2/accessToken"),
                      change())  # fmt: skip


def test_deletion_removes_the_person_from_every_segment_seamline_made(
    tool: Sink, http: Http, linkedin: FakeLinkedIn
) -> None:
    for n, key in enumerate(("high_value", "churn_risk")):
        linkedin.segments[key] = {"id": 10 + n, "sourcePlatform": PLATFORM, "sourceSegmentId": key}
    linkedin.segments["theirs"] = {"id": 99, "sourcePlatform": "OTHER", "sourceSegmentId": "x"}
    person = Person(
        workspace_id="default",
        identifiers=frozenset(
            {Identifier("email", "Jane.Doe@example.com"), Identifier("user_id", "user-1")}
        ),
        profile_ids=frozenset(),
    )

    delete_person(context(tool, http), person)

    removal = [{"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": JANE}]}]
    assert users_requests(tool) == [("10", removal), ("11", removal)]


def test_authentication_reads_the_ad_account(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, access_token="expired"))


@failure_modes(
    unauthorized=Reply(401, {"status": 401, "code": "INVALID_ACCESS_TOKEN"}),
    more={
        "forbidden": Failure(Reply(403, {"status": 403, "code": "ACCESS_DENIED"}), PermanentError),
    },
    throttled=Reply(429, {"status": 429}, headers={"Retry-After": "60"}),
)
def test_linkedin_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    ctx = context(tool, http)
    ctx.state["linkedin.segment:high_value"] = "5"
    assert_fails(tool, failure, lambda: sync_audience(ctx, change()))


def test_definition() -> None:
    assert DESTINATION.secret_settings() == {"access_token", "refresh_token", "client_secret"}
    assert DESTINATION.settings["endpoint"].target and DESTINATION.settings["token_url"].target
    assert DESTINATION.actions["sync_audience"].max_batch == 5000
    assert DESTINATION.actions["sync_audience"].ordered

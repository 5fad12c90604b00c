"""Google Ads against a local stand-in for the REST API that checks the documented request
shapes: the OAuth refresh-token exchange, developer-token and login-customer-id headers,
Customer Match jobs (create, addOperations, run) and click and call conversion uploads with
partial failures."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qs

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.google_ads import DESTINATION
from seamline.destinations.catalog.google_ads.conversions import (
    upload_call_conversion,
    upload_click_conversion,
    upload_click_conversions,
)
from seamline.destinations.catalog.google_ads.customer_match import (
    delete_person,
    sync_audience,
    sync_audiences,
)
from seamline.destinations.catalog.google_ads.identifiers import user_identifiers
from seamline.destinations.definition import Context, Subscribed
from seamline.destinations.errors import (
    CannotDelete,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.ads_contract import preset_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

CUSTOMER, MANAGER, LIST, ACTION = "1234567890", "9876543210", "555", "777"
DEV_TOKEN, ACCESS = "dev-token-123", "ya29.access"
JOB = f"customers/{CUSTOMER}/offlineUserDataJobs/42"
WHEN = dt.datetime(2026, 11, 30, 9, 15, 0, tzinfo=dt.UTC)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d")


def google_error(
    status: int, code: dict[str, str], message: str, kind: str, retry_after: str | None = None
) -> Reply:
    failure = {
        "@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure",
        "errors": [{"errorCode": code, "message": message}],
        "requestId": "req-1",
    }
    body = {"error": {"code": status, "message": message, "status": kind, "details": [failure]}}
    return Reply(status, body, headers={"Retry-After": retry_after} if retry_after else {})


def partial(field: str, index: int, message: str) -> dict[str, Any]:
    where = {"fieldPathElements": [{"fieldName": field, "index": index}]}
    error = {
        "errorCode": {"conversionUploadError": "INVALID"},
        "message": message,
        "location": where,
    }
    return {"code": 3, "message": message, "details": [{"errors": [error]}]}


def _ids_ok(ids: Any) -> bool:
    if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
        return False
    for item in ids:
        address = item.get("addressInfo")
        if address is not None:
            if set(address) != {"hashedFirstName", "hashedLastName", "countryCode", "postalCode"}:
                return False
            continue
        values = [item.get("hashedEmail"), item.get("hashedPhoneNumber")]
        if not any(values) or not all(_HEX64.fullmatch(v) for v in values if v):
            return False
    return True


class FakeGoogleAds:
    """Google's answers: the token endpoint, then the API with its headers checked."""

    def __init__(self) -> None:
        self.refused: set[int] = set()  # operation or conversion indexes to fail partially
        self.tokens = 0

    def __call__(self, got: Received) -> Reply | None:
        if got.path == "/token":
            form = parse_qs(got.body.decode())
            ok = form == {
                "grant_type": ["refresh_token"],
                "client_id": ["client-1"],
                "client_secret": ["secret-1"],
                "refresh_token": ["refresh-1"],
            }
            self.tokens += ok
            body = {"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"}
            return Reply(200, body) if ok else Reply(400, {"error": "invalid_grant"})
        if got.headers.get("authorization") != f"Bearer {ACCESS}":
            return google_error(
                401, {"authenticationError": "OAUTH_TOKEN_INVALID"}, "bad token", "UNAUTHENTICATED"
            )
        if got.headers.get("developer-token") != DEV_TOKEN:
            return google_error(
                401,
                {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
                "dev token",
                "UNAUTHENTICATED",
            )
        if got.headers.get("login-customer-id") not in (None, MANAGER):
            return google_error(
                403,
                {"authorizationError": "USER_PERMISSION_DENIED"},
                "manager",
                "PERMISSION_DENIED",
            )
        return self.route(got)

    def route(self, got: Received) -> Reply | None:
        path = got.path.removeprefix("/v22/")
        if (got.method, path) == ("GET", "customers:listAccessibleCustomers"):
            return Reply(200, {"resourceNames": [f"customers/{CUSTOMER}"]})
        body = got.json() if got.body else {}
        if path == f"customers/{CUSTOMER}/offlineUserDataJobs:create":
            meta = body.get("job", {}).get("customerMatchUserListMetadata", {})
            ok = body["job"].get("type") == "CUSTOMER_MATCH_USER_LIST" and re.fullmatch(
                rf"customers/{CUSTOMER}/userLists/\d+", meta.get("userList", "")
            )
            return Reply(200, {"resourceName": JOB}) if ok else self.invalid("job")
        if path == f"{JOB}:addOperations":
            operations = body.get("operations")
            if body.get("enablePartialFailure") is not True or not operations:
                return self.invalid("operations")
            count = sum(len(next(iter(op.values()))["userIdentifiers"]) for op in operations)
            if count > 100_000 or not all(
                len(op) == 1 and next(iter(op)) in ("create", "remove")
                and _ids_ok(next(iter(op.values()))["userIdentifiers"])
                for op in operations
            ):  # fmt: skip
                return self.invalid("operations")
            return self.partially(len(operations), "operations")
        if path == f"{JOB}:run":
            return Reply(200, {"name": f"customers/{CUSTOMER}/operations/run-1"})
        if path in (
            f"customers/{CUSTOMER}:uploadClickConversions",
            f"customers/{CUSTOMER}:uploadCallConversions",
        ):
            conversions = body.get("conversions")
            if body.get("partialFailure") is not True or not 1 <= len(conversions or []) <= 2000:
                return self.invalid("conversions")
            for c in conversions:
                ok = c.get(
                    "conversionAction"
                ) == f"customers/{CUSTOMER}/conversionActions/{ACTION}" and _TIME.fullmatch(
                    c.get("conversionDateTime", "")
                )
                if path.endswith("Click" + "Conversions"):
                    ok = ok and (
                        c.get("gclid")
                        or c.get("gbraid")
                        or c.get("wbraid")
                        or _ids_ok(c.get("userIdentifiers"))
                    )
                else:
                    ok = (
                        ok
                        and re.fullmatch(r"\+\d+", c.get("callerId", ""))
                        and _TIME.fullmatch(c.get("callStartDateTime", ""))
                    )
                if not ok:
                    return self.invalid(f"conversion {c}")
            return self.partially(len(conversions), "conversions")
        return Reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})

    def invalid(self, what: str) -> Reply:
        return google_error(
            400, {"requestError": "INVALID_INPUT"}, f"invalid {what}", "INVALID_ARGUMENT"
        )

    def partially(self, count: int, field: str) -> Reply | None:
        refused = sorted(i for i in self.refused if i < count)
        if not refused:
            return None  # the scripted answer
        failure = partial(field, refused[0], "The click is too old.")
        for index in refused[1:]:
            failure["details"][0]["errors"] += partial(field, index, "refused")["details"][0][
                "errors"
            ]
        return Reply(200, {"results": [{} for _ in range(count)], "partialFailureError": failure})


@pytest.fixture
def google() -> FakeGoogleAds:
    return FakeGoogleAds()


@pytest.fixture
def tool(server: Sink, google: FakeGoogleAds) -> Sink:
    return reset(server, Reply(200, {"results": []}), google)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {
        "customer_id": "123-456-7890",
        "login_customer_id": "987-654-3210",
        "developer_token": DEV_TOKEN,
        "oauth_client_id": "client-1",
        "oauth_client_secret": "secret-1",
        "oauth_refresh_token": "refresh-1",
        "endpoint": tool.url,
        "token_url": f"{tool.url}/token",
    }
    return Context({**base, **settings}, http)


def member(**fields: Any) -> dict[str, Any]:
    return {
        "user_list_id": LIST,
        "audience_key": "high_value",
        "event_name": "Audience Entered",
        "email": " Jane.Doe@GMail.com ",
        "phone": "(650) 555-1212",
        **fields,
    }


def api_calls(tool: Sink) -> list[tuple[str, Any]]:
    return [
        (got.path.removeprefix("/v22/"), got.json() if got.body else None)
        for got in tool.received
        if got.path != "/token"
    ]


JANE = [
    {"hashedEmail": sha256_hex("janedoe@gmail.com")},
    {"hashedPhoneNumber": sha256_hex("+16505551212")},
]


def test_the_catalog_finds_it() -> None:
    assert registry.load("google-ads") is DESTINATION


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": " Jane.Doe@GMail.com "}, [{"hashedEmail": sha256_hex("janedoe@gmail.com")}]),
        ({"email": "Jane.Doe@example.com"}, [{"hashedEmail": sha256_hex("jane.doe@example.com")}]),
        ({"phone": "07946 095812", "phone_country_code": "+44"}, [{"hashedPhoneNumber": sha256_hex("+447946095812")}]),
        ({"phone": "+1 650-555-1212", "phone_country_code": "+44"}, [{"hashedPhoneNumber": sha256_hex("+16505551212")}]),
        (
            {"first_name": " Jane ", "last_name": "DOE", "country_code": "us", "postal_code": "94025"},
            [{"addressInfo": {"hashedFirstName": sha256_hex("jane"), "hashedLastName": sha256_hex("doe"), "countryCode": "US", "postalCode": "94025"}}],
        ),
        ({"first_name": "Jane", "last_name": "Doe"}, []),  # an address without country and zip
        ({"email": sha256_hex("x@example.com").upper()}, [{"hashedEmail": sha256_hex("x@example.com")}]),
    ],
    ids=["gmail dots", "other domains keep dots", "national number", "international number", "address", "partial address", "already hashed"],
)  # fmt: skip
def test_identifiers_are_normalised_as_google_documents(
    fields: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    assert user_identifiers(fields) == expected


def test_an_entered_person_is_added_through_an_offline_user_data_job(
    tool: Sink, http: Http, google: FakeGoogleAds
) -> None:
    sync_audience(context(tool, http), member())

    assert api_calls(tool) == [
        (
            f"customers/{CUSTOMER}/offlineUserDataJobs:create",
            {
                "job": {
                    "type": "CUSTOMER_MATCH_USER_LIST",
                    "customerMatchUserListMetadata": {"userList": f"customers/{CUSTOMER}/userLists/{LIST}"},
                }
            },
        ),
        (f"{JOB}:addOperations", {"operations": [{"create": {"userIdentifiers": JANE}}], "enablePartialFailure": True}),
        (f"{JOB}:run", None),
    ]  # fmt: skip
    api_request = tool.received[1]
    assert api_request.headers["developer-token"] == DEV_TOKEN
    assert api_request.headers["login-customer-id"] == MANAGER
    assert google.tokens == 1


def test_adds_and_removes_go_to_separate_jobs_and_the_later_change_wins(
    tool: Sink, http: Http
) -> None:
    outcomes = sync_audiences(
        context(tool, http),
        [
            member(),
            member(email="ada@example.com", phone=None),
            member(email="ada@example.com", phone=None, event_name="Audience Exited"),
            member(email=None, phone=None),
            member(user_list_id="not-a-list"),
        ],
    )

    assert outcomes[:3] == [None, None, None]
    assert all(isinstance(o, InvalidPayload) for o in outcomes[3:])
    operations = [
        body["operations"] for path, body in api_calls(tool) if path.endswith(":addOperations")
    ]
    assert operations == [
        [{"create": {"userIdentifiers": JANE}}],
        [{"remove": {"userIdentifiers": [{"hashedEmail": sha256_hex("ada@example.com")}]}}],
    ]


def test_an_operation_google_refuses_fails_only_its_payload(
    tool: Sink, http: Http, google: FakeGoogleAds
) -> None:
    google.refused = {1}
    outcomes = sync_audiences(
        context(tool, http),
        [member(), member(email="bob@example.com"), member(email="cy@example.com")],
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], PermanentError)


def test_identifiers_are_sent_10000_per_request(tool: Sink, patient_http: Http) -> None:
    people = [
        member(email=f"u{n}@example.com", first_name="A", last_name="B", country_code="US", postal_code="1")
        for n in range(3400)
    ]  # fmt: skip
    assert sync_audiences(context(tool, patient_http), people) == [None] * 3400
    sizes = [
        len(body["operations"]) for path, body in api_calls(tool) if path.endswith(":addOperations")
    ]
    assert sizes == [3333, 67]  # 3 identifiers each: 9,999 then 201
    assert [path for path, _ in api_calls(tool)].count(f"{JOB}:run") == 1


def test_the_default_mapping_reads_an_engage_identify_call(tool: Sink, http: Http) -> None:
    message = {
        "type": "identify",
        "userId": "user-1",
        "traits": {"high_value": False, "email": "jane.doe@gmail.com", "phone": "+16505551212"},
        "context": {"personas": {"computation_key": "high_value", "computation_class": "audience"}},
    }
    action = DESTINATION.actions["customer_match"]
    payload = validate_payload(
        compile_mapping({**default_mapping(action.fields), "user_list_id": LIST})(message),
        action.fields,
    )
    action.perform(context(tool, http), payload)

    operations = [
        body["operations"] for path, body in api_calls(tool) if path.endswith(":addOperations")
    ]
    assert operations == [[{"remove": {"userIdentifiers": JANE}}]]


def test_a_click_conversion_has_the_documented_shape(tool: Sink, http: Http) -> None:
    upload_click_conversion(
        context(tool, http),
        {
            "conversion_action": ACTION,
            "gclid": "Cj0KCQ-gclid",
            "conversion_time": "2026-11-30T10:15:00+01:00",
            "email": "Jane.Doe@gmail.com",
            "order_id": "o-7",
            "value": 42.5,
            "currency": "eur",
            "ad_user_data_consent": "GRANTED",
        },
    )

    [(path, body)] = api_calls(tool)
    assert path == f"customers/{CUSTOMER}:uploadClickConversions"
    assert body == {
        "conversions": [
            {
                "conversionAction": f"customers/{CUSTOMER}/conversionActions/{ACTION}",
                "conversionDateTime": "2026-11-30 10:15:00+01:00",
                "conversionValue": 42.5,
                "currencyCode": "EUR",
                "consent": {"adUserData": "GRANTED"},
                "gclid": "Cj0KCQ-gclid",
                "userIdentifiers": [{"hashedEmail": sha256_hex("janedoe@gmail.com")}],
                "orderId": "o-7",
            }
        ],
        "partialFailure": True,
    }


def test_conversions_google_refuses_fail_alone(
    tool: Sink, http: Http, google: FakeGoogleAds
) -> None:
    google.refused = {0, 2}
    payloads = [
        {"conversion_action": ACTION, "gclid": f"g{n}", "conversion_time": WHEN.isoformat()}
        for n in range(4)
    ]
    payloads.insert(1, {"conversion_action": ACTION, "conversion_time": WHEN.isoformat()})

    outcomes = upload_click_conversions(context(tool, http, validate_only=True), payloads)

    assert isinstance(outcomes[1], InvalidPayload)  # no click id and no person: never sent
    assert isinstance(outcomes[0], PermanentError) and "too old" in str(outcomes[0])
    assert isinstance(outcomes[3], PermanentError)  # the third conversion sent
    assert outcomes[2] is None and outcomes[4] is None
    [(_, body)] = api_calls(tool)
    assert body["validateOnly"] is True and len(body["conversions"]) == 4


def test_a_call_conversion_has_the_documented_shape(tool: Sink, http: Http) -> None:
    upload_call_conversion(
        context(tool, http),
        {
            "conversion_action": f"customers/{CUSTOMER}/conversionActions/{ACTION}",
            "caller_id": "(650) 555-1212",
            "call_time": "2026-11-30T09:00:00Z",
            "conversion_time": WHEN.isoformat(),
        },
    )
    [(path, body)] = api_calls(tool)
    assert path == f"customers/{CUSTOMER}:uploadCallConversions"
    assert body["conversions"] == [
        {
            "conversionAction": f"customers/{CUSTOMER}/conversionActions/{ACTION}",
            "conversionDateTime": "2026-11-30 09:15:00+00:00",
            "callerId": "+16505551212",
            "callStartDateTime": "2026-11-30 09:00:00+00:00",
        }
    ]


def test_the_preset_turns_an_order_completed_into_a_click_conversion(
    tool: Sink, http: Http
) -> None:
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m-1",
        "timestamp": WHEN.isoformat(),
        "properties": {"order_id": "o-9", "revenue": 99.5, "currency": "USD", "gclid": "g-9"},
        "context": {"traits": {"email": "ada@example.com"}},
    }
    action, payload = preset_payload(
        DESTINATION,
        message,
        lambda preset: preset.action == "upload_click_conversion",
        conversion_action=ACTION,
    )

    action.perform(context(tool, http), payload)

    [(_, body)] = api_calls(tool)
    assert body["conversions"] == [
        {
            "conversionAction": f"customers/{CUSTOMER}/conversionActions/{ACTION}",
            "conversionDateTime": "2026-11-30 09:15:00+00:00",
            "conversionValue": 99.5,
            "currencyCode": "USD",
            "gclid": "g-9",
            "userIdentifiers": [{"hashedEmail": sha256_hex("ada@example.com")}],
            "orderId": "o-9",
        }
    ]


def test_the_token_is_fetched_once_and_its_form_is_never_recorded(
    tool: Sink, http: Http, google: FakeGoogleAds
) -> None:
    ctx = context(tool, http)
    sync_audience(ctx, member())
    upload_click_conversion(ctx, {"conversion_action": ACTION, "gclid": "g"})
    assert google.tokens == 1
    assert all(
        "secret-1" not in e.request_body and "refresh-1" not in e.request_body
        for e in http.exchanges
    )
    assert all(ACCESS not in (e.response_body or "") for e in http.exchanges)
    with pytest.raises(PermanentError, match="refused the refresh token"):
        upload_click_conversion(
            context(tool, http, oauth_refresh_token="revoked"),
            {"conversion_action": ACTION, "gclid": "g"},
        )


def test_an_expired_token_is_renewed_once(tool: Sink, http: Http, google: FakeGoogleAds) -> None:
    ctx = context(tool, http)
    ctx.state["google_ads.access_token"] = ("ya29.expired", float("inf"))
    upload_click_conversion(ctx, {"conversion_action": ACTION, "gclid": "g"})
    assert google.tokens == 1
    assert [got.path for got in tool.received].count(
        f"/v22/customers/{CUSTOMER}:uploadClickConversions"
    ) == 2


def test_deletion_removes_the_person_from_the_lists_subscriptions_name(
    tool: Sink, http: Http
) -> None:
    person = Person(
        workspace_id="default",
        identifiers=frozenset(
            {Identifier("email", "jane.doe@gmail.com"), Identifier("phone", "+16505551212")}
        ),
        profile_ids=frozenset(),
    )
    ctx = context(tool, http)
    with pytest.raises(CannotDelete):
        delete_person(ctx, person)
    ctx.subscriptions = [
        Subscribed("customer_match", {"user_list_id": LIST}),
        Subscribed("customer_match", {"user_list_id": {"@path": "$.properties.list"}}),
    ]

    delete_person(ctx, person)

    operations = [
        body["operations"] for path, body in api_calls(tool) if path.endswith(":addOperations")
    ]
    assert operations == [[{"remove": {"userIdentifiers": [ids]}} for ids in JANE]]


def test_authentication_lists_accessible_customers(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, developer_token="wrong"))


@failure_modes(
    unauthorized=google_error(401, {"authenticationError": "OAUTH_TOKEN_INVALID"}, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
    more={
        "invalid argument": Failure(google_error(400, {"conversionUploadError": "INVALID_CONVERSION_ACTION"}, "bad action", "INVALID_ARGUMENT"), PermanentError),
        "concurrent modification": Failure(google_error(400, {"databaseError": "CONCURRENT_MODIFICATION"}, "Multiple requests", "ABORTED"), RetryableError),
        "temporarily exhausted": Failure(google_error(400, {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "Too many requests", "RESOURCE_EXHAUSTED"), RetryableError),
    },
    throttled=google_error(429, {"quotaError": "RESOURCE_EXHAUSTED"}, "quota", "RESOURCE_EXHAUSTED", "30"),
)  # fmt: skip
def test_google_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(
        tool,
        failure,
        lambda: upload_click_conversion(
            context(tool, http), {"conversion_action": ACTION, "gclid": "g"}
        ),
        every_request=True,
    )


def test_definition() -> None:
    assert DESTINATION.secret_settings() == {
        "developer_token",
        "oauth_client_secret",
        "oauth_refresh_token",
    }
    assert DESTINATION.settings["endpoint"].target and DESTINATION.settings["token_url"].target
    assert DESTINATION.actions["upload_click_conversion"].max_batch == 2000
    assert DESTINATION.actions["customer_match"].ordered
    json.dumps([p.trigger for p in DESTINATION.presets])

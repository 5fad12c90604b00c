"""Google Sheets against a local sink playing the Sheets API v4 values calls on an in-memory
grid, with the token endpoint's refresh-token and service-account (JWT bearer) grants."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from seamline.destinations.catalog import google_sheets
from seamline.destinations.definition import Context, Subscribed
from seamline.destinations.errors import CannotDelete, PermanentError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

SHEET_ID = "1ORcFZ73VJXzj7rruKTrbUCgtRjqvKS4qW1uwDGP8tiY"
BASE = f"/v4/spreadsheets/{SHEET_ID}/"
ACCESS = "ya29.sheets"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ACTION = google_sheets.DESTINATION.actions["post_sheet"]
_RANGE = re.compile(r"^'((?:[^']|'')+)'!(?:A(\d+)|(\d+):(\d+)|A:A)$")


class FakeSheets:
    """A spreadsheet with sheets of rows, changed only by requests shaped as Google documents
    them; anything else is answered 400 as Google would."""

    def __init__(self) -> None:
        self.sheets: dict[str, list[list[Any]]] = {"Sheet1": []}
        self.tokens: list[dict[str, list[str]]] = []

    def _where(self, text: str) -> tuple[list[list[Any]], int | None] | Reply:
        match = _RANGE.match(text)
        if not match or match.group(1).replace("''", "'") not in self.sheets:
            return Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})
        row = match.group(2) or match.group(3)
        return self.sheets[match.group(1).replace("''", "'")], int(row) if row else None

    def __call__(self, got: Received) -> Reply | None:
        if got.path == "/token":
            form = parse_qs(got.body.decode())
            self.tokens.append(form)
            if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") != [
                "refresh-1"
            ]:
                return Reply(400, {"error": "invalid_grant"})
            return Reply(200, {"access_token": ACCESS, "expires_in": 3599})
        if got.headers.get("authorization") != f"Bearer {ACCESS}":
            return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if not got.path.startswith(BASE):
            return Reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        call = unquote(got.path.removeprefix(BASE))
        if got.method == "GET" and call == "values:batchGet":
            return self._batch_get(got.query.get("ranges") or [])
        body = got.json()
        if call == "values:batchUpdate" and body.get("valueInputOption") in ("RAW", "USER_ENTERED"):
            for item in body["data"]:
                where = self._where(item["range"])
                if isinstance(where, Reply):
                    return where
                rows, start = where
                for offset, values in enumerate(item["values"]):
                    index = (start or 1) - 1 + offset
                    rows.extend([[]] * (index + 1 - len(rows)))
                    rows[index] = list(values)
            return None
        if call == "values:batchClear":
            for text in body["ranges"]:
                where = self._where(text)
                if isinstance(where, Reply):
                    return where
                where[0][(where[1] or 1) - 1] = []
            return None
        if call.endswith(":append") and got.query.get("insertDataOption") == ["INSERT_ROWS"]:
            where = self._where(call.removeprefix("values/").removesuffix(":append"))
            if isinstance(where, Reply) or got.query.get("valueInputOption") != ["RAW"]:
                return Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})
            last = max((n for n, row in enumerate(where[0], 1) if row), default=0)
            del where[0][last:]
            where[0].extend(list(row) for row in body["values"])
            return None
        return Reply(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}})

    def _batch_get(self, ranges: list[str]) -> Reply:
        answers = []
        for text in ranges:
            where = self._where(text)
            if isinstance(where, Reply):
                return where
            rows = where[0]
            values = rows[:1] if text.endswith("1:1") else [row[:1] for row in rows]
            answers.append({"range": text, "majorDimension": "ROWS", "values": values})
        return Reply(200, {"spreadsheetId": SHEET_ID, "valueRanges": answers})


@pytest.fixture
def google(server: Sink) -> Iterator[FakeSheets]:
    fake = FakeSheets()
    reset(server, Reply(200, {}), fake)
    yield fake


def ctx(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {
        "oauth_client_id": "client-1",
        "oauth_client_secret": "secret-1",
        "oauth_refresh_token": "refresh-1",
        "endpoint": tool.url,
        "token_url": tool.url + "/token",
    }
    return Context(settings={**base, **settings}, http=http)


def row(identifier: str, change: str = "added", **fields: Any) -> dict[str, Any]:
    return {
        "record_identifier": identifier,
        "operation_type": change,
        "spreadsheet_id": SHEET_ID,
        "spreadsheet_name": "Sheet1",
        "data_format": "RAW",
        "fields": fields,
    }


def test_an_identify_becomes_a_row_under_a_header(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    event = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "jo@example.com", "name": "Jo", "plan": "pro"},
    }
    mapping = {**default_mapping(ACTION.fields), "spreadsheet_id": SHEET_ID}
    payload = validate_payload(compile_mapping(mapping)(event), ACTION.fields)

    google_sheets.post_sheet(ctx(server, http), payload)

    assert google.sheets["Sheet1"] == [["id", "email", "name"], ["u1", "jo@example.com", "Jo"]]
    calls = [(r.method, unquote(r.path)) for r in server.received if r.path != "/token"]
    assert calls == [
        ("GET", BASE + "values:batchGet"),
        ("POST", BASE + "values:batchUpdate"),
        ("POST", BASE + "values/'Sheet1'!A1:append"),
    ]


def test_a_known_identifier_updates_its_row_and_the_header_is_not_rewritten(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    google.sheets["Sheet1"] = [["id", "plan"], ["u1", "free"], ["u2", "pro"]]

    google_sheets.post_sheets(ctx(server, http), [row("u2", "updated", plan="team"), row("u3")])

    assert google.sheets["Sheet1"] == [["id", "plan"], ["u1", "free"], ["u2", "team"], ["u3", ""]]
    [update] = [r.json() for r in server.received if r.path.endswith("values:batchUpdate")]
    assert update == {
        "valueInputOption": "RAW",
        "data": [{"range": "'Sheet1'!A3", "values": [["u2", "team"]]}],
    }


def test_a_new_field_becomes_a_column_at_the_end(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    google.sheets["Sheet1"] = [["id", "plan"], ["u1", "free"]]
    google_sheets.post_sheet(ctx(server, http), row("u1", "updated", seats=3, plan="pro"))
    assert google.sheets["Sheet1"] == [["id", "plan", "seats"], ["u1", "pro", 3]]


def test_a_deleted_record_clears_its_row_and_the_latest_record_wins(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    google.sheets["Sheet1"] = [["id", "plan"], ["u1", "free"], ["u2", "pro"]]
    batch = [row("u1", "updated", plan="x"), row("u1", "deleted"), row("u9", "deleted")]
    google_sheets.post_sheets(ctx(server, http), batch)
    assert google.sheets["Sheet1"] == [["id", "plan"], [], ["u2", "pro"]]


def test_a_sheet_name_with_a_quote_is_quoted(server: Sink, http: Http, google: FakeSheets) -> None:
    google.sheets["Jo's"] = []
    google_sheets.post_sheet(ctx(server, http), {**row("u1", plan="a"), "spreadsheet_name": "Jo's"})
    assert google.sheets["Jo's"] == [["id", "plan"], ["u1", "a"]]


def test_a_batch_of_500_rows_takes_three_requests(
    server: Sink, patient_http: Http, google: FakeSheets
) -> None:
    assert ACTION.max_batch == 500 and ACTION.perform_batch is google_sheets.post_sheets
    google_sheets.post_sheets(ctx(server, patient_http), [row(f"u{n}", n=n) for n in range(500)])
    assert len(google.sheets["Sheet1"]) == 501
    assert len([r for r in server.received if r.path != "/token"]) == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**row(""), "record_identifier": None}, "record identifier"),
        ({**row("u1"), "spreadsheet_id": "../../drive"}, "spreadsheet_id"),
        (row("u1", big="x" * 50_001), "50000 characters"),
        (row("u1", **{f"c{n}": n for n in range(201)}), "at most 200"),
    ],
)
def test_bad_rows_are_refused_before_sending(
    server: Sink, http: Http, google: FakeSheets, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(PermanentError, match=message):
        google_sheets.post_sheet(ctx(server, http), payload)
    assert [r for r in server.received if r.path != "/token"] == []


def test_the_refresh_token_grant_is_sent_once_and_hidden(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    context = ctx(server, http)
    google_sheets.post_sheet(context, row("u1", plan="a"))
    google_sheets.post_sheet(context, row("u2", plan="a"))

    assert google.tokens == [
        {
            "grant_type": ["refresh_token"],
            "client_id": ["client-1"],
            "client_secret": ["secret-1"],
            "refresh_token": ["refresh-1"],
        }
    ]
    recorded = " ".join(e.request_body + str(e.response_body) for e in http.exchanges)
    assert "refresh-1" not in recorded and ACCESS not in recorded
    with pytest.raises(PermanentError, match="refused"):
        google_sheets.check_credentials(ctx(server, http, oauth_refresh_token="revoked"))


def test_a_service_account_signs_a_jwt_for_the_spreadsheets_scope(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {"client_email": "sheets@acme.iam.gserviceaccount.com", "private_key": pem}
    context = ctx(server, http, oauth_refresh_token=None, service_account_key=json.dumps(account))

    google_sheets.check_credentials(context)

    [form] = google.tokens
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    recorded = " ".join(e.request_body + str(e.response_body) for e in http.exchanges)
    assert form["assertion"][0] not in recorded and ACCESS not in recorded
    head, claims, signature = form["assertion"][0].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["scope"] == "https://www.googleapis.com/auth/spreadsheets"
    assert decoded["aud"] == server.url + "/token"
    assert decoded["iss"] == account["client_email"]
    KEY.public_key().verify(  # raises when the signature is not the key's
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{head}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_an_expired_token_is_renewed_once(server: Sink, http: Http, google: FakeSheets) -> None:
    context = ctx(server, http)
    context.state["google_sheets.access_token"] = ("ya29.expired", float("inf"))
    google_sheets.post_sheet(context, row("u1", plan="a"))
    assert len(google.tokens) == 1 and google.sheets["Sheet1"][1] == ["u1", "a"]


def person() -> Person:
    ids = {Identifier("user_id", "u2"), Identifier("email", "jo@example.com")}
    return Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())


def test_deletion_clears_the_persons_rows_in_each_named_sheet(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    google.sheets["Sheet1"] = [["id"], ["u1"], ["u2"], ["jo@example.com"]]
    mapping = {"spreadsheet_id": SHEET_ID, "spreadsheet_name": "Sheet1"}
    context = ctx(server, http)
    context.subscriptions = (Subscribed("post_sheet", mapping), Subscribed("post_sheet", mapping))

    google_sheets.delete_person(context, person())

    assert google.sheets["Sheet1"] == [["id"], ["u1"], [], []]
    [cleared] = [r.json() for r in server.received if r.path.endswith("values:batchClear")]
    assert cleared == {"ranges": ["'Sheet1'!3:3", "'Sheet1'!4:4"]}


def test_deletion_without_a_literal_spreadsheet_is_not_supported(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    context = ctx(server, http)
    context.subscriptions = (
        Subscribed("post_sheet", {"spreadsheet_id": {"@path": "$.properties.sheet"}}),
    )
    with pytest.raises(CannotDelete):
        google_sheets.delete_person(context, person())


def test_an_unknown_sheet_is_a_permanent_error(
    server: Sink, http: Http, google: FakeSheets
) -> None:
    with pytest.raises(PermanentError, match="400"):
        google_sheets.post_sheet(ctx(server, http), {**row("u1"), "spreadsheet_name": "Nope"})
    assert google.sheets == {"Sheet1": []}


@failure_modes(
    unauthorized=Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
    throttled=Reply(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "30"}),
    outage=Reply(503, {"error": {"status": "UNAVAILABLE"}}),
    more={
        "403": Failure(Reply(403, {"error": {"status": "PERMISSION_DENIED"}}), PermanentError),
        "404": Failure(Reply(404, {"error": {"status": "NOT_FOUND"}}), PermanentError),
    },
)
def test_failures(server: Sink, http: Http, failure: Failure) -> None:
    reset(server, Reply(200, {}), None)  # no fake: the first request gets the failure
    context = ctx(server, http)
    context.state["google_sheets.access_token"] = (ACCESS, float("inf"))
    if failure.reply.status == 401:
        server.replies.append(failure.reply)  # the retry with a new token is refused too
    assert_fails(server, failure, lambda: google_sheets.post_sheet(context, row("u1")))

"""Parsing and normalising Tracking API bodies: one verdict per message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from seamline.errors import InvalidInput, TooLarge
from seamline.spec import Limits, Message, parse_request

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMITS = Limits()


def parse_one(kind: str | None, body: dict[str, Any], ip: str | None = "198.51.100.7") -> Any:
    return parse_request(
        msgspec.json.encode(body),
        message_type=kind,
        received_at=RECEIVED,
        client_ip=ip,
        limits=LIMITS,
    )


def only(body: dict[str, Any], kind: str = "track") -> Message:
    parsed = parse_one(kind, body)
    assert parsed.rejected == []
    [message] = parsed.messages
    return message


def obj(raw: msgspec.Raw) -> Any:
    return msgspec.json.decode(raw)


VALID = [
    ("identify", {"userId": "u1", "traits": {"email": "a@b.c"}}),
    ("identify", {"anonymousId": "anon-1"}),
    ("track", {"userId": "u1", "event": "Order Completed", "properties": {"total": 9.5}}),
    ("page", {"anonymousId": "a", "name": "Home", "category": "Docs"}),
    ("screen", {"userId": "u1", "name": "Settings"}),
    ("group", {"userId": "u1", "groupId": "acme", "traits": {"plan": "team"}}),
    ("alias", {"previousId": "anon-1", "userId": "u1"}),
    ("track", {"userId": 42, "event": "Numeric Id"}),
]


@pytest.mark.parametrize(("kind", "body"), VALID)
def test_a_valid_message_of_each_type_is_accepted(kind: str, body: dict[str, Any]) -> None:
    message = only(body, kind)
    assert message.type == kind
    assert message.received_at == RECEIVED
    assert message.message_id and message.message_id.startswith("api-")


INVALID = [
    # (type, body, code) — each row reads: a <type> with <body> is rejected as <code>
    ("track", {"event": "No Ids"}, "missing_identity"),
    ("track", {"userId": "", "anonymousId": "", "event": "Empty Ids"}, "missing_identity"),
    ("track", {"userId": "u1"}, "missing_field"),
    ("track", {"userId": "u1", "event": ""}, "missing_field"),
    ("group", {"userId": "u1"}, "missing_field"),
    ("alias", {"userId": "u1"}, "missing_field"),
    ("alias", {"previousId": "p"}, "missing_field"),
    ("track", {"userId": ["u1"], "event": "E"}, "invalid_message"),
    ("track", {"userId": "u1", "event": 7}, "invalid_message"),
    ("track", {"userId": "u1", "event": "E", "properties": [1, 2]}, "invalid_message"),
    ("identify", {"userId": "u1", "traits": "email"}, "invalid_message"),
    ("track", {"userId": "u1", "event": "E", "context": 3}, "invalid_message"),
    ("track", {"userId": "u1", "event": "E", "timestamp": "yesterday"}, "invalid_message"),
    ("track", {"userId": "u1", "event": "E", "messageId": 12}, "invalid_message"),
    (None, {"userId": "u1", "event": "E"}, "unknown_type"),
    (None, {"type": "purchase", "userId": "u1"}, "unknown_type"),
]


@pytest.mark.parametrize(("kind", "body", "code"), INVALID)
def test_an_invalid_message_is_rejected_with_a_stable_code(
    kind: str | None, body: dict[str, Any], code: str
) -> None:
    parsed = parse_one(None, {"batch": [body]}) if kind is None else parse_one(kind, body)
    assert parsed.messages == []
    [rejection] = parsed.rejected
    assert rejection.code == code
    assert rejection.message


def test_a_bad_message_in_a_batch_does_not_lose_the_good_ones() -> None:
    batch = [
        {"type": "track", "userId": "u1", "event": "A", "messageId": "m1"},
        {"type": "track", "userId": "u1", "messageId": "m2"},
        {"type": "identify", "anonymousId": "x", "messageId": "m3"},
        "not an object",
    ]
    parsed = parse_one(None, {"batch": batch})
    assert [m.message_id for m in parsed.messages] == ["m1", "m3"]
    assert [(r.index, r.code, r.message_id) for r in parsed.rejected] == [
        (1, "missing_field", "m2"),
        (3, "invalid_message", None),
    ]


def test_clock_skew_is_corrected_from_sent_at_and_the_original_kept() -> None:
    client_time = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
    sent = client_time + timedelta(seconds=30)  # client clock: sent 30 s after the event
    message = only(
        {
            "userId": "u1",
            "event": "E",
            "timestamp": client_time.isoformat(),
            "sentAt": sent.isoformat(),
        }
    )
    assert message.original_timestamp == client_time
    assert message.timestamp == RECEIVED - timedelta(seconds=30)
    assert message.sent_at == sent


def test_batch_level_sent_at_applies_to_each_message() -> None:
    event_time = datetime(2020, 5, 5, tzinfo=UTC)
    parsed = parse_one(
        None,
        {
            "sentAt": (event_time + timedelta(seconds=2)).isoformat(),
            "batch": [
                {"type": "track", "userId": "u", "event": "E", "timestamp": "2020-05-05T00:00:00Z"}
            ],
        },
    )
    assert parsed.messages[0].timestamp == RECEIVED - timedelta(seconds=2)


def test_without_sent_at_the_timestamp_is_kept_as_sent() -> None:
    message = only({"userId": "u1", "event": "E", "timestamp": "2021-03-04T05:06:07.123Z"})
    assert message.timestamp == datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    assert message.original_timestamp == message.timestamp


def test_without_timestamp_the_receive_time_is_used() -> None:
    message = only({"userId": "u1", "event": "E"})
    assert message.timestamp == RECEIVED
    assert message.original_timestamp is None


def test_a_naive_timestamp_is_read_as_utc() -> None:
    message = only({"userId": "u1", "event": "E", "timestamp": "2021-03-04T05:06:07"})
    assert message.timestamp == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_a_given_message_id_is_kept_and_a_missing_one_is_unique() -> None:
    assert only({"userId": "u", "event": "E", "messageId": "mine"}).message_id == "mine"
    generated = {only({"userId": "u", "event": "E"}).message_id for _ in range(50)}
    assert len(generated) == 50


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (None, {"ip": "198.51.100.7"}),
        ({}, {"ip": "198.51.100.7"}),
        (
            {"library": {"name": "x", "version": "1"}},
            {"ip": "198.51.100.7", "library": {"name": "x", "version": "1"}},
        ),
        ({"ip": "203.0.113.1", "locale": "nl"}, {"ip": "203.0.113.1", "locale": "nl"}),
    ],
)
def test_context_ip_is_filled_only_when_absent(
    context: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"userId": "u", "event": "E"}
    if context is not None:
        body["context"] = context
    assert obj(only(body).context) == expected


def test_no_client_ip_leaves_context_alone() -> None:
    parsed = parse_one("track", {"userId": "u", "event": "E"}, ip=None)
    assert not parsed.messages[0].context


def test_batch_level_context_and_integrations_merge_into_each_message() -> None:
    parsed = parse_one(
        None,
        {
            "context": {"library": {"name": "batchlib"}, "locale": "en"},
            "integrations": {"All": False},
            "batch": [
                {"type": "track", "userId": "u", "event": "E", "context": {"locale": "fr"}},
                {"type": "identify", "userId": "u", "integrations": {"Slack": True}},
            ],
        },
    )
    first, second = parsed.messages
    assert obj(first.context) == {
        "ip": "198.51.100.7",
        "library": {"name": "batchlib"},
        "locale": "fr",
    }
    assert obj(first.integrations) == {"All": False}
    assert obj(second.integrations) == {"All": False, "Slack": True}


def test_write_key_is_read_from_the_body_and_not_stored() -> None:
    parsed = parse_one("track", {"writeKey": "wk", "userId": "u", "event": "E"})
    assert parsed.write_key == "wk"
    assert parsed.messages[0].write_key is None
    assert b"writeKey" not in msgspec.json.encode(parsed.messages[0])
    batch = parse_one(
        None,
        {
            "writeKey": "wk2",
            "batch": [{"type": "track", "userId": "u", "event": "E", "writeKey": "x"}],
        },
    )
    assert batch.write_key == "wk2"
    assert batch.messages[0].write_key is None


def test_a_message_over_32_kb_is_rejected_but_its_batch_is_not() -> None:
    big = {"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * 33_000}}
    parsed = parse_one(None, {"batch": [big, {"type": "track", "userId": "u", "event": "Small"}]})
    assert [r.code for r in parsed.rejected] == ["message_too_large"]
    assert [m.event for m in parsed.messages] == ["Small"]


def test_a_single_message_over_32_kb_is_rejected() -> None:
    parsed = parse_one("track", {"userId": "u", "event": "E", "properties": {"blob": "x" * 33_000}})
    assert [r.code for r in parsed.rejected] == ["message_too_large"]


def test_a_request_over_500_kb_is_too_large() -> None:
    body = {
        "batch": [{"type": "track", "userId": "u", "event": "E", "properties": {"b": "x" * 20_000}}]
        * 26
    }
    with pytest.raises(TooLarge) as caught:
        parse_one(None, body)
    assert caught.value.status == 400


def test_messages_past_2500_in_a_batch_are_rejected() -> None:
    batch = [{"type": "track", "userId": "u", "event": "E"}] * 2502
    parsed = parse_request(
        msgspec.json.encode({"batch": batch}),
        message_type=None,
        received_at=RECEIVED,
        client_ip=None,
        limits=Limits(max_request_bytes=10**7),
    )
    assert len(parsed.messages) == 2500
    assert [(r.index, r.code) for r in parsed.rejected] == [
        (2500, "too_many_messages"),
        (2501, "too_many_messages"),
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'{"batch": {}}', b'{"batch": null}', b"null", b'"text"', b"\xff\xfe"],
)
def test_a_malformed_batch_body_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_request(body, message_type=None, received_at=RECEIVED, client_ip=None, limits=LIMITS)


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b"not json"])
def test_a_malformed_single_body_is_invalid_input_or_rejected(body: bytes) -> None:
    try:
        parsed = parse_request(
            body, message_type="track", received_at=RECEIVED, client_ip=None, limits=LIMITS
        )
    except InvalidInput:
        return
    assert parsed.messages == [] and len(parsed.rejected) == 1


def test_null_free_form_objects_are_dropped() -> None:
    message = only({"userId": "u", "event": "E", "properties": None, "context": None})
    assert not message.properties
    assert obj(message.context) == {"ip": "198.51.100.7"}

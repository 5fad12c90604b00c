"""Collect refuses, one message at a time, what a later stage could not decode or a store keep.

Each row of HOSTILE is a value the Tracking API used to accept (or to refuse with the whole
request, or to answer with a 500) and that then stopped the pipeline; it must now be refused
with a stable code, alone, inside a batch as well. The property test at the end ties the two
ends together: whatever is accepted is read back by the decoders the pipeline uses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.errors import InvalidInput
from seamline.spec import Limits, ParsedRequest, parse_request
from seamline.spec.envelope import Envelope, envelope_decoder, envelope_encoder
from seamline.spec.plain import to_plain
from seamline.spec.representable import nesting

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIMITS = Limits()
ROOMY = Limits(max_request_bytes=10**6, max_message_bytes=10**6)  # room for 100,000 levels
TRACK = b'"userId":"u1","event":"E"'


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


HOSTILE = [
    # (what, JSON text of the value, part it sits in, code) — each row reads: <what> in <part>
    # is refused as <code>
    ("1e999", b"1e999", "properties", "number_out_of_range"),
    ("-1e999", b"-1e999", "properties", "number_out_of_range"),
    ("2e308, just past the largest float", b"2e308", "traits", "number_out_of_range"),
    ("400 digits and a fraction", b"1" + b"0" * 400 + b".5", "context", "number_out_of_range"),
    ("a 5,000-digit integer", b"9" * 5000, "properties", "number_out_of_range"),
    ("a negative 5,000-digit integer", b"-" + b"9" * 5000, "integrations", "number_out_of_range"),
    ("NaN, as Python's json.dumps writes it", b"NaN", "properties", "number_out_of_range"),
    ("Infinity", b"Infinity", "properties", "number_out_of_range"),
    ("-Infinity in a list", b"[1, -Infinity]", "context", "number_out_of_range"),
    ("a lone high surrogate", b'"\\ud800"', "properties", "invalid_unicode"),
    ("a lone low surrogate", b'"a\\udc00b"', "traits", "invalid_unicode"),
    ("a high surrogate before a letter", b'"\\ud83dA"', "properties", "invalid_unicode"),
    ("a lone surrogate as a key", b'{"\\udfff": 1}', "properties", "invalid_unicode"),
    ("a byte that is not UTF-8", b'"\xff"', "properties", "invalid_unicode"),
    ("a surrogate encoded in UTF-8", b'"\xed\xa0\x80"', "context", "invalid_unicode"),
    ("nesting one level too deep", deep(63), "properties", "too_deep"),
    ("nesting 1,000 levels deep", deep(1000), "properties", "too_deep"),
    ("nesting 100,000 levels deep", deep(100_000), "context", "too_deep"),
]
HOSTILE_PAST_THE_PARSER = {"nesting 1,000 levels deep", "nesting 100,000 levels deep"}
CASES = [pytest.param(text, part, code, id=what) for what, text, part, code in HOSTILE]
# Nesting of 1,000 levels stops msgspec's own parser before any message is split out of the
# batch: that one request is refused whole (test_a_batch_past_the_parsers_depth_is_refused).
IN_BATCH = [case for case in CASES if case.id not in HOSTILE_PAST_THE_PARSER]


def message(value: bytes, part: str, kind: bytes = b"") -> bytes:
    return b"{" + kind + TRACK + b',"' + part.encode() + b'":{"x":' + value + b"}}"


def parse(body: bytes, kind: str | None = "track", limits: Limits = LIMITS) -> ParsedRequest:
    return parse_request(
        body, message_type=kind, received_at=RECEIVED, client_ip="192.0.2.1", limits=limits
    )


@pytest.mark.parametrize(("value", "part", "code"), CASES)
def test_a_value_no_stage_could_read_is_refused_with_a_stable_code(
    value: bytes, part: str, code: str
) -> None:
    parsed = parse(message(value, part), limits=ROOMY)
    assert parsed.messages == []
    [rejection] = parsed.rejected
    assert (rejection.index, rejection.code) == (0, code)
    assert rejection.message


@pytest.mark.parametrize(("value", "part", "code"), IN_BATCH)
def test_inside_a_batch_only_the_message_holding_it_is_refused(
    value: bytes, part: str, code: str
) -> None:
    good = b'{"type":"track",' + TRACK + b',"messageId":"good-%d"}'
    bad = message(value, part, kind=b'"type":"track","messageId":"bad",')
    body = b'{"batch":[' + b",".join([good % 1, bad, good % 2]) + b"]}"
    parsed = parse(body, kind=None, limits=ROOMY)
    assert [m.message_id for m in parsed.messages] == ["good-1", "good-2"]
    assert [(r.index, r.code) for r in parsed.rejected] == [(1, code)]


@pytest.mark.parametrize("levels", [1000, 100_000])
def test_a_batch_past_the_parsers_depth_is_refused_whole_with_too_deep(levels: int) -> None:
    body = b'{"batch":[' + message(deep(levels), "properties", kind=b'"type":"track",') + b"]}"
    with pytest.raises(InvalidInput) as refused:
        parse(body, kind=None, limits=ROOMY)
    assert (refused.value.code, refused.value.status) == ("too_deep", 400)


ACCEPTED = [
    # (what, JSON text of the value) — each row reads: <what> is accepted and kept as sent
    ("the largest float", b"1.7976931348623157e308"),
    ("a float that underflows to zero", b"1e-999"),
    ("2**64, kept as Segment keeps it", b"18446744073709551616"),
    ("a 4,300-digit integer, the most Python reads", b"9" * 4300),
    ("a surrogate pair", b'"\\ud83d\\ude00"'),
    ("an escaped backslash before the text ud800", b'"\\\\ud800"'),
    ("NaN as text", b'"NaN"'),
    ("brackets inside a string", b'"' + b"[" * 200 + b'"'),
    ("nesting exactly 64 levels deep", deep(62)),
]


@pytest.mark.parametrize("value", [pytest.param(v, id=what) for what, v in ACCEPTED])
def test_values_the_stages_can_read_are_accepted(value: bytes) -> None:
    parsed = parse(message(value, "properties"))
    assert parsed.rejected == []
    [accepted] = parsed.messages
    assert to_plain(accepted)["properties"]["x"] == msgspec.json.decode(value)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("userId", b'"' + b"u" * 1001 + b'"', "too_long"),
        ("anonymousId", b'"' + b"a" * 1001 + b'"', "too_long"),
        ("groupId", b'"' + b"g" * 1001 + b'"', "too_long"),
        ("messageId", b'"' + b"m" * 201 + b'"', "too_long"),
        ("userId", b"9" * 5000, "number_out_of_range"),
    ],
)
def test_ids_longer_than_their_store_column_are_refused(
    field: str, value: bytes, code: str
) -> None:
    body = b'{"userId":"u","event":"E","' + field.encode() + b'":' + value + b"}"
    assert [r.code for r in parse(body).rejected] == [code]


def test_a_trait_name_longer_than_the_traits_column_is_refused() -> None:
    parsed = parse(msgspec.json.encode({"userId": "u", "traits": {"n" * 257: 1}}), "identify")
    assert [r.code for r in parsed.rejected] == ["too_long"]
    assert parse(
        msgspec.json.encode({"userId": "u", "traits": {"n" * 256: 1}}), "identify"
    ).messages


def test_a_clock_skew_past_year_9999_is_refused_not_a_crash() -> None:
    body = {
        "userId": "u",
        "event": "E",
        "timestamp": "0001-01-01T00:00:00Z",
        "sentAt": "9999-12-31T00:00:00Z",
    }
    assert [r.code for r in parse(msgspec.json.encode(body)).rejected] == ["invalid_message"]


@pytest.mark.parametrize(
    ("shared", "code"),
    [
        (b'"context":{"screen":{"width":1e999}}', "number_out_of_range"),
        (b'"integrations":{"x":' + deep(70) + b"}", "too_deep"),
        (b'"context":{"x":' + deep(5000) + b"}", "too_deep"),
        (b'"writeKey":"\\ud800"', "invalid_unicode"),
        (b'"context":{"x":NaN}', "number_out_of_range"),
    ],
)
def test_a_flaw_in_what_the_whole_batch_shares_refuses_the_request(
    shared: bytes, code: str
) -> None:
    body = b"{" + shared + b',"batch":[{"type":"track",' + TRACK + b"}]}"
    with pytest.raises(InvalidInput) as refused:
        parse(body, kind=None)
    assert refused.value.code == code
    assert refused.value.status == 400


def test_a_batch_item_without_type_is_told_null_not_none() -> None:
    parsed = parse(b'{"batch":[{' + TRACK + b"}]}", kind=None)
    [rejection] = parsed.rejected
    assert rejection.code == "unknown_type"
    assert rejection.message.endswith("got null")
    assert "None" not in rejection.message


def test_a_batch_is_authenticated_by_the_write_key_of_its_messages() -> None:
    item = b'{"type":"track",' + TRACK + b',"writeKey":"from-item"}'
    parsed = parse(b'{"batch":[{"type":"track",' + TRACK + b"}," + item + b"]}", kind=None)
    assert parsed.write_key == "from-item"
    assert all(m.write_key is None for m in parsed.messages)
    refused = parse(b'{"batch":[{"writeKey":"only-refused",' + TRACK + b"}]}", kind=None)
    assert refused.write_key == "only-refused"


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"{}", 1),
        (b'{"a":[1,{"b":[]}],"c":{}}', 4),
        (b'{"a":"[[[[{{{{"}', 1),
        (b'{"a":"\\"[[[[","b":[[]]}', 3),
        (deep(500), 65),  # counted up to limit + 1
    ],
)
def test_nesting_counts_levels_of_objects_and_arrays_but_not_brackets_in_text(
    text: bytes, depth: int
) -> None:
    assert nesting(text, 64) == depth


CODES = {"number_out_of_range", "invalid_unicode", "too_deep", "too_long", "invalid_message"}


def nested_lists(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and ±Infinity included: json.dumps writes them as Python does
    st.text(),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),  # lone surrogates
    st.sampled_from(["\u0000", "\ufeff", "\U0010ffff", "e\u0301"]),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(values, st.integers(min_value=58, max_value=66).map(nested_lists)),
    part=st.sampled_from(["properties", "traits", "context", "integrations"]),
)
def test_whatever_collect_accepts_the_pipeline_can_read(value: Any, part: str) -> None:
    body = json.dumps({"userId": "u", "event": "E", part: {"x": value}}).encode()
    parsed = parse(body)
    for rejection in parsed.rejected:
        assert rejection.code in CODES, rejection
    for accepted in parsed.messages:
        envelope = Envelope(workspace_id="w", source_id="s", message=accepted)
        read_back = envelope_decoder.decode(envelope_encoder.encode(envelope)).message
        plain = to_plain(read_back)  # every part decoded, as the pipeline's stages do
        assert "x" in plain[part]
        assert nesting(msgspec.json.encode(plain), 64) <= 64

"""Mappings: what each directive makes of each event, what bad mappings report, how payloads are
validated against an action's fields, and that a compiled mapper never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.destinations.definition import Field
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.mapping import (
    Mapper,
    MappingError,
    check_mapping,
    compile_mapping,
    default_mapping,
    validate_payload,
)
from seamline.destinations.mapping_directives import MISSING
from seamline.errors import InvalidInput

OMITTED = MISSING
"""The expected result when the key is left out of the payload (JavaScript's undefined)."""

WHEN = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
TRACK: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "anonymousId": "a1",
    "timestamp": WHEN,
    "properties": {
        "price": 19.99,
        "quantity": 2,
        "total": 40.0,
        "zero": 0,
        "off": False,
        "empty": "",
        "coupon": None,
        "html": "<b>Hi</b>",
        "slug": "many+different+things",
        "mixed": "aab-----AaB---aab",
        "dotted": "a.b.c",
        "products": [{"id": "p1", "price": 10}, {"id": "p2"}],
        "tags": ["a", "b"],
        "json": '{"a":[1,2]}',
        "bad_json": "{oops",
        "0": "zero key",
        "nested": {"deep": {"er": "bottom"}},
        "city": "Zürich",
    },
    "context": {
        "ip": "203.0.113.9",
        "traits": {"email": "Ada@Example.COM", "first_name": "Ada", "last_name": "Lovelace"},
    },
    "integrations": {"Actions Amplitude": {"session_id": 42}},
}
IDENTIFY: dict[str, Any] = {
    "type": "identify",
    "userId": None,
    "traits": {"first_name": "Grace", "last_name": None, "email": "grace@navy.mil"},
}


def resolve(value: Any, event: dict[str, Any]) -> Any:
    """What the mapping value resolves to for `event`, OMITTED when its key is left out."""
    return compile_mapping({"out": value})(event).get("out", OMITTED)


def _ids(rows: list[tuple[Any, ...]]) -> list[str]:
    return [row[0] for row in rows]


Row = tuple[str, Any, dict[str, Any], Any]

PATH: list[Row] = [
    ("a top-level key", {"@path": "$.userId"}, TRACK, "u1"),
    ("a nested key", {"@path": "$.context.traits.email"}, TRACK, "Ada@Example.COM"),
    ("a number", {"@path": "$.properties.price"}, TRACK, 19.99),
    ("the $. prefix may be left out", {"@path": "properties.price"}, TRACK, 19.99),
    ("three levels deep", {"@path": "$.properties.nested.deep.er"}, TRACK, "bottom"),
    ("an array index", {"@path": "$.properties.products[0].id"}, TRACK, "p1"),
    ("an index written with a dot", {"@path": "$.properties.products.0.id"}, TRACK, "p1"),
    ("a missing key in an array item", {"@path": "$.properties.products[1].price"}, TRACK, OMITTED),
    ("an index past the end", {"@path": "$.properties.products[5].id"}, TRACK, OMITTED),
    ("a bracketed number on an object is a key", {"@path": "$.properties[0]"}, TRACK, "zero key"),
    ("a key with a space", {"@path": "$.integrations.Actions Amplitude.session_id"}, TRACK, 42),
    ("null is kept as null", {"@path": "$.properties.coupon"}, TRACK, None),
    ("false is a value", {"@path": "$.properties.off"}, TRACK, False),
    ("an empty string is a value", {"@path": "$.properties.empty"}, TRACK, ""),
    ("a missing key is omitted", {"@path": "$.properties.nope"}, TRACK, OMITTED),
    ("a path through null is omitted", {"@path": "$.properties.coupon.code"}, TRACK, OMITTED),
    ("a path through 0 is omitted", {"@path": "$.properties.zero.value"}, TRACK, OMITTED),
    ("strings have no keys", {"@path": "$.properties.html.length"}, TRACK, OMITTED),
    ("arrays have no named keys", {"@path": "$.properties.products.length"}, TRACK, OMITTED),
    ("a datetime stays a datetime", {"@path": "$.timestamp"}, TRACK, WHEN),
    ("an array", {"@path": "$.properties.tags"}, TRACK, ["a", "b"]),
    ("an object", {"@path": "$.context.traits"}, TRACK, TRACK["context"]["traits"]),
    ("$. is the whole event", {"@path": "$."}, TRACK, TRACK),
    ("$ is the whole event", {"@path": "$"}, TRACK, TRACK),
    ("an empty path is the whole event", {"@path": ""}, IDENTIFY, IDENTIFY),
    ("a null userId is null", {"@path": "$.userId"}, IDENTIFY, None),
]  # fmt: skip

TEMPLATE: list[Row] = [
    ("two placeholders", {"@template": "{{context.traits.first_name}} {{context.traits.last_name}}"}, TRACK, "Ada Lovelace"),
    ("a null placeholder is empty", {"@template": "{{traits.first_name}} {{traits.last_name}}"}, IDENTIFY, "Grace "),
    ("a missing placeholder is empty", {"@template": "Hello, {{traits.nickname}}!"}, IDENTIFY, "Hello, !"),
    ("all placeholders missing still give a string", {"@template": "{{a}}{{b}}"}, IDENTIFY, ""),
    ("spaces inside braces are trimmed", {"@template": "{{ userId }}"}, TRACK, "u1"),
    ("triple braces insert the same value", {"@template": "{{{userId}}}"}, TRACK, "u1"),
    ("a trailing brace is kept", {"@template": "{{userId}}}"}, TRACK, "u1}"),
    ("values are not HTML-escaped", {"@template": "<i>{{properties.html}}</i>"}, TRACK, "<i><b>Hi</b></i>"),
    ("an integer", {"@template": "x{{properties.quantity}}"}, TRACK, "x2"),
    ("a whole float prints as JavaScript does", {"@template": "{{properties.total}}"}, TRACK, "40"),
    ("a decimal", {"@template": "{{properties.price}} EUR"}, TRACK, "19.99 EUR"),
    ("a boolean", {"@template": "{{properties.off}}"}, TRACK, "false"),
    ("null", {"@template": "[{{properties.coupon}}]"}, TRACK, "[]"),
    ("a datetime is ISO 8601 with Z", {"@template": "at {{timestamp}}"}, TRACK, "at 2024-05-01T12:30:15.123Z"),
    ("an object is JSON", {"@template": "{{properties.products[0]}}"}, TRACK, '{"id":"p1","price":10}'),
    ("an array of plain values is joined with commas, as JavaScript prints it", {"@template": "{{properties.tags}}"}, TRACK, "a,b"),
    ("an array of objects is JSON", {"@template": "{{properties.products}}"}, TRACK, '[{"id":"p1","price":10},{"id":"p2"}]'),
    ("an array index", {"@template": "{{properties.products[1].id}}"}, TRACK, "p2"),
    ("a $. prefix is allowed", {"@template": "{{$.userId}}"}, TRACK, "u1"),
    ("no placeholders", {"@template": "Hello world"}, TRACK, "Hello world"),
    ("empty braces are text", {"@template": "{{}}"}, TRACK, "{{}}"),
]  # fmt: skip

IF: list[Row] = [
    ("exists: a value takes then", {"@if": {"exists": {"@path": "$.userId"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("exists: null takes else", {"@if": {"exists": {"@path": "$.properties.coupon"}, "then": "yes", "else": "no"}}, TRACK, "no"),
    ("exists: missing takes else", {"@if": {"exists": {"@path": "$.nope"}, "then": "yes", "else": "no"}}, TRACK, "no"),
    ("exists: an empty string exists", {"@if": {"exists": {"@path": "$.properties.empty"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("exists: false exists", {"@if": {"exists": {"@path": "$.properties.off"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("exists: a literal exists", {"@if": {"exists": "x", "then": "yes"}}, TRACK, "yes"),
    ("no else when it does not hold: omitted", {"@if": {"exists": {"@path": "$.nope"}, "then": True}}, TRACK, OMITTED),
    ("no then when it holds: omitted", {"@if": {"exists": {"@path": "$.userId"}, "else": 1}}, TRACK, OMITTED),
    ("blank: a value takes then", {"@if": {"blank": {"@path": "$.userId"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("blank: an empty string takes else", {"@if": {"blank": {"@path": "$.properties.empty"}, "then": "yes", "else": "no"}}, TRACK, "no"),
    ("blank: null takes else", {"@if": {"blank": {"@path": "$.properties.coupon"}, "then": "yes", "else": "no"}}, TRACK, "no"),
    ("blank: missing takes else", {"@if": {"blank": {"@path": "$.nope"}, "then": "yes", "else": "no"}}, TRACK, "no"),
    ("blank: 0 is not blank (Segment says it is)", {"@if": {"blank": {"@path": "$.properties.zero"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("blank: false is not blank (Segment says it is)", {"@if": {"blank": {"@path": "$.properties.off"}, "then": "yes", "else": "no"}}, TRACK, "yes"),
    ("a false else is used (Segment drops it)", {"@if": {"exists": {"@path": "$.nope"}, "then": True, "else": False}}, TRACK, False),
    ("a branch that resolves to nothing is omitted", {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": {"@path": "$.anonymousId"}}}, IDENTIFY, OMITTED),
    ("the else branch reads the event", {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": {"@path": "$.traits.email"}}}, IDENTIFY, "grace@navy.mil"),
    ("an @if inside an @if", {"@if": {"exists": {"@path": "$.nope"}, "then": 1, "else": {"@if": {"blank": {"@path": "$.userId"}, "then": 2, "else": 3}}}}, TRACK, 2),
    ("an object branch", {"@if": {"exists": {"@path": "$.userId"}, "then": {"id": {"@path": "$.userId"}, "gone": {"@path": "$.nope"}}}}, TRACK, {"id": "u1"}),
]  # fmt: skip

LITERAL: list[Row] = [
    ("true", {"@literal": True}, TRACK, True),
    ("null", {"@literal": None}, TRACK, None),
    ("text that looks like a template", {"@literal": "{{userId}}"}, TRACK, "{{userId}}"),
    ("a directive inside is resolved, as Segment does", {"@literal": {"@path": "$.userId"}}, TRACK, "u1"),
    ("an array", {"@literal": [1, {"a": 2}]}, TRACK, [1, {"a": 2}]),
]  # fmt: skip

ARRAY_PATH: list[Row] = [
    ("without an item mapping, the array as it is", {"@arrayPath": ["$.properties.products"]}, TRACK, [{"id": "p1", "price": 10}, {"id": "p2"}]),
    ("each item mapped", {"@arrayPath": ["$.properties.products", {"product_id": {"@path": "$.id"}, "amount": {"@path": "$.price"}}]}, TRACK, [{"product_id": "p1", "amount": 10}, {"product_id": "p2"}]),
    ("an object is an array of one", {"@arrayPath": ["$.context.traits", {"mail": {"@path": "$.email"}}]}, TRACK, [{"mail": "Ada@Example.COM"}]),
    ("a missing array is omitted", {"@arrayPath": ["$.properties.nope", {"id": {"@path": "$.id"}}]}, TRACK, OMITTED),
    ("a null item mapping passes the array", {"@arrayPath": ["$.properties.tags", None]}, TRACK, ["a", "b"]),
    ("an empty item mapping passes the value", {"@arrayPath": ["$.context.traits", {}]}, TRACK, TRACK["context"]["traits"]),
    ("a static item mapping", {"@arrayPath": ["$.properties.products", {"kind": "product"}]}, TRACK, [{"kind": "product"}, {"kind": "product"}]),
    ("an item mapping that is a directive", {"@arrayPath": ["$.properties.products", {"@path": "$.id"}]}, TRACK, ["p1", "p2"]),
    ("a missing item result is null", {"@arrayPath": ["$.properties.products", {"@path": "$.price"}]}, TRACK, [10, None]),
    ("$ in an item mapping is the item", {"@arrayPath": ["$.properties.tags", {"tag": {"@path": "$"}}]}, TRACK, [{"tag": "a"}, {"tag": "b"}]),
    ("a scalar passes as it is", {"@arrayPath": ["$.userId", {"x": 1}]}, TRACK, "u1"),
    ("null passes as it is", {"@arrayPath": ["$.properties.coupon", {"x": 1}]}, TRACK, None),
    ("the array may come from a directive", {"@arrayPath": [{"@if": {"exists": {"@path": "$.nope"}, "then": {"@path": "$.nope"}, "else": {"@path": "$.properties.products"}}}, {"@path": "$.id"}]}, TRACK, ["p1", "p2"]),
    ("further elements are ignored", {"@arrayPath": ["$.properties.products", {"@path": "$.id"}, {"foo": "bar"}]}, TRACK, ["p1", "p2"]),
    ("arrays inside items", {"@arrayPath": ["$.properties.products", {"id": {"@path": "$.id"}, "tags": {"@arrayPath": ["$.tags"]}}]}, TRACK, [{"id": "p1"}, {"id": "p2"}]),
]  # fmt: skip

CASE: list[Row] = [
    ("lower", {"@case": {"operator": "lower", "value": {"@path": "$.context.traits.email"}}}, TRACK, "ada@example.com"),
    ("upper", {"@case": {"operator": "upper", "value": {"@path": "$.context.traits.first_name"}}}, TRACK, "ADA"),
    ("an empty string", {"@case": {"operator": "upper", "value": {"@path": "$.properties.empty"}}}, TRACK, ""),
    ("a number passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.properties.quantity"}}}, TRACK, 2),
    ("null passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.properties.coupon"}}}, TRACK, None),
    ("an object passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.properties.nested"}}}, TRACK, {"deep": {"er": "bottom"}}),
    ("missing is omitted", {"@case": {"operator": "lower", "value": {"@path": "$.nope"}}}, TRACK, OMITTED),
    ("of a template", {"@case": {"operator": "upper", "value": {"@template": "{{userId}}-{{anonymousId}}"}}}, TRACK, "U1-A1"),
    ("of a literal", {"@case": {"operator": "lower", "value": "MiXeD"}}, TRACK, "mixed"),
]  # fmt: skip

REPLACE: list[Row] = [
    ("every occurrence by default", {"@replace": {"pattern": "+", "replacement": "_", "value": {"@path": "$.properties.slug"}}}, TRACK, "many_different_things"),
    ("only the first when not global", {"@replace": {"pattern": "+", "replacement": "_", "global": False, "value": {"@path": "$.properties.slug"}}}, TRACK, "many_different+things"),
    ("case-sensitive by default", {"@replace": {"pattern": "AaB", "replacement": "nice", "value": {"@path": "$.properties.mixed"}}}, TRACK, "aab-----nice---aab"),
    ("ignoring case", {"@replace": {"pattern": "AaB", "replacement": "nice", "ignorecase": True, "value": {"@path": "$.properties.mixed"}}}, TRACK, "nice-----nice---nice"),
    ("ignoring case, first only", {"@replace": {"pattern": "aab", "replacement": "x", "ignorecase": True, "global": False, "value": {"@path": "$.properties.mixed"}}}, TRACK, "x-----AaB---aab"),
    ("no replacement removes", {"@replace": {"pattern": "many+", "value": {"@path": "$.properties.slug"}}}, TRACK, "different+things"),
    ("a second pattern after the first", {"@replace": {"pattern": "+", "replacement": " ", "pattern2": "different", "replacement2": "other", "value": {"@path": "$.properties.slug"}}}, TRACK, "many other things"),
    ("an empty second pattern is ignored", {"@replace": {"pattern": "+", "replacement": "-", "pattern2": "", "replacement2": "", "value": {"@path": "$.properties.slug"}}}, TRACK, "many-different-things"),
    ("the pattern is text, not a regex", {"@replace": {"pattern": ".", "replacement": "/", "value": {"@path": "$.properties.dotted"}}}, TRACK, "a/b/c"),
    ("$& in a replacement is the match, as in JavaScript", {"@replace": {"pattern": "+", "replacement": r"\1$&", "global": False, "value": {"@path": "$.properties.slug"}}}, TRACK, r"many\1+different+things"),
    ("a boolean is replaced in its text", {"@replace": {"pattern": "false", "replacement": "denied", "value": {"@path": "$.properties.off"}}}, TRACK, "denied"),
    ("a number is replaced in its text", {"@replace": {"pattern": "2", "replacement": "two", "value": {"@path": "$.properties.quantity"}}}, TRACK, "two"),
    ("a datetime is replaced in its ISO text", {"@replace": {"pattern": "T", "replacement": " ", "value": {"@path": "$.timestamp"}}}, TRACK, "2024-05-01 12:30:15.123Z"),
    ("missing becomes an empty string, as Segment's fixtures say", {"@replace": {"pattern": "_", "value": {"@path": "$.nope"}}}, TRACK, ""),
    ("null becomes an empty string", {"@replace": {"pattern": "_", "value": {"@path": "$.properties.coupon"}}}, TRACK, ""),
    ("an object becomes an empty string", {"@replace": {"pattern": "_", "value": {"@path": "$.properties.nested"}}}, TRACK, ""),
    ("an unmatched pattern leaves the text", {"@replace": {"pattern": "zzz", "replacement": "y", "value": {"@path": "$.properties.slug"}}}, TRACK, "many+different+things"),
    ("null options take their defaults", {"@replace": {"pattern": "+", "replacement": None, "global": None, "ignorecase": None, "value": {"@path": "$.properties.slug"}}}, TRACK, "manydifferentthings"),
]  # fmt: skip

JSON: list[Row] = [
    ("encode a string", {"@json": {"mode": "encode", "value": {"@path": "$.userId"}}}, TRACK, '"u1"'),
    ("encode an object compactly", {"@json": {"mode": "encode", "value": {"@path": "$.properties.products[0]"}}}, TRACK, '{"id":"p1","price":10}'),
    ("encode an array", {"@json": {"mode": "encode", "value": {"@path": "$.properties.tags"}}}, TRACK, '["a","b"]'),
    ("encode null", {"@json": {"mode": "encode", "value": {"@path": "$.properties.coupon"}}}, TRACK, "null"),
    ("encode a datetime as ISO 8601", {"@json": {"mode": "encode", "value": {"@path": "$.timestamp"}}}, TRACK, '"2024-05-01T12:30:15.123Z"'),
    ("encode keeps non-ASCII text", {"@json": {"mode": "encode", "value": {"@path": "$.properties.city"}}}, TRACK, '"Zürich"'),
    ("encode missing is omitted", {"@json": {"mode": "encode", "value": {"@path": "$.nope"}}}, TRACK, OMITTED),
    ("decode an object", {"@json": {"mode": "decode", "value": {"@path": "$.properties.json"}}}, TRACK, {"a": [1, 2]}),
    ("decode a string", {"@json": {"mode": "decode", "value": '"bar"'}}, TRACK, "bar"),
    ("decode passes a non-string", {"@json": {"mode": "decode", "value": {"@path": "$.properties.quantity"}}}, TRACK, 2),
    ("decode of text that is not JSON keeps the text", {"@json": {"mode": "decode", "value": {"@path": "$.properties.bad_json"}}}, TRACK, "{oops"),
    ("decode missing is omitted", {"@json": {"mode": "decode", "value": {"@path": "$.nope"}}}, TRACK, OMITTED),
]  # fmt: skip

RAW: list[Row] = [
    ("a string", "hello", TRACK, "hello"),
    ("a number", 42, TRACK, 42),
    ("false", False, TRACK, False),
    ("null is kept", None, TRACK, None),
    ("an empty object", {}, TRACK, {}),
    ("an empty array", [], TRACK, []),
    ("an object's missing keys are omitted", {"id": {"@path": "$.userId"}, "gone": {"@path": "$.nope"}, "none": None}, TRACK, {"id": "u1", "none": None}),
    ("an object of only missing keys is empty", {"gone": {"@path": "$.nope"}}, TRACK, {}),
    ("objects nest", {"a": {"b": {"c": {"@path": "$.properties.nested.deep.er"}}}}, TRACK, {"a": {"b": {"c": "bottom"}}}),
    ("a missing array item is null", [{"@path": "$.userId"}, {"@path": "$.nope"}, 3], TRACK, ["u1", None, 3]),
    ("_metadata beside a directive is ignored", {"@path": "$.userId", "_metadata": {"type": "variable"}}, TRACK, "u1"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), PATH, ids=_ids(PATH))
def test_path(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), TEMPLATE, ids=_ids(TEMPLATE))
def test_template(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), IF, ids=_ids(IF))
def test_if(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), LITERAL, ids=_ids(LITERAL))
def test_literal(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(
    ("scenario", "value", "event", "expected"), ARRAY_PATH, ids=_ids(ARRAY_PATH)
)
def test_array_path(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), CASE, ids=_ids(CASE))
def test_case(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), REPLACE, ids=_ids(REPLACE))
def test_replace(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), JSON, ids=_ids(JSON))
def test_json(scenario: str, value: Any, event: dict[str, Any], expected: Any) -> None:
    assert resolve(value, event) == expected


@pytest.mark.parametrize(("scenario", "value", "event", "expected"), RAW, ids=_ids(RAW))
def test_raw_values_and_nesting(
    scenario: str, value: Any, event: dict[str, Any], expected: Any
) -> None:
    assert resolve(value, event) == expected


def test_a_whole_mapping() -> None:
    mapper = compile_mapping(
        {
            "user_id": {"@path": "$.userId"},
            "email": {"@case": {"operator": "lower", "value": {"@path": "$.context.traits.email"}}},
            "name": {"@template": "{{context.traits.first_name}} {{context.traits.last_name}}"},
            "price": {"@path": "$.properties.price"},
            "coupon": {"@path": "$.properties.coupon"},
            "phone": {"@path": "$.context.traits.phone"},
            "source": "web",
        }
    )
    assert mapper(TRACK) == {
        "user_id": "u1",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "price": 19.99,
        "coupon": None,
        "source": "web",
    }


def test_payloads_share_nothing_with_the_event_or_the_mapping() -> None:
    mapper = compile_mapping(
        {
            "traits": {"@path": "$.context.traits"},
            "fixed": {"@literal": {"tags": ["a"]}},
            "raw": {"list": [1]},
        }
    )
    first = mapper(TRACK)
    first["traits"]["email"] = "changed"
    first["fixed"]["tags"].append("b")
    first["raw"]["list"].append(2)
    assert TRACK["context"]["traits"]["email"] == "Ada@Example.COM"
    assert mapper(TRACK) == {
        "traits": TRACK["context"]["traits"],
        "fixed": {"tags": ["a"]},
        "raw": {"list": [1]},
    }


def test_an_absurdly_nested_event_maps_without_raising() -> None:
    nested: Any = "bottom"
    for _ in range(5000):
        nested = [nested]
    mapper = compile_mapping(
        {
            "copy": {"@path": "$.a"},
            "text": {"@template": "{{a}}"},
            "json": {"@json": {"mode": "encode", "value": {"@path": "$.a"}}},
            "items": {"@arrayPath": ["$.a"]},
            "id": {"@path": "$.userId"},
        }
    )
    assert mapper({"a": nested, "userId": "u1"}) == {"text": "", "id": "u1"}


def test_a_mapper_keeps_its_mapping() -> None:
    mapping = {"id": {"@path": "$.userId"}}
    mapper = compile_mapping(mapping)
    assert isinstance(mapper, Mapper)
    assert mapper.mapping is mapping
    assert "userId" in repr(mapper)


# --- mappings that do not compile

BAD: list[tuple[str, Any, str]] = [
    ("@path takes a string", {"email": {"@path": 3}}, 'mapping.email: @path must be a string such as "$.properties.products[0].id"'),
    ("@path computed by a bad directive", {"email": {"@path": {"@oops": "$.key"}}}, "mapping.email.@path: unknown directive @oops"),
    ("an empty step", {"email": {"@path": "$.traits..email"}}, "mapping.email: @path '$.traits..email' is not a path like"),
    ("a trailing dot", {"email": {"@path": "$.traits."}}, "mapping.email: @path '$.traits.' is not a path"),
    ("JSONPath's recursive descent", {"email": {"@path": "$..email"}}, "mapping.email: @path '$..email' is not a path"),
    ("an unclosed bracket", {"id": {"@path": "$.products[0"}}, "mapping.id: @path '$.products[0' is not a path"),
    ("a named bracket", {"id": {"@path": "$.products['id']"}}, "mapping.id: @path \"$.products['id']\" is not a path"),
    ("a negative index", {"id": {"@path": "$.products[-1]"}}, "mapping.id: @path '$.products[-1]' is not a path"),
    ("an unknown directive", {"email": {"@field": "traits.email"}}, "mapping.email: unknown directive @field; the directives are @arrayPath, @case, @excludeWhenNull, @flatten, @if, @json, @liquid, @literal, @merge, @path, @replace, @template, @transform"),
    ("two directives in one object", {"x": {"@path": "$.a", "@template": "{{a}}"}}, "mapping.x: a directive has one @-key, found @path and @template"),
    ("a directive beside a raw key", {"x": {"@path": "$.a", "foo": "bar"}}, "mapping.x: a directive has no other keys, found 'foo' beside @path"),
    ("a directive beside a number key", {"x": {"@path": "$.a", 1: "one"}}, "mapping.x: a directive has no other keys, found 1 beside @path"),
    ("keys are strings", {"x": {1: "one"}}, "mapping.x: keys are strings, got a number 1"),
    ("@template takes a string", {"greeting": {"@template": False}}, "mapping.greeting: @template must be a string, got a boolean"),
    ("an empty placeholder", {"greeting": {"@template": "Hi {{ }}"}}, "mapping.greeting: @template has an empty placeholder '{{ }}'"),
    ("a bad placeholder path", {"greeting": {"@template": "Hi {{traits..name}}"}}, "mapping.greeting: @template placeholder 'traits..name' is not a path"),
    ("@if takes an object", {"x": {"@if": "yes"}}, "mapping.x: @if takes an object, got a string"),
    ("@if needs a condition", {"x": {"@if": {"then": 1}}}, "mapping.x: @if needs one condition, 'exists' or 'blank'"),
    ("@if takes one condition", {"x": {"@if": {"exists": 1, "blank": 2, "then": 1}}}, "mapping.x: @if needs one condition"),
    ("@if needs a branch", {"x": {"@if": {"exists": {"@path": "$.a"}}}}, "mapping.x: @if needs a branch, 'then' or 'else'"),
    ("@if has no elif", {"x": {"@if": {"exists": 1, "then": 1, "elif": 2}}}, "mapping.x: @if has no option 'elif'; it has exists, blank, then, else"),
    ("an error inside a branch names the branch", {"name": {"@if": {"exists": 1, "then": {"@path": 7}}}}, "mapping.name.@if.then: @path must be a string"),
    ("@case needs an operator", {"x": {"@case": {"value": "A"}}}, "mapping.x: @case needs 'operator'"),
    ("@case knows lower and upper", {"x": {"@case": {"operator": "title", "value": "A"}}}, "mapping.x: @case 'operator' is 'lower' or 'upper', got 'title'"),
    ("@case needs a value", {"x": {"@case": {"operator": "lower"}}}, "mapping.x: @case needs 'value'"),
    ("@case takes an object", {"x": {"@case": "lower"}}, "mapping.x: @case takes an object, got a string"),
    ("@replace needs a pattern", {"x": {"@replace": {"replacement": "b", "value": "a"}}}, "mapping.x: @replace needs 'pattern'"),
    ("@replace needs a non-empty pattern", {"x": {"@replace": {"pattern": "", "value": "a"}}}, "mapping.x: @replace 'pattern' must be a non-empty string"),
    ("@replace needs a value", {"x": {"@replace": {"pattern": "a"}}}, "mapping.x: @replace needs 'value'"),
    ("@replace global is a boolean", {"x": {"@replace": {"pattern": "a", "global": "yes", "value": "a"}}}, "mapping.x: @replace 'global' must be a boolean"),
    ("@replace ignorecase is a boolean", {"x": {"@replace": {"pattern": "a", "ignorecase": 1, "value": "a"}}}, "mapping.x: @replace 'ignorecase' must be a boolean"),
    ("@replace replacement is a string", {"x": {"@replace": {"pattern": "a", "replacement": 1, "value": "a"}}}, "mapping.x: @replace 'replacement' must be a string"),
    ("@json knows encode and decode", {"x": {"@json": {"mode": "pretty", "value": "a"}}}, "mapping.x: @json 'mode' is 'encode' or 'decode', got 'pretty'"),
    ("@json needs a value", {"x": {"@json": {"mode": "encode"}}}, "mapping.x: @json needs 'value'"),
    ("@arrayPath takes an array", {"items": {"@arrayPath": "$.products"}}, "mapping.items: @arrayPath takes an array: [path, item mapping]"),
    ("@arrayPath takes a non-empty array", {"items": {"@arrayPath": []}}, "mapping.items: @arrayPath takes an array"),
    ("@arrayPath starts with a path", {"items": {"@arrayPath": [True]}}, "mapping.items: @arrayPath starts with a path string or a directive"),
    ("@arrayPath's item mapping is an object", {"items": {"@arrayPath": ["$.products", "id"]}}, "mapping.items: @arrayPath's item mapping must be an object"),
    ("@arrayPath checks its path", {"items": {"@arrayPath": ["$.products[x]"]}}, "mapping.items.@arrayPath[0]: @arrayPath '$.products[x]' is not a path"),
    ("an error in an item mapping names the item key", {"items": {"@arrayPath": ["$.products", {"id": {"@path": None}}]}}, "mapping.items.@arrayPath[1].id: @path must be a string"),
    ("an error in an array names the index", {"list": [1, {"@case": "x"}]}, "mapping.list[1]: @case takes an object"),
    ("an error in a nested object names the keys", {"a": {"b": {"@json": {}}}}, "mapping.a.b: @json needs 'mode'"),
    ("only JSON values", {"x": {1, 2}}, "mapping.x: expected a JSON value or a directive, got a set"),
    ("the mapping is an object of fields", {"@path": "$.properties"}, "mapping: must be an object of fields, not a directive"),
    ("the mapping is an object", ["x"], "mapping: must be an object of fields, got an array"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "mapping", "message"), BAD, ids=_ids(BAD))
def test_bad_mappings(scenario: str, mapping: Any, message: str) -> None:
    with pytest.raises(MappingError) as raised:
        compile_mapping(mapping)
    assert raised.value.message.startswith(message), raised.value.message


def test_a_mapping_error_is_invalid_input_with_its_path() -> None:
    with pytest.raises(InvalidInput) as raised:
        compile_mapping({"user": {"email": {"@path": "$.a..b"}}})
    body = raised.value.to_json()
    assert body["code"] == "invalid_mapping"
    assert body["details"] == {"path": "mapping.user.email"}
    assert body["message"].startswith("mapping.user.email: @path")


# --- validate_payload


def _field(kind: Any, **options: Any) -> Field:
    return Field("Value", "", kind, **options)


COERCIONS: list[tuple[str, Field, Any, Any]] = [
    ("a string stays", _field("string"), "abc", "abc"),
    ("an empty string stays for a string field", _field("string"), "", ""),
    ("a number becomes text", _field("string"), 42, "42"),
    ("a whole float becomes text as JavaScript writes it", _field("string"), 40.0, "40"),
    ("a decimal becomes text", _field("string"), 4.5, "4.5"),
    ("a boolean becomes text", _field("string"), True, "true"),
    ("a datetime becomes ISO 8601 text", _field("string"), WHEN, "2024-05-01T12:30:15.123Z"),
    ("text fields are strings", _field("text"), 7, "7"),
    ("a number stays", _field("number"), 19.99, 19.99),
    ("a numeric string becomes a number", _field("number"), "19.99", 19.99),
    ("an integer string becomes an int", _field("number"), "42", 42),
    ("spaces around a number are fine", _field("number"), " 7 ", 7),
    ("an exponent", _field("number"), "-3e2", -300.0),
    ("an empty string for a number is left out", _field("number"), "", OMITTED),
    ("an integer stays", _field("integer"), 3, 3),
    ("a whole float becomes an integer", _field("integer"), 42.0, 42),
    ("an integer string", _field("integer"), "42", 42),
    ("a whole decimal string", _field("integer"), "42.0", 42),
    ("a boolean stays", _field("boolean"), False, False),
    ("'true' is true", _field("boolean"), "true", True),
    ("'false' is false", _field("boolean"), "false", False),
    ("1 is true", _field("boolean"), 1, True),
    ("0 is false", _field("boolean"), 0, False),
    ("an ISO string stays as it is", _field("datetime"), "2024-05-01T12:30:15.123Z", "2024-05-01T12:30:15.123Z"),
    ("a date string stays", _field("datetime"), "2024-05-01", "2024-05-01"),
    ("an offset string stays", _field("datetime"), "2024-05-01T14:30:00+02:00", "2024-05-01T14:30:00+02:00"),
    ("a datetime becomes ISO 8601 with Z", _field("datetime"), WHEN, "2024-05-01T12:30:15.123Z"),
    ("a naive datetime is UTC", _field("datetime"), datetime(2024, 5, 1, 8), "2024-05-01T08:00:00.000Z"),
    ("an aware datetime is converted to UTC", _field("datetime"), datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T12:00:00.000Z"),
    ("Unix time stays a number", _field("datetime"), 1714566615, 1714566615),
    ("Unix time as text stays text", _field("datetime"), "1714566615", "1714566615"),
    ("an object stays", _field("object"), {"a": 1}, {"a": 1}),
    ("null is left out", _field("string"), None, OMITTED),
    ("a single value becomes a list for a multiple field", _field("string", multiple=True), "a", ["a"]),
    ("a list stays a list", _field("string", multiple=True), ["a", "b"], ["a", "b"]),
    ("items are coerced", _field("number", multiple=True), ["1", 2.5], [1, 2.5]),
    ("null items are dropped", _field("string", multiple=True), ["a", None, "b"], ["a", "b"]),
    ("an empty list stays", _field("number", multiple=True), [], []),
    ("a one-item list for a single value is its item", _field("string"), ["only"], "only"),
    ("a choice", _field("string", choices=("red", "green")), "red", "red"),
    ("object properties are coerced, others kept", _field("object", properties={"zip": _field("string"), "n": _field("integer")}), {"zip": 8001, "n": "3", "extra": True}, {"zip": "8001", "n": 3, "extra": True}),
    ("multiple objects with properties", _field("object", multiple=True, properties={"price": _field("number")}), [{"price": "1.5"}, {"price": 2}], [{"price": 1.5}, {"price": 2}]),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "field", "value", "expected"), COERCIONS, ids=_ids(COERCIONS))
def test_validate_payload_coerces(scenario: str, field: Field, value: Any, expected: Any) -> None:
    valid = validate_payload({"v": value}, {"v": field})
    assert valid.get("v", OMITTED) == expected
    if expected is not OMITTED:
        assert type(valid["v"]) is type(expected)


REFUSALS: list[tuple[str, Field, Any, str]] = [
    ("an object for a string", _field("string"), {"a": 1}, "v: expected a string, got an object"),
    ("text that is not a number", _field("number"), "abc", "v: expected a number, got the string 'abc'"),
    ("a boolean for a number", _field("number"), True, "v: expected a number, got the value true"),
    ("a decimal for an integer", _field("integer"), 4.5, "v: expected an integer, got the value 4.5"),
    ("a decimal string for an integer", _field("integer"), "4.5", "v: expected an integer, got the string '4.5'"),
    ("'yes' for a boolean", _field("boolean"), "yes", "v: expected a boolean, got the string 'yes'"),
    ("2 for a boolean", _field("boolean"), 2, "v: expected a boolean, got the value 2"),
    ("text that is not a date", _field("datetime"), "next tuesday", "v: expected an ISO 8601 date-time, got the string 'next tuesday'"),
    ("a boolean for a datetime", _field("datetime"), True, "v: expected an ISO 8601 date-time, got the value true"),
    ("text for an object", _field("object"), "a=1", "v: expected an object, got the string 'a=1'"),
    ("two values for one", _field("string"), ["a", "b"], "v: expected one string, got an array of 2"),
    ("no values for one", _field("string"), [], "v: expected one string, got an array of 0"),
    ("an unknown choice", _field("string", choices=("red", "green")), "purple", "v: the string 'purple' is not one of red, green"),
    ("a bad item names its index", _field("number", multiple=True), [1, "x"], "v[1]: expected a number, got the string 'x'"),
    ("a bad property names its path", _field("object", properties={"n": _field("integer")}), {"n": "many"}, "v.n: expected an integer, got the string 'many'"),
    ("a missing required property", _field("object", properties={"city": Field("City", "", "string", required=True)}), {"zip": "8001"}, "v.city: the required field 'City' is missing"),
    ("a long string is shortened", _field("number"), "x" * 60, "v: expected a number, got the string '" + "x" * 40 + "'…"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "field", "value", "message"), REFUSALS, ids=_ids(REFUSALS))
def test_validate_payload_refuses(scenario: str, field: Field, value: Any, message: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        validate_payload({"v": value}, {"v": field})
    assert raised.value.message == message
    assert not raised.value.retryable


EMAIL = {"email": Field("Email", "The user's email.", "string", required=True)}
COUNT = {"count": Field("Count", "How many.", "integer", required=True)}
MISSING_REQUIRED: list[tuple[str, dict[str, Field], dict[str, Any], str]] = [
    ("absent", EMAIL, {}, "email: the required field 'Email' is missing"),
    ("null", EMAIL, {"email": None}, "email: the required field 'Email' is missing"),
    ("an empty string for a number", COUNT, {"count": ""}, "count: the required field 'Count' is missing"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scenario", "fields", "payload", "message"), MISSING_REQUIRED, ids=_ids(MISSING_REQUIRED)
)
def test_a_required_field_must_have_a_value(
    scenario: str, fields: dict[str, Field], payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload) as raised:
        validate_payload(payload, fields)
    assert raised.value.message == message


def test_validate_payload_keeps_only_the_actions_fields() -> None:
    fields = {
        "email": Field("Email", "", "string", required=True),
        "age": Field("Age", "", "integer"),
        "plan": Field("Plan", "", "string"),
    }
    payload = {"email": "a@b.c", "age": "41", "unknown": 1}
    assert validate_payload(payload, fields) == {"email": "a@b.c", "age": 41}


# --- check_mapping and default_mapping

FIELDS = {
    "user_id": Field("User ID", "", "string", required=True, default={"@path": "$.userId"}),
    "email": Field("Email", "", "string", required=True),
    "price": Field("Price", "", "number"),
    "subscribed": Field("Subscribed", "", "boolean", default=False),
    "tags": Field("Tags", "", "string", multiple=True),
}

CHECKS_OK: list[tuple[str, dict[str, Any]]] = [
    ("every field mapped", {"user_id": {"@path": "$.userId"}, "email": {"@path": "$.traits.email"}, "price": 3, "subscribed": True, "tags": ["a"]}),
    ("a required field left to its default", {"email": {"@path": "$.traits.email"}}),
    ("literals that coerce", {"email": "ops@example.com", "price": "19.99", "tags": "single"}),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "mapping"), CHECKS_OK, ids=_ids(CHECKS_OK))
def test_check_mapping_accepts(scenario: str, mapping: dict[str, Any]) -> None:
    check_mapping(mapping, FIELDS)


CHECKS_BAD: list[tuple[str, dict[str, Any], str]] = [
    ("a field the action does not have", {"email": "x", "emial": "y"}, "mapping.emial: the action has no field 'emial'; its fields are user_id, email, price, subscribed, tags"),
    ("a required field without mapping or default", {"user_id": {"@path": "$.userId"}}, "mapping.email: 'Email' is required and has no mapping"),
    ("a required field mapped to null", {"email": None}, "mapping.email: 'Email' is required and is mapped to nothing"),
    ("a literal number of the wrong type", {"email": "x", "price": "cheap"}, "mapping.price: expected a number, got the string 'cheap'"),
    ("a literal boolean of the wrong type", {"email": "x", "subscribed": "maybe"}, "mapping.subscribed: expected a boolean, got the string 'maybe'"),
    ("a mapping that does not compile", {"email": {"@path": 1}}, "mapping.email: @path must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "mapping", "message"), CHECKS_BAD, ids=_ids(CHECKS_BAD))
def test_check_mapping_refuses(scenario: str, mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError) as raised:
        check_mapping(mapping, FIELDS)
    assert raised.value.message.startswith(message), raised.value.message


def test_default_mapping_is_each_fields_default() -> None:
    defaults = default_mapping(FIELDS)
    assert defaults == {"user_id": {"@path": "$.userId"}, "subscribed": False}
    defaults["user_id"]["@path"] = "$.anonymousId"
    assert FIELDS["user_id"].default == {"@path": "$.userId"}
    check_mapping({**defaults, "email": {"@path": "$.traits.email"}}, FIELDS)


# --- a mapper never raises

NAMES = ["type", "userId", "properties", "context", "traits", "products", "price", "id", "email", "0", "1", "a b"]  # fmt: skip
keys = st.sampled_from(NAMES) | st.text(max_size=4)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.datetimes(timezones=st.none() | st.just(UTC))
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)
events = st.dictionaries(keys, json_values, max_size=6)
paths = st.lists(st.sampled_from(NAMES[:-1]) | st.integers(0, 2), max_size=4).map(
    lambda steps: "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
)
leaves = (
    paths.map(lambda path: {"@path": path})
    | paths.map(lambda path: {"@template": "{{" + path + "}} and {{" + path + "}}!"})
    | scalars.filter(lambda value: not isinstance(value, datetime))
    | st.builds(lambda value: {"@literal": value}, json_values)
)


def _directives(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Every directive (and raw objects and arrays) around mapping values drawn from `inner`."""
    texts = st.text(max_size=2)
    return (
        st.builds(lambda c, t, e: {"@if": {"exists": c, "then": t, "else": e}}, inner, inner, inner)
        | st.builds(lambda c, t: {"@if": {"blank": c, "then": t}}, inner, inner)
        | st.builds(lambda o, v: {"@case": {"operator": o, "value": v}}, st.sampled_from(["lower", "upper"]), inner)
        | st.builds(lambda p, r, g, i, v: {"@replace": {"pattern": p, "replacement": r, "global": g, "ignorecase": i, "value": v}}, texts.filter(bool), texts, st.booleans(), st.booleans(), inner)
        | st.builds(lambda m, v: {"@json": {"mode": m, "value": v}}, st.sampled_from(["encode", "decode"]), inner)
        | st.builds(lambda p, s: {"@arrayPath": [p, s]}, paths, st.dictionaries(st.sampled_from(NAMES), inner, max_size=3))
        | st.builds(lambda d, o: {"@merge": {"direction": d, "objects": o}}, st.sampled_from(["left", "right"]), st.lists(st.dictionaries(st.sampled_from(NAMES), inner, max_size=2) | paths.map(lambda path: {"@path": path}), max_size=3))
        | st.builds(lambda v, s, o: {"@flatten": {"value": v, "separator": s, "omitArrays": o}}, inner, st.sampled_from([".", "_"]), st.booleans())
        | st.builds(lambda a, m: {"@transform": {"apply": a, "mapping": m}}, st.dictionaries(st.sampled_from(NAMES), inner, max_size=2), st.dictionaries(st.sampled_from(NAMES), inner, max_size=2))
        | st.builds(lambda v: {"@excludeWhenNull": v}, inner)
        | st.builds(lambda v: {"@path": {"@template": v}}, paths)
        | st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
        | st.lists(inner, max_size=3)
    )  # fmt: skip


mappings = st.dictionaries(
    st.sampled_from(NAMES), st.recursive(leaves, _directives, max_leaves=12), max_size=5
)

EVERY_DIRECTIVE = {
    "id": {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": {"@path": "$.anonymousId"}}},
    "email": {"@case": {"operator": "lower", "value": {"@path": "$.context.traits.email"}}},
    "name": {"@template": "{{traits.first_name}} {{traits.last_name}} {{properties.products[0].id}}"},
    "slug": {"@replace": {"pattern": "a", "replacement": "b", "ignorecase": True, "pattern2": "c", "value": {"@path": "$.properties"}}},
    "products": {"@arrayPath": ["$.properties.products", {"id": {"@path": "$.id"}, "price": {"@path": "$.price"}}]},
    "items": {"@arrayPath": ["$.properties"]},
    "encoded": {"@json": {"mode": "encode", "value": {"@path": "$.properties"}}},
    "decoded": {"@json": {"mode": "decode", "value": {"@path": "$.properties.json"}}},
    "blank": {"@if": {"blank": {"@path": "$.type"}, "then": {"@literal": {"a": 1}}, "else": [{"@path": "$.0"}]}},
    "whole": {"@path": "$"},
    "merged": {"@merge": {"direction": "left", "objects": [{"a": {"@path": "$.properties.a"}}, {"@path": "$.traits"}]}},
    "flat": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "."}},
    "applied": {"@transform": {"apply": {"p": {"@excludeWhenNull": {"@path": "$.properties"}}}, "mapping": {"p": {"@path": "$.p"}}}},
    "liquid": {"@liquid": "{{ properties.a | plus: 1 }}{% if traits %}{{ traits | size }}{% endif %}{{ event | upcase }}"},
}  # fmt: skip


def _free_of_missing(value: Any) -> bool:
    if value is MISSING:
        return False
    if isinstance(value, dict):
        return all(_free_of_missing(item) for item in value.values())
    if isinstance(value, list):
        return all(_free_of_missing(item) for item in value)
    return True


@settings(max_examples=300, deadline=None)
@given(event=events)
def test_every_directive_maps_any_event(event: dict[str, Any]) -> None:
    payload = compile_mapping(EVERY_DIRECTIVE)(event)
    assert isinstance(payload, dict)
    assert _free_of_missing(payload)
    json.dumps(payload, default=str)


@settings(max_examples=300, deadline=None)
@given(mapping=mappings, event=events)
def test_any_mapping_maps_any_event(mapping: dict[str, Any], event: dict[str, Any]) -> None:
    payload = compile_mapping(mapping)(event)
    assert set(payload) <= set(mapping)
    assert _free_of_missing(payload)
    json.dumps(payload, default=str)


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["s", "n", "i", "b", "d", "o", "m"]), json_values))
def test_validate_payload_only_ever_refuses_with_invalid_payload(payload: dict[str, Any]) -> None:
    fields = {
        "s": _field("string"),
        "n": _field("number"),
        "i": _field("integer"),
        "b": _field("boolean"),
        "d": _field("datetime"),
        "o": _field("object", properties={"s": _field("string")}),
        "m": _field("number", multiple=True),
    }
    try:
        valid = validate_payload(payload, fields)
    except InvalidPayload:
        return
    assert set(valid) <= set(fields)

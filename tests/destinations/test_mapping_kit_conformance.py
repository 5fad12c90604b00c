"""Mappings resolve as Segment's mapping kit does.

Each row restates one case of Segment's own mapping-kit test suite (directives, placeholders,
schema fixtures, liquid, flatten) as a sentence: a mapping saved in Segment gives the same
payload here. Where we differ on purpose the row is in `DEVIATIONS`, with the reason (also
listed in docs/destinations.md under "Differences from Segment's mapping kit").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.destinations.mapping import compile_mapping
from seamline.destinations.mapping_directives import MappingError

OMITTED = object()
"""The field is left out of the payload (JavaScript's `undefined`)."""


def resolve(directive: Any, event: dict[str, Any]) -> Any:
    """What `directive` resolves to as the value of one field, or OMITTED."""
    payload = compile_mapping({"field": directive})(event)
    return payload.get("field", OMITTED)


IF_EVENT = {"a": 1, "b": True, "c": False, "d": None, "e": ""}
CASE_EVENT = {"a": 1, "b": "MAKE ME LOWER", "d": None, "f": False, "h": {"k": ["hi", True, None]}}
PRODUCTS = {"products": [{"productId": "123", "price": 0.5}, {"productId": "456", "price": 0.99}]}
SHAPE = {"product_id": {"@path": "$.productId"}, "monies": {"@path": "$.price"}}
NESTED = {"properties": {"test": "value", "nested": {"a": "special", "b": 2}}, "other": "x"}
NULLS = {"foo": {"bar": None, "aces": {"a": 1, "b": 2, "c": None, "d": {"a": None, "b": None}}}}

# (what Segment's suite says, directive, event, value)
CONFORMANCE: list[tuple[str, Any, dict[str, Any], Any]] = [
    # @literal
    ("a literal false is false", {"@literal": False}, {}, False),
    ("directives nested in a literal are resolved", {"@literal": {"a": {"@path": "$.a"}, "b": {"@path": "$.b"}}}, {"a": "v"}, {"a": "v"}),
    # @if exists / blank
    ("exists: a number exists", {"@if": {"exists": {"@path": "$.a"}, "then": 1, "else": 2}}, IF_EVENT, 1),
    ("exists: null does not", {"@if": {"exists": {"@path": "$.d"}, "then": 1, "else": 2}}, IF_EVENT, 2),
    ("exists: missing does not", {"@if": {"exists": {"@path": "$.x"}, "then": 1, "else": 2}}, IF_EVENT, 2),
    ("exists: an empty string does", {"@if": {"exists": {"@path": "$.e"}, "then": 1, "else": 2}}, IF_EVENT, 1),
    ("blank: a number is not blank", {"@if": {"blank": {"@path": "$.a"}, "then": 1, "else": 2}}, IF_EVENT, 1),
    ("blank: null is blank", {"@if": {"blank": {"@path": "$.d"}, "then": 1, "else": 2}}, IF_EVENT, 2),
    ("blank: missing is blank", {"@if": {"blank": {"@path": "$.x"}, "then": 1, "else": 2}}, IF_EVENT, 2),
    ("blank: an empty string is blank", {"@if": {"blank": {"@path": "$.e"}, "then": 1, "else": 2}}, IF_EVENT, 2),
    ("an @if with only else and a true condition is nothing", {"@if": {"exists": 1, "else": 3}}, {}, OMITTED),
    # @case
    ("lower", {"@case": {"operator": "lower", "value": {"@path": "$.b"}}}, CASE_EVENT, "make me lower"),
    ("upper", {"@case": {"operator": "upper", "value": "mIXeD 190wdB"}}, {}, "MIXED 190WDB"),
    ("an empty string stays empty", {"@case": {"operator": "lower", "value": {"@path": "$.e"}}}, {"e": ""}, ""),
    ("a number passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.a"}}}, CASE_EVENT, 1),
    ("null passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.d"}}}, CASE_EVENT, None),
    ("false passes unchanged", {"@case": {"operator": "lower", "value": {"@path": "$.f"}}}, CASE_EVENT, False),
    ("an object passes unchanged", {"@case": {"operator": "upper", "value": {"@path": "$.h"}}}, CASE_EVENT, {"k": ["hi", True, None]}),
    # @arrayPath
    ("the array as it is", {"@arrayPath": ["$.products"]}, PRODUCTS, PRODUCTS["products"]),
    ("each item mapped", {"@arrayPath": ["$.products", SHAPE]}, PRODUCTS, [{"product_id": "123", "monies": 0.5}, {"product_id": "456", "monies": 0.99}]),
    ("the array computed by a directive", {"@arrayPath": [{"@if": {"exists": {"@path": "$.products"}, "then": {"@path": "$.products"}, "else": []}}, SHAPE]}, PRODUCTS, [{"product_id": "123", "monies": 0.5}, {"product_id": "456", "monies": 0.99}]),
    ("an object without the item's keys maps to one empty item", {"@arrayPath": ["$.products", SHAPE]}, {"products": {"notAnArray": True}}, [{}]),
    ("a single object is an array of one", {"@arrayPath": ["$.properties", SHAPE]}, {"properties": {"productId": "123", "price": 0.5}}, [{"product_id": "123", "monies": 0.5}]),
    # @json
    ("encode a string", {"@json": {"mode": "encode", "value": {"@path": "$.foo"}}}, {"foo": "bar"}, '"bar"'),
    ("encode an object", {"@json": {"mode": "encode", "value": {"@path": "$.foo"}}}, {"foo": {"bar": "baz"}}, '{"bar":"baz"}'),
    ("encode an array", {"@json": {"mode": "encode", "value": {"@path": "$.foo"}}}, {"foo": ["bar", "baz"]}, '["bar","baz"]'),
    ("decode a string", {"@json": {"mode": "decode", "value": {"@path": "$.foo"}}}, {"foo": '"bar"'}, "bar"),
    ("decode an object", {"@json": {"mode": "decode", "value": {"@path": "$.foo"}}}, {"foo": '{"bar":"baz"}'}, {"bar": "baz"}),
    ("decode an array", {"@json": {"mode": "decode", "value": {"@path": "$.foo"}}}, {"foo": '["bar","baz"]'}, ["bar", "baz"]),
    ("decode of text that is not JSON keeps the text", {"@json": {"mode": "decode", "value": {"@path": "$.foo"}}}, {"foo": "Hello World"}, "Hello World"),
    ("encode of a missing value is nothing", {"@json": {"mode": "encode", "value": {"@path": "$.bad"}}}, {"foo": {}}, OMITTED),
    # @flatten
    ("flatten an object", {"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}, {"foo": {"bar": "baz", "aces": {"a": 1, "b": 2}}}, {"bar": "baz", "aces.a": 1, "aces.b": 2}),
    ("flatten an array first", {"@flatten": {"value": {"@path": "$.foo"}, "separator": "."}}, {"foo": [{"fazz": "bar", "fizz": "baz"}]}, {"0.fazz": "bar", "0.fizz": "baz"}),
    ("omitArrays keeps arrays", {"@flatten": {"value": {"@path": "$.foo"}, "separator": ".", "omitArrays": True}}, {"foo": {"bar": "baz", "aces": [1, 2]}}, {"bar": "baz", "aces": [1, 2]}),
    ("a custom separator", {"@flatten": {"value": {"@path": "$.a"}, "separator": "/"}}, {"a": {"b": {"c": 1}, "d": 2}}, {"b/c": 1, "d": 2}),
    ("arrays inside objects", {"@flatten": {"value": {"@path": "$.o"}, "separator": "."}}, {"o": {"a": [{"b": 1}, {"c": 2}]}}, {"a.0.b": 1, "a.1.c": 2}),
    ("deep nesting", {"@flatten": {"value": {"@path": "$.o"}, "separator": "."}}, {"o": {"a": {"b": {"c": {"d": {"e": [{"f": 1}]}}}}}}, {"a.b.c.d.e.0.f": 1}),
    ("an array at the root", {"@flatten": {"value": {"@path": "$.o"}, "separator": "."}}, {"o": [{"a": [{"b": [{"c": 1}]}, {"d": [{"e": 2}]}]}]}, {"0.a.0.b.0.c": 1, "0.a.1.d.0.e": 2}),
    ("omitArrays deep", {"@flatten": {"value": {"@path": "$.o"}, "separator": ".", "omitArrays": True}}, {"o": {"a": {"c": [{"d": [1]}]}}}, {"a.c": [{"d": [1]}]}),
    # @path
    ("a key", {"@path": "$.foo"}, {"foo": "bar"}, "bar"),
    ("the root path '' is the event", {"@path": ""}, {"foo": "bar"}, {"foo": "bar"}),
    ("the root path '$.' is the event", {"@path": "$."}, {"foo": "bar"}, {"foo": "bar"}),
    ("a nested key", {"@path": "$.foo.bar"}, {"foo": {"bar": "baz"}}, "baz"),
    ("a path computed by a directive", {"@path": {"@path": "$.foo"}}, {"foo": "bar", "bar": "baz"}, "baz"),
    ("a missing key is nothing", {"@path": "$.oops"}, {"foo": "bar"}, OMITTED),
    ("keys with spaces", {"@path": "$.integrations.Actions Amplitude.session_id"}, {"integrations": {"Actions Amplitude": {"session_id": "bar"}}}, "bar"),
    ("a path through a string is nothing", {"@path": "$.foo.bar.baz"}, {"foo": "bar"}, OMITTED),
    # @template and its placeholders
    ("basic", {"@template": "Hello, {{who}}!"}, {"who": "World"}, "Hello, World!"),
    ("nested fields", {"@template": "Hello, {{who.name}}!"}, {"who": {"name": "World"}}, "Hello, World!"),
    ("no escaping in {{ }} nor {{{ }}}", {"@template": "<blink>{{a}} {{{a}}}</blink>"}, {"a": "<b>Hi</b>"}, "<blink><b>Hi</b> <b>Hi</b></blink>"),
    ("missing fields are empty", {"@template": "{{oops.yo}}"}, {}, ""),
    ("no curlies: the text", {"@template": "Hello world"}, {}, "Hello world"),
    ("Mr. Bean", {"@template": "Hello {{foo}} {{bar}}"}, {"foo": "Mr.", "bar": "Bean"}, "Hello Mr. Bean"),
    ("true prints true", {"@template": "{{foo}}"}, {"foo": True}, "true"),
    ("1 prints 1", {"@template": "{{foo}}"}, {"foo": 1}, "1"),
    ("null prints nothing", {"@template": "{{foo}}"}, {"foo": None}, ""),
    ("a third brace stays", {"@template": "{{foo}}}"}, {"foo": "hello"}, "hello}"),
    ("a template computed by a directive", {"@template": {"@path": "$.t"}}, {"t": "Hi {{n}}", "n": "Ada"}, "Hi Ada"),
    ("an array of plain values prints as JavaScript does", {"@template": "{{tags}}"}, {"tags": ["a", 1, None, True]}, "a,1,,true"),
    # @replace
    ("on an empty string", {"@replace": {"pattern": "_", "replacement": "rrrrr", "value": {"@path": "$.a"}}}, {"a": ""}, ""),
    ("on null", {"@replace": {"pattern": "_", "replacement": "rrrrr", "value": {"@path": "$.a"}}}, {"a": None}, ""),
    ("case sensitive", {"@replace": {"pattern": "WW", "replacement": "oo", "value": {"@path": "$.a"}, "ignorecase": False}}, {"a": "cWWl-story-ww"}, "cool-story-ww"),
    ("case insensitive", {"@replace": {"pattern": "AaB", "replacement": "nice", "value": {"@path": "$.a"}, "ignorecase": True}}, {"a": "aab-----AaB---aab"}, "nice-----nice---nice"),
    ("with an empty string", {"@replace": {"pattern": "_", "replacement": "", "value": {"@path": "$.a"}}}, {"a": "no_more"}, "nomore"),
    ("with a word", {"@replace": {"pattern": "_", "replacement": "weird", "value": {"@path": "$.a"}}}, {"a": "no_more"}, "noweirdmore"),
    ("a multi-character pattern", {"@replace": {"pattern": "LOL", "replacement": "YAY", "value": {"@path": "$.a"}}}, {"a": "Hello LOL"}, "Hello YAY"),
    ("every occurrence", {"@replace": {"pattern": "+", "replacement": "_", "value": {"@path": "$.a"}, "global": True}}, {"a": "many+different+things"}, "many_different_things"),
    ("the first occurrence", {"@replace": {"pattern": "+", "replacement": "_", "value": {"@path": "$.a"}, "global": False}}, {"a": "many+different+things"}, "many_different+things"),
    ("the entire value", {"@replace": {"pattern": "aaabbbcccd", "replacement": "", "value": {"@path": "$.a"}}}, {"a": "aaabbbcccd"}, ""),
    ("without a replacement key", {"@replace": {"pattern": "many+", "value": {"@path": "$.a"}}}, {"a": "many+different+things"}, "different+things"),
    ("a boolean", {"@replace": {"pattern": "true", "replacement": "granted", "value": {"@path": "$.a"}}}, {"a": True}, "granted"),
    ("a number", {"@replace": {"pattern": "1", "replacement": "granted", "value": {"@path": "$.a"}}}, {"a": 1}, "granted"),
    ("two replacements", {"@replace": {"pattern": "-", "replacement": " ", "pattern2": "great", "replacement2": "awesome", "value": {"@path": "$.a"}}}, {"a": "something-great!"}, "something awesome!"),
    ("only the second applies", {"@replace": {"pattern": "true", "replacement": "granted", "pattern2": "false", "replacement2": "denied", "value": {"@path": "$.a"}}}, {"a": False}, "denied"),
    ("$$ and $& as JavaScript expands them", {"@replace": {"pattern": "5", "replacement": "$$$&", "value": {"@path": "$.a"}}}, {"a": "5 off"}, "$5 off"),
    # undefined values are removed from objects, null is kept
    ("null is kept", {"@literal": {"x": None}}, {}, {"x": None}),
    ("an empty object is kept", {"@literal": {"x": {}}}, {}, {"x": {}}),
    ("a nested missing value is removed", {"@literal": {"x": {"y": {"@path": "$.nope"}, "z": 1}}}, {}, {"x": {"z": 1}}),
    ("a deeper missing value leaves its object", {"@literal": {"x": {"y": {"z": {"@path": "$.nope"}}}}}, {}, {"x": {"y": {}}}),
    # @merge
    ("merge nothing", {"@merge": {"direction": "right", "objects": []}}, {}, {}),
    ("merge one object", {"@merge": {"direction": "left", "objects": [{"cool": True}]}}, {}, {"cool": True}),
    ("right: the later object wins", {"@merge": {"direction": "right", "objects": [{"cool": True}, {"cool": "you bet"}]}}, {}, {"cool": "you bet"}),
    ("right with a directive", {"@merge": {"direction": "right", "objects": [{"cool": True}, {"@path": "foo"}]}}, {"foo": {"bar": "baz"}}, {"cool": True, "bar": "baz"}),
    ("right: the directive's key wins", {"@merge": {"direction": "right", "objects": [{"cool": True, "hey": "there"}, {"@path": "foo"}]}}, {"foo": {"bar": "baz", "hey": "you"}}, {"cool": True, "hey": "you", "bar": "baz"}),
    ("left: the earlier object wins", {"@merge": {"direction": "left", "objects": [{"cool": True}, {"cool": "you bet"}]}}, {}, {"cool": True}),
    ("left with a directive", {"@merge": {"direction": "left", "objects": [{"cool": True, "hey": "there"}, {"@path": "foo"}]}}, {"foo": {"bar": "baz", "hey": "you"}}, {"cool": True, "bar": "baz", "hey": "there"}),
    ("a later missing value removes the key, as Object.assign copies undefined", {"@merge": {"direction": "right", "objects": [{"a": 1}, {"a": {"@path": "$.nope"}}]}}, {}, {}),
    # @transform
    ("transform: the mapping reads the applied payload", {"@transform": {"apply": {"foo": {"@path": "$.a"}}, "mapping": {"cool": {"@path": "$.foo"}}}}, {"a": 1, "b": 2}, {"cool": 1}),
    (
        "transform composed with flatten",
        {"@transform": {"apply": {"properties": {"@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}}}, "mapping": {"properties": {"@path": "$.properties"}, "topLevel": {"@path": "$.properties.nested_a"}}}},
        NESTED,
        {"properties": {"test": "value", "nested_a": "special", "nested_b": 2}, "topLevel": "special"},
    ),
    # @excludeWhenNull
    ("a null value is left out", {"@excludeWhenNull": {"@path": "$.foo.bar"}}, NULLS, OMITTED),
    ("null keys of an object are left out, at every depth", {"@excludeWhenNull": {"@path": "$.foo"}}, NULLS, {"aces": {"a": 1, "b": 2, "d": {}}}),
    ("an empty template is kept", {"@excludeWhenNull": {"@template": "{{foo.bar}}"}}, NULLS, ""),
    ("a null literal is left out", {"@excludeWhenNull": {"@literal": None}}, {}, OMITTED),
    ("a null else is left out", {"@excludeWhenNull": {"@if": {"exists": {"@path": "$.foo.x"}, "then": 1, "else": None}}}, NULLS, OMITTED),
    ("a null @case is left out", {"@excludeWhenNull": {"@case": {"operator": "upper", "value": {"@path": "$.foo.bar"}}}}, NULLS, OMITTED),
    ("a @replace of null is '' and kept", {"@excludeWhenNull": {"@replace": {"pattern": "-", "replacement": "n", "value": {"@path": "$.foo.bar"}}}}, NULLS, ""),
    ("a decoded null is left out", {"@excludeWhenNull": {"@json": {"mode": "decode", "value": {"@path": "$.foo.bar"}}}}, NULLS, OMITTED),
    ("an encoded null is 'null'", {"@excludeWhenNull": {"@json": {"mode": "encode", "value": {"@path": "$.foo.bar"}}}}, NULLS, "null"),
    ("inside a transform's mapping", {"@excludeWhenNull": {"@transform": {"apply": {"p": {"@path": "$.foo.bar"}}, "mapping": {"p": {"@excludeWhenNull": {"@path": "$.p"}}}}}}, NULLS, {}),
    ("inside a transform's apply", {"@transform": {"apply": {"p": {"@excludeWhenNull": {"@path": "$.properties"}}}, "mapping": {"p": {"@path": "$.p"}, "t": {"@path": "$.p.nested_a"}}}}, NULLS, {}),
    # @liquid
    ("plain text", {"@liquid": "test"}, {"properties": {"test": "abc"}}, "test"),
    ("a variable", {"@liquid": "Hello, {{ properties.world }} !"}, {"properties": {"world": "Earth"}}, "Hello, Earth !"),
    ("nested variables", {"@liquid": "Hi {{ properties.p.c.city }}, a {{ traits.f.food }}"}, {"properties": {"p": {"c": {"city": "Bikini Bottom"}}}, "traits": {"f": {"food": "Krabby Patty"}}}, "Hi Bikini Bottom, a Krabby Patty"),
    ("an if tag", {"@liquid": '{% if properties.world == "Earth" %}Hello {{ properties.world }} {% else %} Hello World {% endif %}'}, {"properties": {"world": "Earth"}}, "Hello Earth "),
    ("a filter", {"@liquid": "HELLO {{ properties.world | upcase }}"}, {"properties": {"world": "earth"}}, "HELLO EARTH"),
    ("a tag and a filter", {"@liquid": '{% if properties.world == "earth" %}Hello {{ properties.world | upcase }}{% else %} Hello World {% endif %}'}, {"properties": {"world": "earth"}}, "Hello EARTH"),
    ("undefined renders as nothing", {"@liquid": "[{{ properties.nope }}]"}, {}, "[]"),
    ("an empty template is empty", {"@liquid": ""}, {}, ""),
    ("divided_by divides as JavaScript does", {"@liquid": "{{ 10 | divided_by: 4 }}"}, {}, "2.5"),
    ("a timestamp prints as ISO 8601, as in the JSON Segment renders", {"@liquid": "{{ timestamp | slice: 0, 10 }}|{{ timestamp }}"}, {"timestamp": datetime(2024, 5, 1, 12, 30, tzinfo=UTC)}, "2024-05-01|2024-05-01T12:30:00.000Z"),
    ("assign and capture", {"@liquid": "{% assign n = traits.name | capitalize %}{% capture c %}Hi {{ n }}{% endcapture %}{{ c }}"}, {"traits": {"name": "ada"}}, "Hi Ada"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "directive", "event", "expected"), CONFORMANCE, ids=[row[0] for row in CONFORMANCE]
)
def test_resolves_as_segment(
    case: str, directive: Any, event: dict[str, Any], expected: Any
) -> None:
    value = resolve(directive, event)
    assert value is expected if expected is OMITTED else value == expected


def test_a_root_directive_takes_the_other_fields_as_its_mapping() -> None:
    mapping = {
        "__segment_internal_directive": {
            "@transform": {
                "apply": {
                    "properties": {
                        "@flatten": {"value": {"@path": "$.properties"}, "separator": "_"}
                    }
                }
            }
        },
        "properties": {"@path": "$.properties"},
        "topLevel": {"@path": "$.properties.nested_a"},
    }
    assert compile_mapping(mapping)(NESTED) == {
        "properties": {"test": "value", "nested_a": "special", "nested_b": 2},
        "topLevel": "special",
    }


# Segment's valid schema fixtures, each as the value of one field: saving accepts them.
VALID: list[tuple[str, Any]] = [
    ("@arrayPath with an item shape", {"@arrayPath": ["$.products", {"cash_money": {"@path": "$.price"}, "product_id": {"@path": "$.productId"}}]}),
    ("@arrayPath with a path only", {"@arrayPath": ["$.foo.bar"]}),
    ("@if with directives", {"@if": {"exists": {"@path": "$.foo"}, "then": {"@path": "$.bar"}, "else": {"@path": "$.baz"}}}),
    ("@if with only else", {"@if": {"exists": 1, "else": 3}}),
    ("@if with literals", {"@if": {"exists": 1, "then": 2, "else": 3}}),
    ("@path computed by @path", {"@path": {"@path": "$.foo.bar"}}),
    ("@path", {"@path": "$.foo.bar"}),
    ("@replace ignoring case", {"@replace": {"pattern": "+", "replacement": "-", "value": {"@path": "$.a"}, "ignorecase": True}}),
    ("@replace without a replacement", {"@replace": {"pattern": "+", "value": {"@path": "$.a"}}}),
    ("@replace", {"@replace": {"pattern": "+", "replacement": "-", "value": {"@path": "$.a"}}}),
    ("@template with the editor's _metadata", {"@template": "{{foo.bar}}", "_metadata": {"type": "autocomplete", "label": "X"}}),
    ("@template computed by @path", {"@template": {"@path": "$.my.template"}}),
    ("@template", {"@template": "{{foo.bar}}"}),
    ("a raw array", [1, 2]),
    ("a raw nested object", {"hello": {"world!": True}}),
    ("a raw object", {"cool": True, "string": "right here!"}),
    ("a raw string", "foo"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "value"), VALID, ids=[row[0] for row in VALID])
def test_accepted_when_saved(case: str, value: Any) -> None:
    compile_mapping({"field": value})


# (what Segment's schema fixtures or suite reject, mapping, the start of our error)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("@arrayPath takes an array", {"x": {"@arrayPath": "nope"}}, "mapping.x: @arrayPath takes an array"),
    ("an unknown directive nested in @if", {"x": {"@if": {"exists": True, "then": {"@oops": {}}}}}, "mapping.x.@if.then: unknown directive @oops"),
    ("@path takes a string or a directive", {"x": {"@path": False}}, "mapping.x: @path must be a string"),
    ("@replace needs a pattern", {"x": {"@replace": {"value": {"@path": "$.a"}}}}, "mapping.x: @replace needs 'pattern'"),
    ("@replace needs a value", {"x": {"@replace": {"pattern": "bla"}}}, "mapping.x: @replace needs 'value'"),
    ("@replace 'global' is a boolean", {"x": {"@replace": {"pattern": "+", "value": "a", "global": "bla"}}}, "mapping.x: @replace 'global' must be a boolean"),
    ("@replace 'ignorecase' is a boolean", {"x": {"@replace": {"pattern": "+", "value": "a", "ignorecase": "bla"}}}, "mapping.x: @replace 'ignorecase' must be a boolean"),
    ("@template takes a string or a directive", {"x": {"@template": 123}}, "mapping.x: @template must be a string"),
    ("a directive and a raw key", {"x": {"@path": "$.foo", "bar": "baz"}}, "mapping.x: a directive has no other keys"),
    ("two directives", {"x": {"@path": "$.foo", "@bar": "baz"}}, "mapping.x: a directive has one @-key"),
    ("an unknown directive", {"x": {"@oops": {}}}, "mapping.x: unknown directive @oops"),
    ("@case needs an operator", {"x": {"@case": {"wrongKey": "lower", "value": "a"}}}, "mapping.x: @case has no option 'wrongKey'"),
    ("@case knows lower and upper", {"x": {"@case": {"operator": "snake", "value": "a"}}}, "mapping.x: @case 'operator' is 'lower' or 'upper'"),
    ("@case takes an object", {"x": {"@case": "not an object"}}, "mapping.x: @case takes an object"),
    ("@json knows encode and decode", {"x": {"@json": {"mode": "oops", "value": "a"}}}, "mapping.x: @json 'mode' is 'encode' or 'decode'"),
    ("@merge's objects are an array", {"x": {"@merge": {"direction": "left", "objects": {"oops": True}}}}, "mapping.x: @merge 'objects' must be an array"),
    ("@merge's objects are objects", {"x": {"@merge": {"direction": "right", "objects": [{}, 1]}}}, "mapping.x.@merge.objects[1]: each of @merge's 'objects' must be an object"),
    ("@merge's direction is left or right", {"x": {"@merge": {"direction": "up", "objects": []}}}, "mapping.x: @merge 'direction' is 'left' or 'right'"),
    ("@merge needs a direction", {"x": {"@merge": {"objects": []}}}, "mapping.x: @merge 'direction' is 'left' or 'right'"),
    ("@transform needs apply and mapping", {"x": {"@transform": {"@path": {}}}}, "mapping.x: @transform has no option '@path'"),
    ("@transform's apply is an object", {"x": {"@transform": {"apply": 1, "mapping": {}}}}, "mapping.x.@transform.apply: @transform 'apply' must be an object"),
    ("@flatten needs a separator", {"x": {"@flatten": {"value": "a"}}}, "mapping.x: @flatten needs 'separator'"),
    ("@flatten's separator is text", {"x": {"@flatten": {"value": "a", "separator": ""}}}, "mapping.x: @flatten 'separator' must be a non-empty string"),
    ("@excludeWhenNull's value is checked", {"x": {"@excludeWhenNull": {"@oops": 1}}}, "mapping.x.@excludeWhenNull: unknown directive @oops"),
    ("@liquid takes a string (a number)", {"x": {"@liquid": 123}}, "mapping.x: @liquid should be a string but it is a number"),
    ("@liquid takes a string (an object)", {"x": {"@liquid": {}}}, "mapping.x: @liquid should be a string but it is an object"),
    ("@liquid takes a string (an array)", {"x": {"@liquid": []}}, "mapping.x: @liquid should be a string but it is an array"),
    ("@liquid takes a string (a boolean)", {"x": {"@liquid": True}}, "mapping.x: @liquid should be a string but it is a boolean"),
    ("@liquid templates are limited to 1000 characters", {"x": {"@liquid": "{{ properties.test }}" + "a" * 1001}}, "mapping.x: liquid template values are limited to 1000 characters"),
    *[(f"the liquid tag {tag} is disabled", {"x": {"@liquid": f"{{% {tag} %}} , {{{{ properties.test }}}}"}}, f'mapping.x: @liquid: tag "{tag}" is disabled') for tag in ("case", "for", "include", "layout", "render", "tablerow")],
    *[
        (f"the liquid filter {name} is disabled", {"x": {"@liquid": f"{{{{ properties.test | {name} }}}}"}}, f'mapping.x: @liquid: filter "{name}" is disabled')
        for name in ("array_to_sentence_string", "concat", "find", "find_exp", "find_index", "find_index_exp", "group_by", "group_by_exp", "has", "has_exp", "map", "newline_to_br", "reject", "reject_exp", "reverse", "sort", "sort_natural", "uniq", "where_exp", "type")
    ],
    ("an unknown liquid filter", {"x": {"@liquid": "{{ a | nope }}"}}, 'mapping.x: @liquid: unknown filter "nope"'),
    ("a malformed liquid template", {"x": {"@liquid": "{{ a "}}, "mapping.x: @liquid: "),
    ("a loop hidden in a liquid tag", {"x": {"@liquid": "{% liquid for i in (1..9)\necho i\nendfor %}"}}, "mapping.x: @liquid: unexpected tag 'for'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mapping", "error"), INVALID, ids=[row[0] for row in INVALID])
def test_rejected_when_saved(case: str, mapping: dict[str, Any], error: str) -> None:
    with pytest.raises(MappingError) as caught:
        compile_mapping(mapping)
    assert caught.value.message.startswith(error), caught.value.message


# Templates built to burn memory or CPU: each resolves to nothing, at once.
BOMBS = [
    ("doubling a text", "{%assign a=p.s%}" + "{%assign a=a|append:a%}" * 38 + "{{a|size}}"),
    ("a huge range joined", "{{ (1..100000000) | join: ',' }}"),
    ("a huge range summed", "{{ (1..100000000) | sum }}"),
    ("a replacement multiplying a text", "{{ p.s | replace: 'a', p.s }}"),
    ("a split joined with a long separator", "{{ p.s | split: '' | join: p.s }}"),
    ("squaring a number", "{% assign n = 99999999 %}" + "{% assign n = n | times: n %}" * 30 + "{{ n }}"),
    ("an output repeated", "{% capture c %}{{ p.s }}{% endcapture %}" + "{{ c }}" * 120),
]  # fmt: skip


@pytest.mark.parametrize(("case", "template"), BOMBS, ids=[row[0] for row in BOMBS])
def test_a_liquid_template_cannot_burn_cpu_or_memory(case: str, template: str) -> None:
    event = {"p": {"s": "a" * 5000}}
    started = time.perf_counter()
    value = resolve({"@liquid": template}, event)
    assert time.perf_counter() - started < 2.0
    assert value is OMITTED or (isinstance(value, str) and len(value) <= 100_000)


# Where Segment's behaviour is unsafe or unusable we keep ours: (what Segment does, directive,
# event, what we give).
DEVIATIONS: list[tuple[str, Any, dict[str, Any], Any]] = [
    ("Segment prints an object in a template as [object Object]", {"@template": "{{o}}"}, {"o": {"a": 1}}, '{"a":1}'),
    ("Segment drops an else of false, 0 or ''", {"@if": {"exists": {"@path": "$.x"}, "then": 1, "else": False}}, {}, False),
    ("Segment counts 0 and false as blank", {"@if": {"blank": {"@path": "$.n"}, "then": "set", "else": "blank"}}, {"n": 0}, "set"),
    ("Segment caps @replace patterns at 10 characters", {"@replace": {"pattern": "a long pattern", "value": "a long pattern!"}}, {}, "!"),
    ("Segment reads a string's characters through a path", {"@path": "$.s.length"}, {"s": "abc"}, OMITTED),
    ("Segment spreads a string's characters in @merge", {"@merge": {"direction": "right", "objects": [{"@path": "$.s"}]}}, {"s": "ab"}, {}),
    ("Segment prints an object in liquid as [object Object]", {"@liquid": "{{ o }}"}, {"o": {"a": 1}}, '{"a":1}'),
    ("Segment fails the delivery when a computed path is not text", {"@path": {"@path": "$.n"}}, {"n": 5}, OMITTED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "directive", "event", "ours"), DEVIATIONS, ids=[row[0] for row in DEVIATIONS]
)
def test_documented_deviation(case: str, directive: Any, event: dict[str, Any], ours: Any) -> None:
    assert (resolve(directive, event) is OMITTED) is (ours is OMITTED)
    if ours is not OMITTED:
        assert resolve(directive, event) == ours


def test_the_docs_list_every_directive_with_an_example() -> None:
    from pathlib import Path

    from seamline.destinations.mapping_directives import DIRECTIVES

    docs = (Path(__file__).parents[2] / "docs" / "destinations.md").read_text()
    for name in DIRECTIVES:
        assert f'| `{name}` | `{{"{name}": ' in docs, name


def test_liquid_is_imported_only_when_a_mapping_uses_it() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from seamline.destinations.mapping import compile_mapping\n"
        "compile_mapping({'a': {'@path': '$.a'}})\n"
        "assert 'liquid' not in sys.modules\n"
        "compile_mapping({'a': {'@liquid': '{{ a }}'}})\n"
        "assert 'liquid' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_TEMPLATES = [
    "{{ p.a | plus: p.b | times: 2 | divided_by: p.b | modulo: 3 | round: 1 }}",
    "{{ p.a | split: p.b | join: '-' | upcase | truncate: 3 }}",
    "{{ p.a | date: '%Y' }}{{ p.b | slice: 1, 2 | first }}{{ p.a | size }}",
    "{% if p.a > p.b %}{{ p.a | abs }}{% elsif p.a contains 'x' %}{{ p.b | at_least: 1 }}{% endif %}",
    "{{ p.a | where: 'a', 1 | json }}{{ p | default: 'd' | url_encode | base64_decode }}",
]


@settings(max_examples=100, deadline=None)
@given(
    event=st.fixed_dictionaries({"p": st.dictionaries(st.sampled_from(["a", "b"]), _JSON)}),
    index=st.integers(0, len(_TEMPLATES) - 1),
)
def test_liquid_never_raises_whatever_the_event(event: dict[str, Any], index: int) -> None:
    value = resolve({"@liquid": _TEMPLATES[index]}, event)
    assert value is OMITTED or isinstance(value, str)

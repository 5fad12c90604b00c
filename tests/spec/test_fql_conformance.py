"""FQL triggers decide as Segment's destination-subscriptions does.

Segment parses a trigger into conditions (`is_true`, `number_equals`, `not_contains` ...) and
tests each against the event; its test suites state, per operator, which values match. Each row
below is one of those statements, written as the FQL that produces the condition: a trigger
saved in Segment must select the same events here. Where we differ on purpose, the row is in
`DEVIATIONS` with the reason (also listed in docs/destinations.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from seamline.spec.fql import FQLError, compile_fql


def props(value: Any) -> dict[str, Any]:
    """A track event whose `properties.value` is `value`."""
    return {"type": "track", "properties": {"value": value}}


MISSING: dict[str, Any] = {"type": "track", "properties": {}}
NULL = props(None)

# (what Segment's suite says, query, event, matches)
CONFORMANCE: list[tuple[str, str, dict[str, Any], bool]] = [
    # `= true` / `= false` are is_true / is_false: only the boolean, never the string
    ("= true matches true", "properties.value = true", props(True), True),
    ("= true does not match false", "properties.value = true", props(False), False),
    ("= true does not match the string 'true'", "properties.value = true", props("true"), False),
    ("= false matches false", "properties.value = false", props(False), True),
    ("= false does not match true", "properties.value = false", props(True), False),
    (
        "= false does not match the string 'false'",
        "properties.value = false",
        props("false"),
        False,
    ),
    (
        "= 'true' matches only the string",
        "traits.test = 'true'",
        {"traits": {"test": "true"}},
        True,
    ),
    ("= 'true' does not match true", "traits.test = 'true'", {"traits": {"test": True}}, False),
    # = a string is strict string equality
    ("= 'x' matches 'x'", "properties.value = 'x'", props("x"), True),
    ("= 'x' does not match 'y'", "properties.value = 'x'", props("y"), False),
    ("= '123' matches the string '123'", "properties.value = '123'", props("123"), True),
    ("= '123' does not match the number 123", "properties.value = '123'", props(123), False),
    ("= '123' does not match 0", "properties.value = '123'", props(0), False),
    # = a number is number_equals
    ("= 123 matches 123", "properties.value = 123", props(123), True),
    ("= 123 does not match the string '123'", "properties.value = 123", props("123"), False),
    ("= 123 does not match 0", "properties.value = 123", props(0), False),
    # != a string: anything but that string, missing included
    ("!= 'x' does not match 'x'", "properties.value != 'x'", props("x"), False),
    ("!= 'x' matches 'y'", "properties.value != 'x'", props("y"), True),
    ("!= '123' matches the number 123", "properties.value != '123'", props(123), True),
    ("!= '123' does not match '123'", "properties.value != '123'", props("123"), False),
    ("!= '123' matches 456", "properties.value != '123'", props(456), True),
    ("!= '123' matches '456'", "properties.value != '123'", props("456"), True),
    ("!= 'x' matches a missing value", "properties.value != 'x'", MISSING, True),
    # != a number is number_not_equals: only another number
    ("!= 456 matches 123", "properties.value != 456", props(123), True),
    ("!= 456 matches 0", "properties.value != 456", props(0), True),
    ("!= 456 does not match the string '456'", "properties.value != 456", props("456"), False),
    ("!= 456 does not match 456", "properties.value != 456", props(456), False),
    ("!= 456 does not match a missing value", "properties.value != 456", MISSING, False),
    ("!= 456 does not match null", "properties.value != 456", NULL, False),
    ("!= 456 does not match a boolean", "properties.value != 456", props(True), False),
    (
        "traits.value != 456 is number_not_equals too",
        "traits.value != 456",
        {"traits": {"value": "7"}},
        False,
    ),
    # <, <=, >, >= hold only for numbers; a numeric string literal is read as its number
    ("< 10 matches 5", "properties.value < 10", props(5), True),
    ("< 10 does not match '5'", "properties.value < 10", props("5"), False),
    ("< 10 does not match 10", "properties.value < 10", props(10), False),
    ("< '10' matches 5", "properties.value < '10'", props(5), True),
    ("< '10' does not match '5'", "properties.value < '10'", props("5"), False),
    ("< '10' does not match 10", "properties.value < '10'", props(10), False),
    ("<= '10' matches 10", "properties.value <= '10'", props(10), True),
    ("<= 10 does not match 11", "properties.value <= 10", props(11), False),
    ("<= '10' does not match '10'", "properties.value <= '10'", props("10"), False),
    ("> '10' matches 11", "properties.value > '10'", props(11), True),
    ("> 10 does not match '11'", "properties.value > 10", props("11"), False),
    ("> 10 does not match 10", "properties.value > 10", props(10), False),
    (">= '10' matches 10", "properties.value >= '10'", props(10), True),
    (">= 10 does not match 5", "properties.value >= 10", props(5), False),
    (">= 10 does not match '11'", "properties.value >= 10", props("11"), False),
    ("> 'abc' matches nothing (NaN)", "properties.value > 'abc'", props(11), False),
    # contains / !contains (not_contains needs a string)
    (
        "contains matches a string containing it",
        "contains(properties.value, 'b')",
        props("abc"),
        True,
    ),
    (
        "contains does not match a string without it",
        "contains(properties.value, 'b')",
        props("xyz"),
        False,
    ),
    (
        "!contains does not match a string containing it",
        "!contains(properties.value, 'b')",
        props("abc"),
        False,
    ),
    (
        "!contains matches a string without it",
        "!contains(properties.value, 'b')",
        props("xyz"),
        True,
    ),
    (
        "!contains does not match a missing value",
        "!contains(properties.value, 'b')",
        MISSING,
        False,
    ),
    ("!contains does not match null", "!contains(properties.value, 'b')", NULL, False),
    ("!contains does not match a number", "!contains(properties.value, '5')", props(7), False),
    ("contains works on event", "contains(event, 'Nike')", {"event": "Nike Shoes"}, True),
    ("!contains works on event", "!contains(event, 'Nike')", {"event": "Adidas"}, True),
    ("!contains needs an event name", "!contains(event, 'Nike')", {"type": "identify"}, False),
    (
        "!contains works on traits",
        "!contains(traits.name, 'Nike')",
        {"traits": {"name": "x"}},
        True,
    ),
    (
        "!contains with the text from a field",
        "!contains(event, properties.word)",
        {"event": "Nike", "properties": {"word": "Adi"}},
        True,
    ),
    (
        "!contains with the text from a field, no event",
        "!contains(event, properties.word)",
        {"properties": {"word": "Adi"}},
        False,
    ),
    (
        "!match with the pattern from a field",
        "!match(event, properties.glob)",
        {"event": "Nike", "properties": {"glob": "A*"}},
        True,
    ),
    # match 'X*' is starts_with, match '*X' is ends_with; negated they need a string too
    (
        "match 'x*' matches a string starting with x",
        "match(properties.value, 'x*')",
        props("xabc"),
        True,
    ),
    (
        "match 'x*' does not match other strings",
        "match(properties.value, 'x*')",
        props("abc"),
        False,
    ),
    (
        "!match 'x*' does not match a string starting with x",
        "!match(properties.value, 'x*')",
        props("xabc"),
        False,
    ),
    ("!match 'x*' matches other strings", "!match(properties.value, 'x*')", props("abc"), True),
    (
        "!match 'x*' does not match a missing value",
        "!match(properties.value, 'x*')",
        MISSING,
        False,
    ),
    ("!match 'x*' does not match a number", "!match(properties.value, 'x*')", props(5), False),
    (
        "match '*x' matches a string ending with x",
        "match(properties.value, '*x')",
        props("abcx"),
        True,
    ),
    (
        "match '*x' does not match other strings",
        "match(properties.value, '*x')",
        props("abc"),
        False,
    ),
    (
        "!match '*x' does not match a string ending with x",
        "!match(properties.value, '*x')",
        props("abcx"),
        False,
    ),
    ("!match '*x' matches other strings", "!match(properties.value, '*x')", props("abc"), True),
    ("!match '*x' does not match null", "!match(properties.value, '*x')", NULL, False),
    ("match on event", "match(event, 'X*')", {"event": "X-ray"}, True),
    # != null is exists, = null is not_exists
    ("!= null matches a value", "properties.value != null", props("abcx"), True),
    ("!= null does not match a missing value", "properties.value != null", MISSING, False),
    ("!= null does not match null", "properties.value != null", NULL, False),
    ("= null does not match a value", "properties.value = null", props("abcx"), False),
    ("= null matches a missing value", "properties.value = null", MISSING, True),
    ("= null matches null", "properties.value = null", NULL, True),
    ("userId != null matches a user", "userId != null", {"userId": "u1"}, True),
    ("name != null matches a page name", "name != null", {"name": "Home"}, True),
    ("name = null matches no page name", "name = null", {"type": "page"}, True),
    # type, event, name, userId compare as text, with a number literal too
    ("type = 'track' matches track", "type = 'track'", {"type": "track"}, True),
    ("type = 'track' does not match identify", "type = 'track'", {"type": "identify"}, False),
    ("type != 'group' matches track", "type != 'group'", {"type": "track"}, True),
    ("type != 'group' does not match group", "type != 'group'", {"type": "group"}, False),
    ("event = 'Page Viewed' matches it", "event = 'Page Viewed'", {"event": "Page Viewed"}, True),
    (
        "event = 'Page Viewed' does not match another",
        "event = 'Page Viewed'",
        {"event": "Product Added"},
        False,
    ),
    ("userId = 123 matches the user '123'", "userId = 123", {"userId": "123"}, True),
    ("event = 1.50 matches the event '1.5'", "event = 1.50", {"event": "1.5"}, True),
    ("userId != 123 matches the user '7'", "userId != 123", {"userId": "7"}, True),
    ("userId != 123 does not match the user '123'", "userId != 123", {"userId": "123"}, False),
    (
        "context.ip = '1.1.1.1' reads context",
        "context.ip = '1.1.1.1'",
        {"context": {"ip": "1.1.1.1"}},
        True,
    ),
    (
        "properties.foo.bar reads nested properties",
        "properties.foo.bar = 'baz'",
        {"properties": {"foo": {"bar": "baz"}}},
        True,
    ),
    (
        "escaped names read keys with spaces",
        "properties.property\\ 1 = 'Catalog'",
        {"properties": {"property 1": "Catalog"}},
        True,
    ),
    # groups: or, and, and parenthesised groups
    ("or: either type", "type = 'track' or type = 'identify'", {"type": "identify"}, True),
    ("or: neither type", "type = 'track' or type = 'identify'", {"type": "group"}, False),
    (
        "and: needs both",
        "event = 'Page Viewed' and type = 'track'",
        {"event": "Page Viewed"},
        False,
    ),
    (
        "and: both",
        "event = 'Page Viewed' and type = 'track'",
        {"event": "Page Viewed", "type": "track"},
        True,
    ),
    (
        "and with a missing property",
        "event = 'Page Viewed' and properties.name = 'Catalog'",
        {"event": "Page Viewed"},
        False,
    ),
    (
        "a parenthesised or inside and",
        "type = 'track' and (event = 'Page Viewed' or event = 'Order Completed')",
        {"type": "track", "event": "Order Completed"},
        True,
    ),
    (
        "an or of two and groups",
        "(event = 'Product Added' and properties.price >= 100) or (event = 'Order Completed' and properties.total >= 500)",
        {"event": "Order Completed", "properties": {"total": 500}},
        True,
    ),
    (
        "the context side of a mixed group",
        "event = 'Page Viewed' and (context.ip = '1.1.1.1' or properties.ip = '2.2.2.2')",
        {"event": "Page Viewed", "context": {"ip": "2.2.2.2"}},
        False,
    ),
    ("an empty event matches no property condition", "properties.value = 'x'", {}, False),
]


@pytest.mark.parametrize(
    ("case", "query", "event", "matches"), CONFORMANCE, ids=[row[0] for row in CONFORMANCE]
)
def test_trigger_selects_as_segment(
    case: str, query: str, event: dict[str, Any], matches: bool
) -> None:
    assert compile_fql(query)(event) is matches


# Where Segment's trigger parser gives a result nobody could want, we keep FQL's meaning.
# (what Segment does, query, event, what we do)
DEVIATIONS: list[tuple[str, str, dict[str, Any], bool]] = [
    (
        "Segment: `!= true` compares with the text 'true', so true matches",
        "properties.value != true",
        props(True),
        False,
    ),
    (
        "Segment: `event != null` compares with the text 'null'",
        "event != null",
        {"type": "identify"},
        False,
    ),
    (
        "Segment: one operator for a whole unparenthesised group (the last one)",
        "type = 'track' and event = 'A' or event = 'B'",
        {"type": "track", "event": "C"},
        False,
    ),
    (
        "Segment: `!` before anything but a function is ignored",
        "!(type = 'track')",
        {"type": "track"},
        False,
    ),
    (
        "Segment: match() only knows 'x*' and '*x'",
        "match(event, 'Order * Done')",
        {"event": "Order 1 Done"},
        True,
    ),
]


@pytest.mark.parametrize(
    ("case", "query", "event", "ours"), DEVIATIONS, ids=[row[0] for row in DEVIATIONS]
)
def test_documented_deviation(case: str, query: str, event: dict[str, Any], ours: bool) -> None:
    assert compile_fql(query)(event) is ours


# Segment keeps a query it cannot parse and matches nothing with it; saving one here fails.
@pytest.mark.parametrize("query", ["typo(", "type * '32456'", "", "type = "])
def test_queries_segment_cannot_parse_are_rejected_when_saved(query: str) -> None:
    with pytest.raises(FQLError):
        compile_fql(query)

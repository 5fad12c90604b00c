"""FQL: what each query says about each event, what bad queries report, and that evaluation is safe."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seamline.errors import InvalidInput
from seamline.spec.fql import FQLError, compile_fql, parse_fql
from seamline.spec.fql_parse import (
    FUNCTIONS,
    And,
    Call,
    Compare,
    Literal,
    Not,
    Or,
    Path,
    glob_regex,
)

# The event of Segment's FQL reference, whose examples open the scenario table.
DOCS: dict[str, Any] = {
    "event": "Button Clicked",
    "type": "track",
    "context": {"library": {"name": "analytics.js", "version": "1.0"}},
    "properties": {"features": ["discounts", "dark-mode"]},
}
TRACK: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "properties": {
        "total": 99.5,
        "count": 3,
        "zero": 0,
        "coupon": None,
        "currency": "EUR",
        "enabled": True,
        "label": "Big Sale",
        "name": "アイ",
        "features": ["discounts", "dark-mode"],
        "products": [{"id": "p1"}],
        "product 1": {"price": "19.99"},
        "dark-mode": True,
        "pattern": "Order *",
        "badPattern": "Order [",
    },
    "context": {"page": {"path": "/blog/post"}},
}
IDENTIFY: dict[str, Any] = {
    "type": "identify",
    "userId": None,
    "traits": {"email": "Ada@Example.com"},
}
# Every field has a shape a filter author would not expect.
ODD: dict[str, Any] = {"type": 5, "event": ["x"], "properties": "not an object", "context": None}
NONE: dict[str, Any] = {}

SCENARIOS: list[tuple[str, dict[str, Any], bool]] = [
    # Segment's documented examples
    ("event = 'Button Clicked'", DOCS, True),
    ("event = 'Screen Tapped'", DOCS, False),
    ("context.path.path = '/login'", DOCS, False),
    ("type = 'identify' or type = 'track'", DOCS, True),
    ("event = 'Button Clicked' and type = 'track'", DOCS, True),
    ("match( context.library.version, '1.*' )", DOCS, True),
    ("match( context.library.version, '2.*' )", DOCS, False),
    ("type = 'track' and ( event = 'Click' or match( event, 'Button *' ) )", DOCS, True),
    ("!contains( context.library.name, 'js' )", DOCS, False),
    ("'dark-mode' in properties.features", DOCS, True),
    ("'blink' in properties.features", DOCS, False),
    ("!( type in ['track', 'identify'] )", DOCS, False),
    # = and != are strict: same JSON type and value
    ('type = "track" and event = "Order Completed"', TRACK, True),
    ('"track" = type', TRACK, True),
    ("properties.total = 99.5", TRACK, True),
    ("properties.count = 3.0", TRACK, True),
    ("properties.count = '3'", TRACK, False),
    ("properties.enabled = true", TRACK, True),
    ("properties.enabled = 1", TRACK, False),
    ("properties.zero = false", TRACK, False),
    ("properties.count != '3'", TRACK, True),
    ("properties.currency != 'USD'", TRACK, True),
    ("properties.features = ['discounts', 'dark-mode']", TRACK, True),
    ("properties.features = ['dark-mode', 'discounts']", TRACK, False),
    ("properties.total = properties.total", TRACK, True),
    ("properties.count = properties.total", TRACK, False),
    # a missing field is null; `!= null` is the existence check
    ("properties.coupon = null", TRACK, True),
    ("properties.missing = null", TRACK, True),
    ("properties.missing != null", TRACK, False),
    ("properties.currency != null", TRACK, True),
    ("userId != null", IDENTIFY, False),
    ("properties.label.deeper = null", TRACK, True),
    # <, <=, >, >= only hold between numbers
    ("properties.total > 99", TRACK, True),
    ("properties.total >= 99.5", TRACK, True),
    ("properties.total < 99.5", TRACK, False),
    ("properties.total <= 100", TRACK, True),
    ("properties.count > -1", TRACK, True),
    ("100 > properties.total", TRACK, True),
    ("properties.total > properties.count", TRACK, True),
    ("properties.currency > 'A'", TRACK, False),
    ("properties.label > 1", TRACK, False),
    ("properties.enabled > 0", TRACK, False),
    ("properties.missing < 1", TRACK, False),
    # in: membership of a list, with the same strict equality
    ("type in ['track', 'page']", TRACK, True),
    ("type in ['page', 'screen']", TRACK, False),
    ("properties.count in [1, 2, 3]", TRACK, True),
    ("properties.count in ['3']", TRACK, False),
    ("properties.enabled in [1]", TRACK, False),
    ("properties.missing in [null, 'x']", TRACK, True),
    ("'E' in properties.currency", TRACK, False),
    ("'discounts' in properties.missing", TRACK, False),
    # and, or, not: precedence not > and > or, parentheses, anything but true is false
    ("type = 'track' or type = 'page' and event = 'nope'", TRACK, True),
    ("(type = 'track' or type = 'page') and event = 'nope'", TRACK, False),
    ("not type = 'page' and event = 'Order Completed'", TRACK, True),
    ("not (type = 'track' and event = 'nope')", TRACK, True),
    (
        "type = 'track' and event = 'Order Completed' and properties.total > 50 and properties.currency = 'EUR'",
        TRACK,
        True,
    ),
    ("event = 'a' or event = 'b' or event = 'Order Completed'", TRACK, True),
    ("properties.enabled", TRACK, True),
    ("properties.label", TRACK, False),
    ("!properties.missing", TRACK, True),
    ("!!properties.enabled", TRACK, True),
    ("not not properties.enabled", TRACK, True),
    ("properties.missing or type = 'track'", TRACK, True),
    ("properties.missing and true", TRACK, False),
    ("true", NONE, True),
    ("false", NONE, False),
    ("(properties.total > 50) = true", TRACK, True),
    # paths: backslash escapes, '-' in names, list indexes
    ("properties.product\\ 1.price = '19.99'", TRACK, True),
    ("properties.dark-mode", TRACK, True),
    ("properties.products.0.id = 'p1'", TRACK, True),
    ("properties.products.1.id = null", TRACK, True),
    ("traits.email = 'Ada@Example.com'", IDENTIFY, True),
    # contains()
    ("contains(event, 'Completed')", TRACK, True),
    ("contains(event, 'completed')", TRACK, False),
    ("contains(event, properties.currency)", TRACK, False),
    ("contains(properties.missing, 'x')", TRACK, False),
    ("contains(properties.count, '3')", TRACK, False),
    # match(): Segment's glob table, then fields
    ("match('abcd', 'a*d')", NONE, True),
    ("match('', '*')", NONE, True),
    ("match('abc', 'ab')", NONE, False),
    ("match('abcd', 'a??d')", NONE, True),
    ("match('abcd', '*d')", NONE, True),
    ("match('ab*d', 'ab\\*d')", NONE, True),
    ("match('abxd', 'ab\\*d')", NONE, False),
    ("match('abCd', 'ab[cC]d')", NONE, True),
    ("match('abcd', 'ab[a-z]d')", NONE, True),
    ("match('abcd', 'ab[A-Z]d')", NONE, False),
    ("match('abcd', 'ab[^a-z]d')", NONE, False),
    ("match(event, 'order*')", TRACK, False),
    ("match(context.page.path, '/blog/*')", TRACK, True),
    ("match(event, properties.pattern)", TRACK, True),
    ("match(event, properties.badPattern)", TRACK, False),
    ("match(properties.missing, '*')", TRACK, False),
    # string functions; null (and non-strings) give null
    ("lowercase(event) = 'order completed'", TRACK, True),
    ("lowercase(properties.missing) = null", TRACK, True),
    ("lowercase(properties.count) = null", TRACK, True),
    ("uppercase(properties.currency) = 'EUR'", TRACK, True),
    ("snakecase(event) = 'Order_Completed'", TRACK, True),
    ("kebabcase(event) = 'Order-Completed'", TRACK, True),
    ("titlecase('big sale today') = 'Big Sale Today'", NONE, True),
    # length() counts UTF-8 bytes of strings and elements of lists; length(null) is 0
    ("length(event) = 15", TRACK, True),
    ("length(properties.name) = 6", TRACK, True),
    ("length(properties.features) = 2", TRACK, True),
    ("length(properties.missing) = 0", TRACK, True),
    ("length(properties.count) = null", TRACK, True),
    ("length(userId) > 0", IDENTIFY, False),
    # typeof()
    ("typeof(properties.total) = 'number'", TRACK, True),
    ("typeof(properties.features) = 'list'", TRACK, True),
    ("typeof(properties.enabled) = 'bool'", TRACK, True),
    ("typeof(properties.missing) = 'null'", TRACK, True),
    ("typeof(event) = 'string'", TRACK, True),
    ("typeof(properties) = 'object'", TRACK, True),
    # conversions
    ("bool(properties.count)", TRACK, True),
    ("bool(properties.zero)", TRACK, False),
    ("bool('true')", NONE, True),
    ("bool('no')", NONE, False),
    ("bool(properties.missing)", TRACK, False),
    ("string(properties.count) = '3'", TRACK, True),
    ("string(properties.enabled) = 'true'", TRACK, True),
    ('string(properties.features) = \'["discounts","dark-mode"]\'', TRACK, True),
    ("number(properties.product\\ 1.price) = 19.99", TRACK, True),
    ("number('abc') = null", NONE, True),
    ("number(properties.count) = 3", TRACK, True),
    # odd shapes never raise, they just do not match
    ("type = 'track'", ODD, False),
    ("type > 1", ODD, True),
    ("properties.total > 1", ODD, False),
    ("context.library.name = null", ODD, True),
    ("match(event, '*')", ODD, False),
    ("length(event) = 1", ODD, True),
    ("contains(properties, 'not')", ODD, True),
]


@pytest.mark.parametrize(("query", "event", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(query: str, event: dict[str, Any], expected: bool) -> None:
    assert compile_fql(query)(event) is expected


BAD_QUERIES: list[tuple[str, int, str]] = [
    ("", 0, "empty query, expected a condition at column 1"),
    ("   ", 0, "empty query"),
    ("type = ", 7, "expected a value after '=' at column 8, got the end of the query"),
    ("type = = 'a'", 7, "expected a value after '=' at column 8, got '='"),
    ("type == 'a'", 5, "expected '=' (FQL compares with a single '=') at column 6, got '=='"),
    ("type = 'track", 7, "unterminated string at column 8"),
    ('userId = oops"', 13, "unterminated string at column 14"),
    ("type $ 'a'", 5, "unexpected character '$' at column 6"),
    ("foo(event)", 0, "unknown function 'foo' (known: bool, contains,"),
    ("a.b(1)", 0, "unknown function 'a.b'"),
    ("match(event)", 0, "match() takes 2 arguments at column 1, got 1"),
    ("length(event, 'x') > 1", 0, "length() takes 1 argument at column 1, got 2"),
    (
        "type = 'a' 'b'",
        11,
        "expected 'and', 'or' or the end of the query at column 12, got the string 'b'",
    ),
    ("type = 'a' AND event = 'b'", 11, "got the field AND (keywords are lowercase)"),
    ("(type = 'a'", 11, "expected ')' to close '(' from column 1 at column 12"),
    ("and type = 'a'", 0, "expected a condition at column 1, got 'and'"),
    ("type = 'a' and", 14, "expected a condition at column 15, got the end of the query"),
    ("!", 1, "expected a condition after '!' at column 2"),
    ("properties. = 1", 11, "expected a field name after '.' at column 12"),
    ("properties.\\", 12, "expected a character after '\\'"),
    ("properties.x = 5.", 15, "invalid number at column 16"),
    ("properties.x = 1abc", 15, "invalid number"),
    (
        "length(event)",
        0,
        "expected a condition (a comparison, a true/false field or a bool function) at column 1, got length(), which returns a number",
    ),
    ("'abc'", 0, "got a string"),
    ("type in ['a', 'b'", 17, "expected ',' or ']' in a list at column 18"),
    ("contains(event 'x')", 15, "expected ',' or ')' in contains() at column 16"),
    (
        "match(event, 'a[b')",
        13,
        "invalid match() pattern: the '[' at offset 1 is not closed at column 14",
    ),
    ("match(event, 'a\\\\')", 13, "invalid match() pattern: it ends with a lone '\\'"),
    ("match(event, '[z-a]')", 13, "the range 'z-a' is reversed"),
    ("match(event, 'a[]')", 13, "'[]' matches nothing"),
]


@pytest.mark.parametrize(
    ("query", "position", "message"), BAD_QUERIES, ids=[b[0] or "<empty>" for b in BAD_QUERIES]
)
def test_bad_query(query: str, position: int, message: str) -> None:
    with pytest.raises(FQLError) as caught:
        compile_fql(query)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert caught.value.details == {"position": position, "query": query}


def test_error_is_an_invalid_input_with_a_stable_code() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_fql("type = ")
    assert caught.value.to_json() == {
        "code": "invalid_fql",
        "message": "expected a value after '=' at column 8, got the end of the query",
        "details": {"position": 7, "query": "type = "},
    }


def test_parse_builds_the_tree_with_precedence_not_and_or() -> None:
    a, b, c = Path(("a",)), Path(("b",)), Path(("c",))
    assert parse_fql("a or b and not c") == Or((a, And((b, Not(c)))))
    assert parse_fql("(a or b) and !c") == And((Or((a, b)), Not(c)))
    assert parse_fql("not a = 1") == Not(Compare("=", a, Literal(1)))


def test_parse_reads_literals_and_escaped_paths() -> None:
    assert parse_fql("properties.product\\ 1.price") == Path(("properties", "product 1", "price"))
    assert parse_fql("\\and") == Path(("and",))
    assert parse_fql("x = 'it\\'s'") == Compare("=", Path(("x",)), Literal("it's"))
    assert parse_fql('x = "tab\\there"') == Compare("=", Path(("x",)), Literal("tab\there"))
    assert parse_fql("x = 'a\\*'") == Compare("=", Path(("x",)), Literal("a\\*"))
    assert parse_fql("x = -1.5e2") == Compare("=", Path(("x",)), Literal(-150.0))
    assert parse_fql("x = +7").right == Literal(7)  # type: ignore[union-attr]


def test_positions_point_at_the_first_character() -> None:
    node = parse_fql("  a = 1 and b")
    assert isinstance(node, And)
    assert [node.pos, node.terms[0].pos, node.terms[1].pos] == [2, 2, 12]


def test_every_declared_function_is_implemented() -> None:
    from seamline.spec import fql

    assert set(fql.IMPLS) == set(FUNCTIONS)


def test_compiled_predicates_are_cached_by_text() -> None:
    assert compile_fql("type = 'cached'") is compile_fql("type = 'cached'")


@pytest.mark.parametrize("event", [None, [], "track", 5, {"type": {"nested": ["track"]}}])
def test_never_raises_for_events_that_are_not_objects(event: Any) -> None:
    predicate = compile_fql("type = 'track' or properties.x.y != null or match(event, '*')")
    assert predicate(event) is False


def test_never_raises_on_absurd_nesting_or_indexes() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    event = {"properties": {"a": deep, "b": deep, "list": ["x"]}}
    assert compile_fql("properties.a = properties.b")(event) is False
    assert compile_fql("properties.a != properties.b")(event) is True
    assert compile_fql(f"properties.list.{'9' * 5000} = null")(event) is True


@pytest.mark.timeout(10)
def test_match_stays_linear_on_adversarial_strings() -> None:
    # A naive glob-to-regex translation backtracks for hours on this.
    predicate = compile_fql("match(properties.text, '*a*a*a*a*a*a*b')")
    assert predicate({"properties": {"text": "a" * 30_000}}) is False


# --- properties

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5)
    | st.sampled_from(["", "a", "A b", "track"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_EVENTS = st.dictionaries(
    st.sampled_from(["type", "event", "properties", "context"]), _JSON, max_size=4
)
_VALUES = st.sampled_from(
    [
        "type",
        "event",
        "properties.a",
        "properties.a.b",
        "properties.b.0",
        "'a'",
        '"track"',
        "1",
        "-2.5",
        "0",
        "true",
        "null",
        "['a', 1]",
        "[]",
    ]
)
_OPERANDS = st.one_of(
    _VALUES,
    st.builds(
        "{}({})".format,
        st.sampled_from(sorted(n for n, (arity, _) in FUNCTIONS.items() if arity == 1)),
        _VALUES,
    ),
    st.builds("{}({}, {})".format, st.sampled_from(["contains", "match"]), _VALUES, _VALUES),
)
_COMPARISONS = st.builds(
    "{} {} {}".format,
    _OPERANDS,
    st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in"]),
    _OPERANDS,
)
_QUERIES = st.recursive(
    _COMPARISONS | _OPERANDS,
    lambda inner: (
        st.builds("not ({})".format, inner)
        | st.builds("({}) and ({})".format, inner, inner)
        | st.builds("({}) or ({})".format, inner, inner)
    ),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(query=_QUERIES, event=_EVENTS)
def test_not_is_the_exact_negation_and_evaluation_never_raises(
    query: str, event: dict[str, Any]
) -> None:
    try:
        predicate = compile_fql(query)
    except FQLError:
        return  # e.g. a bare number as a condition: rejected up front, which is the point
    result = predicate(event)
    assert type(result) is bool
    negated = compile_fql(f"not ({query})")(event)
    node = parse_fql(query)
    if isinstance(node, Call) and node.name in ("contains", "match"):
        # `!contains()` and `!match()` also need a string (Segment's not_contains ...)
        assert not (negated and result)
    else:
        assert negated is (not result)


@settings(max_examples=300, deadline=None)
@given(pattern=st.text("ab*?", max_size=6), text=st.text("ab", max_size=8))
def test_glob_agrees_with_fnmatch(pattern: str, text: str) -> None:
    ours = re.fullmatch(glob_regex(pattern), text, re.DOTALL) is not None
    assert ours is fnmatch.fnmatchcase(text, pattern)

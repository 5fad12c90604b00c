"""FQL, Segment's Filter Query Language: compile a query once into a fast predicate over events.

Segment uses FQL for destination filters and Actions subscription triggers, for example
`type = 'track' and match(event, 'Order *')`. `compile_fql` parses the query (`fql_parse`) and
turns the tree into nested closures, specialised for the common shapes (a field compared with a
literal), so testing an event costs a few dict lookups and no tree walking.

Semantics follow Segment's FQL reference and, for Actions triggers, its destination-subscriptions
package: a missing field is `null`; `=` holds only for the same JSON type and value (`1 = '1'` and
`1 = true` are false); `!=` a number holds only for another number; `<`, `<=`, `>`, `>=` hold
only between numbers (a numeric string literal is read as its number); `!contains()` and
`!match()` hold only for a string that does not contain or match; `type`, `event`, `name` and
`userId` compared with a number compare with its text; `and`, `or` and `!` treat anything but
`true` as false; functions give `null` the documented defaults. Events are plain JSON-like dicts
with the Spec's camelCase names, and a predicate never raises: a comparison that makes no sense
is simply false.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from seamline.spec.fql_functions import (
    IMPLS,
    LIST_TYPES,
    NUMBER_TYPES,
    cached_glob,
    is_number,
    js_number,
    js_text,
    kind_of,
)
from seamline.spec.fql_parse import (
    FUNCTIONS,
    And,
    Call,
    Compare,
    FQLError,
    ListLiteral,
    Literal,
    Node,
    Not,
    Or,
    Path,
    parse_fql,
)

__all__ = ["FQLError", "Node", "Predicate", "compile_fql", "parse_fql"]

Predicate = Callable[[Mapping[str, Any]], bool]
Getter = Callable[[Mapping[str, Any]], Any]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
# Top-level fields that Segment's triggers always compare as text: `event = 123` is `event = '123'`.
_TEXT_FIELDS = frozenset({("type",), ("event",), ("name",), ("userId",)})


@functools.lru_cache(maxsize=1024)
def compile_fql(text: str) -> Predicate:
    """Compile an FQL query into a predicate over Segment messages; raise FQLError if invalid.

    Compiled predicates are cached by query text; calling one never raises.
    """
    return _Compiler(text).condition(parse_fql(text))


# --- values


def _same(a: Any, b: Any) -> bool:
    """FQL `=`: the same kind and strictly equal, element by element for lists and objects."""
    kind = kind_of(a)
    if kind != kind_of(b):
        return False
    try:
        if kind == "list":
            return len(a) == len(b) and all(map(_same, a, b))
        if kind == "object":
            return bool(a.keys() == b.keys()) and all(_same(a[k], b[k]) for k in a)
    except RecursionError:  # absurdly deep nesting: unequal rather than an exception
        return False
    return a is b if kind == "unknown" else bool(a == b)


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    """Follow `keys` through objects (and lists, by index); anything missing is None."""
    for key in keys:
        if type(value) is dict or isinstance(value, Mapping):  # the ABC check is slow: try dict
            value = value.get(key)
        elif type(value) in LIST_TYPES and key.isascii() and key.isdigit() and len(key) < 19:
            index = int(key)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def _getter(keys: tuple[str, ...]) -> Getter:
    # Unrolled for the one- and two-step paths most filters use (`event`, `properties.total`):
    # 2-2.5x faster than `_walk`, measured.
    if len(keys) == 1:
        (key,) = keys

        def get1(event: Mapping[str, Any]) -> Any:
            return event.get(key) if type(event) is dict else _walk(event, keys)

        return get1
    if len(keys) == 2:
        first, second = keys

        def get2(event: Mapping[str, Any]) -> Any:
            if type(event) is dict:
                value = event.get(first)
                if type(value) is dict:
                    return value.get(second)
                if value is None:
                    return None
            return _walk(event, keys)

        return get2

    def get(event: Mapping[str, Any]) -> Any:
        value: Any = event
        for key in keys:
            if type(value) is not dict:
                return None if value is None else _walk(event, keys)
            value = value.get(key)
        return value

    return get


def _const(value: Any) -> Getter:
    def constant(event: Mapping[str, Any]) -> Any:
        return value

    return constant


_always: Predicate = _const(True)
_never: Predicate = _const(False)


# --- compiling the tree into closures


class _Compiler:
    def __init__(self, query: str) -> None:
        self.query = query

    def condition(self, node: Node) -> Predicate:
        """A predicate that is True only where the node is `true`."""
        match node:
            case And(terms=terms):
                return _join([self.condition(t) for t in terms], every=True)
            case Or(terms=terms):
                return _join([self.condition(t) for t in terms], every=False)
            case Not(operand=Call(name="contains" | "match") as call):
                return self.string_not(call)
            case Not(operand=operand):
                inner = self.condition(operand)

                def negated(event: Mapping[str, Any]) -> bool:
                    return not inner(event)

                return negated
            case Compare():
                return self.compare(node)
            case Literal(value=bool() as constant):
                return _always if constant else _never
            case Path(keys=keys):
                get = _getter(keys)

                def is_true(event: Mapping[str, Any]) -> bool:
                    return get(event) is True

                return is_true
            case Call(name=name) if FUNCTIONS[name][1] == "bool":
                return self.call(node)  # bool functions always return a real bool
        raise FQLError("expected a condition", node.pos, self.query)

    def value(self, node: Node) -> Getter:
        match node:
            case Literal(value=constant):
                return _const(constant)
            case Path(keys=keys):
                return _getter(keys)
            case ListLiteral(items=items):
                constants = [item.value for item in items if isinstance(item, Literal)]
                if len(constants) == len(items):
                    return _const(constants)
                getters = [self.value(item) for item in items]
                return lambda event: [get(event) for get in getters]
            case Call():
                return self.call(node)
        return self.condition(node)  # a parenthesised condition used as a value is a bool

    def string_not(self, call: Call) -> Predicate:
        """`!contains(x, s)` and `!match(x, p)`: as Segment's `not_contains`, `not_starts_with` and
        `not_ends_with`, only a string that does not contain or match; missing or other values
        do not."""
        first = self.value(call.args[0])
        pattern = call.args[1]
        if isinstance(pattern, Literal) and type(pattern.value) is str:
            literal = pattern.value
            if call.name == "contains":

                def lacks_literal(event: Mapping[str, Any]) -> bool:
                    value = first(event)
                    return type(value) is str and literal not in value

                return lacks_literal
            matches = cached_glob(literal).fullmatch  # the parser has checked the pattern

            def misses_literal(event: Mapping[str, Any]) -> bool:
                value = first(event)
                return type(value) is str and matches(value) is None

            return misses_literal
        second = self.value(pattern)
        impl = IMPLS[call.name]

        def string_not(event: Mapping[str, Any]) -> bool:
            value = first(event)
            return type(value) is str and not impl(value, second(event))

        return string_not

    def compare(self, node: Compare) -> Predicate:
        op, left, right = node.op, node.left, node.right
        if op == "in":
            return self.member(left, right)
        if isinstance(left, Literal) and not isinstance(right, Literal):
            left, right, op = right, left, _FLIPPED[op]
        get = self.value(left)
        if isinstance(right, Literal):
            value = right.value
            if op in ("=", "!="):
                if isinstance(left, Path) and left.keys in _TEXT_FIELDS and is_number(value):
                    value = js_text(value)  # type: ignore[arg-type]
                return _equals_literal(get, value, negate=op == "!=")
            if type(value) is str:  # Segment reads `x < '10'` as `x < 10`
                value = js_number(value)
            return _order_literal(get, _ORDER[op], value)
        other = self.value(right)
        if op in ("=", "!="):
            want = op == "="

            def equal(event: Mapping[str, Any]) -> bool:
                return _same(get(event), other(event)) is want

            return equal
        cmp = _ORDER[op]

        def ordered(event: Mapping[str, Any]) -> bool:
            a, b = get(event), other(event)
            return type(a) in NUMBER_TYPES and type(b) in NUMBER_TYPES and cmp(a, b)

        return ordered

    def member(self, left: Node, right: Node) -> Predicate:
        get = self.value(left)
        if isinstance(right, ListLiteral) and all(
            isinstance(item, Literal) and type(item.value) is str for item in right.items
        ):
            # `type in ['track', 'page']`: one set lookup instead of a loop of comparisons.
            names = frozenset(item.value for item in right.items if isinstance(item, Literal))

            def in_names(event: Mapping[str, Any]) -> bool:
                value = get(event)
                return type(value) is str and value in names

            return in_names
        get_list = self.value(right)

        def in_list(event: Mapping[str, Any]) -> bool:
            items = get_list(event)
            if type(items) not in LIST_TYPES:
                return False
            value = get(event)
            return any(_same(value, item) for item in items)

        return in_list

    def call(self, node: Call) -> Getter:
        name, args = node.name, node.args
        first = self.value(args[0])
        pattern = args[1] if len(args) == 2 and isinstance(args[1], Literal) else None
        if pattern is not None and type(pattern.value) is str and name in ("match", "contains"):
            literal = pattern.value
            if name == "contains":

                def contains_literal(event: Mapping[str, Any]) -> bool:
                    value = first(event)
                    return type(value) is str and literal in value

                return contains_literal
            matches = cached_glob(literal).fullmatch  # the parser has checked the pattern

            def match_literal(event: Mapping[str, Any]) -> bool:
                value = first(event)
                return type(value) is str and matches(value) is not None

            return match_literal
        impl = IMPLS[name]
        if len(args) == 1:
            return lambda event: impl(first(event))
        second = self.value(args[1])
        return lambda event: impl(first(event), second(event))


def _join(predicates: list[Predicate], *, every: bool) -> Predicate:
    if len(predicates) == 2:  # the usual shape; a generator here doubles the cost of `a and b`
        a, b = predicates

        def both(event: Mapping[str, Any]) -> bool:
            return a(event) and b(event)

        def either(event: Mapping[str, Any]) -> bool:
            return a(event) or b(event)

        return both if every else either
    terms = tuple(predicates)
    if every:
        return lambda event: all(p(event) for p in terms)
    return lambda event: any(p(event) for p in terms)


def _equals_literal(get: Getter, literal: Any, *, negate: bool) -> Predicate:
    if literal is None or type(literal) is bool:  # null, true, false are singletons

        def same_object(event: Mapping[str, Any]) -> bool:
            return (get(event) is literal) is not negate

        return same_object
    if type(literal) is str:  # `==` is already type-strict between str and anything else

        def equals_string(event: Mapping[str, Any]) -> bool:
            value: object = get(event)
            return value == literal

        def differs_from_string(event: Mapping[str, Any]) -> bool:
            value: object = get(event)
            return value != literal

        return differs_from_string if negate else equals_string

    def same_number(event: Mapping[str, Any]) -> bool:
        value = get(event)
        return type(value) in NUMBER_TYPES and value == literal

    # As Segment's `number_not_equals`: only another number differs (not "456", not a missing
    # field), so `!=` a number is not the negation of `=` it.
    def other_number(event: Mapping[str, Any]) -> bool:
        value = get(event)
        return type(value) in NUMBER_TYPES and value != literal

    return other_number if negate else same_number


def _order_literal(get: Getter, cmp: Callable[[Any, Any], bool], literal: Any) -> Predicate:
    if type(literal) not in NUMBER_TYPES:
        return _never  # ordering only holds between numbers

    def ordered(event: Mapping[str, Any]) -> bool:
        value = get(event)
        return type(value) in NUMBER_TYPES and cmp(value, literal)

    return ordered

"""`@liquid`: a Liquid template rendered against the event, as Segment's mapping kit does.

Segment renders with liquidjs, limited to templates of 1,000 characters and without the tags
`case`, `for`, `include`, `layout`, `render`, `tablerow` and the filters in `DISABLED_FILTERS`;
an undefined value renders as nothing. We render with python-liquid (imported when a mapping
uses `@liquid`) under the same rules, plus bounds of our own so that no template can burn CPU
or memory: there are no loops, every filter's input and result is limited to `MAX_TEXT`
characters or `MAX_ITEMS` items (checked before `replace` and `join`, which could multiply
sizes), integers beyond 2^53 become floats as JavaScript numbers are, and the output and the
template's variables are capped. A template that breaks a bound at render time resolves to
nothing (Segment fails the delivery); a malformed one is rejected when the mapping is saved.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from seamline.destinations.mapping_values import (
    MISSING,
    Compile,
    MappingError,
    Resolver,
    describe,
    iso,
    json_text,
    number_text,
)

if TYPE_CHECKING:
    from liquid import Environment

__all__ = ["DISABLED_FILTERS", "DISABLED_TAGS", "MAX_TEMPLATE", "liquid"]

MAX_TEMPLATE: Final = 1000  # characters, Segment's limit
MAX_TEXT: Final = 100_000  # characters of any filter's input or result, and of the output
MAX_ITEMS: Final = 10_000  # items of any array a filter takes or makes
DISABLED_TAGS: Final = ("case", "for", "include", "layout", "render", "tablerow")
DISABLED_FILTERS: Final = (
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
)
# Tags python-liquid has that only make sense with the disabled ones (loops, partials).
_ALSO_REMOVED = ("break", "continue", "ifchanged")
_TAG_NAME = re.compile(r"\{%-?\s*([A-Za-z_]\w*)")


class LiquidLimit(Exception):
    """A template went past one of the bounds while rendering."""


# What rendering may raise: Liquid's own errors, our bounds, and what a filter's Python code
# raises on data it does not expect (python-liquid passes some of those through).
_RENDER_ERRORS = (
    LiquidLimit,
    ArithmeticError,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    RecursionError,
)


def liquid(argument: Any, where: str, compile: Compile) -> Resolver:
    """Compile `{"@liquid": "Hello {{ traits.name | capitalize }}"}`: the template is parsed
    once; rendering gives text, or nothing if a bound is exceeded."""
    if not isinstance(argument, str):
        raise MappingError(where, f"@liquid should be a string but it is {describe(argument)}")
    if not argument:
        return lambda payload: ""
    if len(argument) > MAX_TEMPLATE:
        raise MappingError(
            where, f"liquid template values are limited to {MAX_TEMPLATE} characters"
        )
    for name in _TAG_NAME.findall(argument):
        if name in DISABLED_TAGS:
            raise MappingError(where, f'@liquid: tag "{name}" is disabled')
    env = _environment()
    from liquid.exceptions import LiquidError

    errors = (LiquidError, *_RENDER_ERRORS)

    try:
        template = env.from_string(argument)
        used = template.analyze().filters
    except LiquidError as error:
        raise MappingError(where, f"@liquid: {error.message or error}") from None
    for name in used:
        if name in DISABLED_FILTERS:
            raise MappingError(where, f'@liquid: filter "{name}" is disabled')
        if name not in env.filters:
            raise MappingError(where, f'@liquid: unknown filter "{name}"')

    def render(payload: Any) -> Any:
        try:
            return template.render(_as_json(payload))
        except errors:
            return MISSING  # an error or a bound met while rendering: the field is left out

    return render


def _as_json(payload: Any) -> dict[str, Any]:
    """The event as Segment's liquid sees it: the top-level datetimes (`timestamp`, `sentAt`
    ...) as their ISO 8601 text; nested values are JSON already."""
    if not isinstance(payload, Mapping):
        return {}
    return {key: iso(value) if type(value) is datetime else value for key, value in payload.items()}


@functools.cache
def _environment() -> Environment:
    """The one Liquid environment: Segment's tags and filters, our bounds. Built on first use."""
    from liquid import Environment
    from liquid.builtin.output import Output, OutputNode

    class BoundedEnvironment(Environment):
        context_depth_limit = 10
        local_namespace_limit = 4 * MAX_TEXT  # bytes, as sys.getsizeof counts them
        output_stream_limit = MAX_TEXT

    class JavaScriptOutputNode(OutputNode):
        """`{{ value }}` printed as liquidjs prints it (`1.0` is `1`, arrays joined)."""

        def render_to_output(self, context: Any, buffer: Any) -> int:
            written: int = buffer.write(_as_text(self.expression.evaluate(context)))
            return written

    class JavaScriptOutput(Output):
        node_class = JavaScriptOutputNode

    env = BoundedEnvironment()
    env.add_tag(JavaScriptOutput)
    for tag in DISABLED_TAGS + _ALSO_REMOVED:
        env.tags.pop(tag, None)
    for name in DISABLED_FILTERS:
        env.filters.pop(name, None)
    env.filters["json"] = _json
    env.filters["divided_by"] = _divided_by
    for name, func in list(env.filters.items()):
        env.filters[name] = _bounded(name, func)
    return env


def _as_text(value: Any) -> str:
    from liquid import Undefined

    if type(value) is str:
        return value
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, list | tuple):
        return "".join(_as_text(item) for item in value)
    if isinstance(value, Mapping):
        return json_text(value) or ""  # liquidjs prints "[object Object]"
    return str(value)


def _json(value: Any, *args: Any) -> str:
    """liquidjs's `json` filter: the value as JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _divided_by(value: Any, divisor: Any, integer_arithmetic: Any = False) -> Any:
    """liquidjs's `divided_by`: JavaScript division (`10 | divided_by: 4` is 2.5), floored only
    when the third argument is true; Shopify's Liquid would floor integers."""
    quotient = _number(value) / _number(divisor)
    return int(quotient // 1) if integer_arithmetic is True else quotient


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("not a number")
    return value if isinstance(value, int | float) else float(value)


def _bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with its inputs checked and its result bounded (see the module's docstring)."""

    @functools.wraps(func)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check(value)
        for item in args:
            _check(item)
        if name == "replace":
            _check_replace(value, args)
        elif name == "join":
            _check_join(value, args)
        return _limit(func(value, *args, **kwargs))

    return bounded


def _check(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise LiquidLimit(f"a text of more than {MAX_TEXT} characters")
    if isinstance(value, list | tuple | range) and len(value) > MAX_ITEMS:
        raise LiquidLimit(f"an array of more than {MAX_ITEMS} items")


def _check_replace(value: Any, args: tuple[Any, ...]) -> None:
    text, old = str(value), str(args[0]) if args else ""
    new = str(args[1]) if len(args) > 1 else ""
    count = text.count(old) if old else len(text) + 1
    if len(text) + count * len(new) > MAX_TEXT:
        raise LiquidLimit(f"replace would make more than {MAX_TEXT} characters")


def _check_join(value: Any, args: tuple[Any, ...]) -> None:
    if isinstance(value, list | tuple | range):
        separator = str(args[0]) if args else " "
        size = sum(len(str(item)) for item in value) + len(separator) * len(value)
        if size > MAX_TEXT:
            raise LiquidLimit(f"join would make more than {MAX_TEXT} characters")


def _limit(result: Any) -> Any:
    if type(result) is int and abs(result) > 2**53:
        return float(result)  # JavaScript numbers; also keeps big-integer arithmetic cheap
    _check(result)
    return result

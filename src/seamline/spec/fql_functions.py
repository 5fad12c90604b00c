"""FQL's values and functions: the type names `typeof()` reports and what each function returns.

Each function takes evaluated arguments, never raises, and gives null (and values of the wrong
type) the defaults Segment documents; `fql.py` calls them through `IMPLS`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from seamline.spec.fql_parse import glob_regex

# Exact types, as JSON decoders produce them: bool is an int subclass but never an FQL number.
NUMBER_TYPES = frozenset({int, float})
LIST_TYPES = frozenset({list, tuple})
_KINDS: dict[type, str] = {
    str: "string",
    int: "number",
    float: "number",
    bool: "bool",
    type(None): "null",
    list: "list",
    tuple: "list",
    dict: "object",
}
NUMERIC_STRING = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")


def kind_of(value: object) -> str:
    """FQL's name for a value's type, as `typeof()` reports it."""
    kind = _KINDS.get(type(value))
    if kind is None:
        kind = "object" if isinstance(value, Mapping) else "unknown"
    return kind


def _contains(s: Any, sub: Any) -> bool:
    return type(s) is str and type(sub) is str and sub in s


def _match(s: Any, pattern: Any) -> bool:
    if type(s) is not str or type(pattern) is not str:
        return False
    try:
        return cached_glob(pattern).fullmatch(s) is not None
    except ValueError:  # a pattern read from the event may be malformed: it matches nothing
        return False


def _length(value: Any) -> int | None:
    if type(value) is str:  # Segment counts UTF-8 bytes, not characters
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if type(value) in LIST_TYPES:
        return len(value)
    return 0 if value is None else None


def _text(transform: Callable[[str], str]) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        return transform(value) if type(value) is str else None

    return apply


def _titlecase(s: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in s.split(" "))


def _to_bool(value: Any) -> bool:
    kind = kind_of(value)
    if kind == "bool":
        return bool(value)
    if kind == "number":
        return bool(value != 0)
    if kind == "string":
        return str(value).strip().lower() in ("true", "1")
    return kind in ("list", "object") and len(value) > 0


def _to_string(value: Any) -> str | None:
    if type(value) is str:
        return value
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # 3.0 prints as "3", as JSON numbers do in JavaScript and Go
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _to_number(value: Any) -> int | float | None:
    if type(value) in NUMBER_TYPES:
        return value  # type: ignore[no-any-return]
    if type(value) is not str or not NUMERIC_STRING.fullmatch(value):
        return None
    text = value.strip()
    try:
        number: int | float = int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:  # more digits than int() accepts
        return None
    return number if math.isfinite(number) else None


@functools.lru_cache(maxsize=256)
def cached_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern), re.DOTALL)


IMPLS: dict[str, Callable[..., Any]] = {
    "bool": _to_bool,
    "contains": _contains,
    "kebabcase": _text(lambda s: s.replace(" ", "-")),
    "length": _length,
    "lowercase": _text(str.lower),
    "match": _match,
    "number": _to_number,
    "snakecase": _text(lambda s: s.replace(" ", "_")),
    "string": _to_string,
    "titlecase": _text(_titlecase),
    "typeof": kind_of,
    "uppercase": _text(str.upper),
}


def is_number(value: object) -> bool:
    """Whether a value is an FQL number (a bool is not)."""
    return type(value) in NUMBER_TYPES


def js_text(number: float) -> str:
    """A number as JavaScript's String() writes it: `1.0` is `1`, `1e-7` is `1e-7`."""
    if type(number) is int or (number.is_integer() and abs(number) < 1e21):
        return str(int(number))
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else "Infinity" if number > 0 else "-Infinity"
    return repr(number).replace("e-0", "e-").replace("e+0", "e+")


def js_number(text: str) -> float | None:
    """A string as JavaScript's Number() reads it (`''` is 0), or None where it gives NaN."""
    stripped = text.strip()
    if not stripped:
        return 0
    if NUMERIC_STRING.fullmatch(stripped):
        return float(stripped)
    if stripped.lstrip("+-") == "Infinity":
        return -math.inf if stripped[0] == "-" else math.inf
    return None

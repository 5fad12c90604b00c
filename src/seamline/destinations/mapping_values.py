"""The values of mappings: `MISSING` (JavaScript's `undefined`), paths into events, copies, and
how values print as text, with the error every mapping problem raises.

Shared by `mapping_directives` and the modules of further directives (`mapping_objects`,
`mapping_liquid`); nothing here knows a directive by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from seamline.errors import InvalidInput

Resolver = Callable[[Any], Any]
"""From an event (or an array item) to a value, or MISSING."""
Compile = Callable[[Any, str], Resolver]
"""Compiles any mapping value (raw or directive) found at a key path such as `mapping.email`."""
Step = tuple[str, int | None]
"""One step of a path: the key to look up in an object, and the index to use in an array."""


class _Missing:
    """JavaScript's `undefined`: a value that is absent, as opposed to null (None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
SEQUENCES = (list, tuple)
CONTAINERS = (dict, list, tuple)
PATH_EXAMPLE = '"$.properties.products[0].id"'


class MappingError(InvalidInput):
    """A mapping that cannot be compiled; the message starts with the key path of the problem
    inside the mapping (`mapping.email: ...`), also given as `details["path"]`."""

    code = "invalid_mapping"

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}", details={"path": where})
        self.path = where


# --- paths


def parse_path(text: str, where: str, what: str) -> tuple[Step, ...]:
    """The steps of a path such as `$.properties.products[0].id`; the leading `$.` may be left
    out (as Segment allows), and `""`, `$` and `$.` name the whole event."""
    rest = text[2:] if text.startswith("$.") else text[1:] if text[:2] in ("$", "$[") else text
    if not rest:
        return ()
    if not _PATH.fullmatch(rest):
        raise MappingError(where, f"{what} {text!r} is not a path like {PATH_EXAMPLE}")
    return tuple(
        (index, int(index)) if index else (name, int(name) if _INDEX.fullmatch(name) else None)
        for index, name in _STEP.findall(rest)
    )


# A path is names joined by dots, each optionally followed by [index]es; a name is anything
# without `.`, `[` and `]` (spaces included: `$.integrations.Actions Amplitude.session_id`).
_PATH = re.compile(r"(?:[^.\[\]]+|\[[0-9]+\])(?:\.[^.\[\]]+|\[[0-9]+\])*")
_STEP = re.compile(r"\[([0-9]+)\]|([^.\[\]]+)")
_INDEX = re.compile(r"[0-9]+")


def walk(value: Any, steps: tuple[Step, ...]) -> Any:
    """Follow `steps` through objects (by key) and arrays (by index); anything else is MISSING.

    Segment's `get` returns a null (or 0, or "") parent instead of `undefined` for a path
    through it; here a path through anything that is not an object or array is missing."""
    for key, index in steps:
        if type(value) is dict or isinstance(value, Mapping):
            value = value.get(key, MISSING)
            if value is MISSING:
                return MISSING
        elif index is not None and type(value) in SEQUENCES:
            if index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def getter(steps: tuple[Step, ...]) -> Resolver:
    """A resolver reading the value at `steps`: through plain dicts on a fast branch (15 % to
    45 % faster than `walk`, measured; most for one-key paths), through anything else with
    `walk`."""
    keys = tuple(key for key, _ in steps)
    if len(keys) == 1:
        (only,) = keys
        return lambda payload: (
            payload.get(only, MISSING) if type(payload) is dict else walk(payload, steps)
        )

    def get(payload: Any) -> Any:
        value = payload
        for key in keys:
            if type(value) is not dict:
                return walk(payload, steps)
            value = value.get(key, MISSING)
        return value

    return get


def copy_json(value: Any) -> Any:
    """A copy of the objects and arrays in `value`, so a payload never shares them with the
    event (one event feeds many subscriptions, and a destination may change its payload);
    MISSING if the value is nested too deeply to copy."""
    try:
        return _copy(value)
    except RecursionError:
        return MISSING


def _copy(value: Any) -> Any:
    # C-level `copy()`, then only the nested JSON containers: 3x faster than a comprehension.
    if type(value) is dict:
        copied = value.copy()
        for key, item in copied.items():  # replacing values never resizes the dict
            if type(item) in CONTAINERS:
                copied[key] = _copy(item)
        return copied
    if type(value) in SEQUENCES:
        items = list(value)
        for index, item in enumerate(items):
            if type(item) in CONTAINERS:
                items[index] = _copy(item)
        return items
    return _copy(dict(value)) if isinstance(value, Mapping) else value


# --- rendering values as text, as JavaScript's String() would for event data


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`, as JavaScript's `toISOString()`; a naive
    datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def number_text(number: float) -> str:
    """A number as JavaScript prints it where it matters: `1.0` is `1`."""
    return str(int(number)) if number.is_integer() and abs(number) < 1e21 else repr(number)


def json_text(value: Any) -> str | None:
    """Compact JSON as JavaScript's `JSON.stringify`, datetimes as ISO 8601; None when the value
    cannot be JSON (a cycle, absurd nesting): it then resolves to nothing rather than failing."""
    try:
        return _ENCODER.encode(value)
    except (ValueError, RecursionError):
        return None


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return iso(value) if isinstance(value, datetime) else value.isoformat()
    return dict(value) if isinstance(value, Mapping) else str(value)


# One encoder for all calls: json.dumps builds a new one per call when given options.
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, skipkeys=True, default=_json_default
)


def to_text(value: Any) -> str:
    """How a template renders a value: missing and null are empty, booleans `true`/`false`,
    datetimes ISO 8601 with `Z`, an array of plain values joined with commas (as JavaScript's
    String() does), objects and arrays holding objects or arrays as JSON (where Segment prints
    `[object Object]`)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is MISSING or value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return number_text(value)
    if kind in SEQUENCES and not any(type(item) in CONTAINERS for item in value):
        return ",".join(to_text(item) for item in value)
    if kind in CONTAINERS or isinstance(value, Mapping):
        return json_text(value) or ""
    return str(_json_default(value))


# --- argument checks


def describe(value: Any) -> str:
    """A value's JSON type with its article, for messages: `a string`, `an object`, `null`."""
    if isinstance(value, Mapping):
        return "an object"
    return _KINDS.get(type(value)) or f"a {type(value).__name__}"


_KINDS = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}
_KINDS |= {str: "a string", list: "an array", tuple: "an array"}


def check_options(
    argument: Any, where: str, name: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> Mapping[str, Any]:
    """The argument of an object-taking directive, checked for unknown and missing options."""
    if not isinstance(argument, Mapping):
        raise MappingError(where, f"{name} takes an object, got {describe(argument)}")
    for key in argument:
        if key not in allowed:
            raise MappingError(where, f"{name} has no option {key!r}; it has {', '.join(allowed)}")
    for key in required:
        if key not in argument:
            raise MappingError(where, f"{name} needs {key!r}")
    return argument


def option(options: Mapping[str, Any], key: str, default: Any, where: str, name: str) -> Any:
    """An option of the default's type (a string or a boolean); null means the default."""
    value = options.get(key)
    if value is None:
        return default
    if type(value) is not type(default):
        raise MappingError(where, f"{name} {key!r} must be {describe(default)}")
    return value


def is_directive(value: Mapping[Any, Any]) -> bool:
    """Whether an object is a directive: it has an `@`-key."""
    return any(type(key) is str and key.startswith("@") for key in value)

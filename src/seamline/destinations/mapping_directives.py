"""The directives of Segment's mapping kit, each compiled once into a closure over an event.

A directive is an object with one `@`-key: `{"@path": "$.traits.email"}`. Each compiler checks
its argument (raising `MappingError` naming where in the mapping the problem is) and returns a
resolver: event (or `@arrayPath` item) → value, or `MISSING` for JavaScript's `undefined`, which
`mapping.py` leaves out of objects (null is kept). Semantics follow Segment's `mapping-kit`;
where we differ on purpose, a comment says so.
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
_SEQUENCES = (list, tuple)
_CONTAINERS = (dict, list, tuple)
_EXAMPLE = '"$.properties.products[0].id"'


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
        raise MappingError(where, f"{what} {text!r} is not a path like {_EXAMPLE}")
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
        elif index is not None and type(value) in _SEQUENCES:
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
            if type(item) in _CONTAINERS:
                copied[key] = _copy(item)
        return copied
    if type(value) in _SEQUENCES:
        items = list(value)
        for index, item in enumerate(items):
            if type(item) in _CONTAINERS:
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
    datetimes ISO 8601 with `Z`, objects and arrays JSON (Segment prints `[object Object]`)."""
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
    if kind in (dict, list, tuple) or isinstance(value, Mapping):
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


def _options(
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


def _option(options: Mapping[str, Any], key: str, default: Any, where: str, name: str) -> Any:
    """An option of the default's type (a string or a boolean); null means the default."""
    value = options.get(key)
    if value is None:
        return default
    if type(value) is not type(default):
        raise MappingError(where, f"{name} {key!r} must be {describe(default)}")
    return value


# --- the directives


def _path(argument: Any, where: str, compile: Compile) -> Resolver:
    # Segment also accepts a directive computing the path from the event; we only take a
    # literal path, which can be checked when the mapping is saved.
    if not isinstance(argument, str):
        raise MappingError(where, f"@path must be a string such as {_EXAMPLE}")
    get = getter(parse_path(argument, where, "@path"))

    def path(payload: Any) -> Any:
        value = get(payload)
        return copy_json(value) if type(value) in _CONTAINERS else value

    return path


_PLACEHOLDER = re.compile(r"\{\{\{([^}]+)\}\}\}|\{\{([^}]+)\}\}")


def _template(argument: Any, where: str, compile: Compile) -> Resolver:
    # `{{path}}` and `{{{path}}}` both insert the value unescaped, as Segment does today; the
    # path may start with `$.` like @path's (Segment would look up a key named "$").
    if not isinstance(argument, str):
        raise MappingError(where, f"@template must be a string, got {describe(argument)}")
    pieces: list[str] = []
    slots: list[tuple[int, Resolver]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(argument):
        pieces.append(argument[position : match.start()])
        inner = (match.group(1) or match.group(2)).strip()
        if not inner:
            raise MappingError(where, f"@template has an empty placeholder {match.group(0)!r}")
        slots.append((len(pieces), getter(parse_path(inner, where, "@template placeholder"))))
        pieces.append("")
        position = match.end()
    pieces.append(argument[position:])
    if not slots:
        return lambda payload: argument

    def template(payload: Any) -> str:
        parts = pieces.copy()
        for index, get in slots:
            parts[index] = to_text(get(payload))
        return "".join(parts)

    return template


def _literal(argument: Any, where: str, compile: Compile) -> Resolver:
    # Segment resolves directives nested in a literal; here a literal is taken as it is, which
    # is what it is for (passing values that would otherwise read as directives).
    if isinstance(argument, Mapping | list | tuple):
        return lambda payload: copy_json(argument)
    return lambda payload: argument


def _if(argument: Any, where: str, compile: Compile) -> Resolver:
    options = _options(argument, where, "@if", ("exists", "blank", "then", "else"), ())
    if ("exists" in options) == ("blank" in options):
        raise MappingError(where, "@if needs one condition, 'exists' or 'blank'")
    if "then" not in options and "else" not in options:
        raise MappingError(where, "@if needs a branch, 'then' or 'else'")
    kind = "exists" if "exists" in options else "blank"
    condition = compile(options[kind], f"{where}.@if.{kind}")
    then = compile(options["then"], f"{where}.@if.then") if "then" in options else None
    otherwise = compile(options["else"], f"{where}.@if.else") if "else" in options else None
    blank = kind == "blank"

    # `exists`: anything but missing and null; `blank`: also not "" ("then" runs when the value
    # is not blank). Unlike Segment, false and 0 are not blank and a false/0/"" `else` is used.
    def if_(payload: Any) -> Any:
        value = condition(payload)
        holds = value is not MISSING and value is not None and not (blank and value == "")
        branch = then if holds else otherwise
        return MISSING if branch is None else branch(payload)

    return if_


def _case(argument: Any, where: str, compile: Compile) -> Resolver:
    options = _options(argument, where, "@case", ("operator", "value"), ("operator", "value"))
    operator = options["operator"]
    if operator not in ("lower", "upper"):
        raise MappingError(where, f"@case 'operator' is 'lower' or 'upper', got {operator!r}")
    value = compile(options["value"], f"{where}.@case.value")
    change = str.lower if operator == "lower" else str.upper

    def case(payload: Any) -> Any:
        resolved = value(payload)
        return change(resolved) if type(resolved) is str else resolved

    return case


def _replacer(pattern: str, new: str, every: bool, ignore_case: bool) -> Callable[[str], str]:
    # The pattern is plain text, never a regular expression (as in Segment), and the
    # replacement is inserted as it is (JavaScript would expand `$&` and `$$` in it).
    if not ignore_case:
        count = -1 if every else 1
        return lambda text: text.replace(pattern, new, count)
    expression = re.compile(re.escape(pattern), re.IGNORECASE)
    limit = 0 if every else 1
    return lambda text: expression.sub(lambda _: new, text, count=limit)


def _replace(argument: Any, where: str, compile: Compile) -> Resolver:
    # Segment caps patterns and replacements at 10 characters; plain-text replacement has no
    # cost that needs the cap, so we do not.
    names = ("pattern", "replacement", "pattern2", "replacement2", "global", "ignorecase", "value")
    options = _options(argument, where, "@replace", names, ("pattern", "value"))
    pattern, replacement, pattern2, replacement2 = (
        _option(options, key, "", where, "@replace") for key in names[:4]
    )
    if not pattern:
        raise MappingError(where, "@replace 'pattern' must be a non-empty string")
    every = _option(options, "global", True, where, "@replace")
    ignore_case = _option(options, "ignorecase", False, where, "@replace")
    first = _replacer(pattern, replacement, every, ignore_case)
    second = _replacer(pattern2, replacement2, every, ignore_case) if pattern2 else None
    value = compile(options["value"], f"{where}.@replace.value")

    # Booleans, numbers and datetimes are replaced in their text; anything else (missing, null,
    # objects) becomes "", as Segment's fixtures specify.
    def replace(payload: Any) -> Any:
        resolved = value(payload)
        if type(resolved) is not str:
            if not isinstance(resolved, str | bool | int | float | datetime):
                return ""
            resolved = to_text(resolved)
        resolved = first(resolved)
        return resolved if second is None else second(resolved)

    return replace


def _array_path(argument: Any, where: str, compile: Compile) -> Resolver:
    if not isinstance(argument, list | tuple) or not argument:
        raise MappingError(where, "@arrayPath takes an array: [path, item mapping]")
    source = argument[0]
    if isinstance(source, str):
        root = getter(parse_path(source, f"{where}.@arrayPath[0]", "@arrayPath"))
    elif isinstance(source, Mapping) and any(str(key).startswith("@") for key in source):
        root = compile(source, f"{where}.@arrayPath[0]")
    else:
        raise MappingError(where, "@arrayPath starts with a path string or a directive")
    shape = argument[1] if len(argument) > 1 else None  # further elements are ignored, as in
    if shape is not None and not isinstance(shape, Mapping):  # Segment
        raise MappingError(where, "@arrayPath's item mapping must be an object")
    item = compile(shape, f"{where}.@arrayPath[1]") if shape else None

    # Without an item mapping the value passes as it is; with one, an object is taken as an
    # array of one and each item is mapped (a missing result becomes null, as in JSON arrays).
    def array_path(payload: Any) -> Any:
        value = root(payload)
        if item is None:
            return copy_json(value)
        if type(value) in _SEQUENCES:
            items = value
        elif type(value) is dict or isinstance(value, Mapping):
            items = (value,)
        else:
            return value
        mapped = [item(element) for element in items]
        return [None if element is MISSING else element for element in mapped]

    return array_path


def _json(argument: Any, where: str, compile: Compile) -> Resolver:
    options = _options(argument, where, "@json", ("mode", "value"), ("mode", "value"))
    mode = options["mode"]
    if mode not in ("encode", "decode"):
        raise MappingError(where, f"@json 'mode' is 'encode' or 'decode', got {mode!r}")
    value = compile(options["value"], f"{where}.@json.value")
    if mode == "encode":

        def encode(payload: Any) -> Any:
            resolved = value(payload)
            text = None if resolved is MISSING else json_text(resolved)
            return MISSING if text is None else text

        return encode

    # Text that is not JSON decodes to nothing (Segment throws, failing the whole delivery).
    def decode(payload: Any) -> Any:
        resolved = value(payload)
        if type(resolved) is not str:
            return resolved
        try:
            return json.loads(resolved)
        except (ValueError, RecursionError):
            return MISSING

    return decode


DIRECTIVES: Final[Mapping[str, Callable[[Any, str, Compile], Resolver]]] = {
    "@arrayPath": _array_path,
    "@case": _case,
    "@if": _if,
    "@json": _json,
    "@literal": _literal,
    "@path": _path,
    "@replace": _replace,
    "@template": _template,
}
"""Directive name → compiler of its argument (given where it is and how to compile values)."""

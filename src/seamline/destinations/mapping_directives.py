"""The directives of Segment's mapping kit, each compiled once into a closure over an event.

A directive is an object with one `@`-key: `{"@path": "$.traits.email"}`. Each compiler checks
its argument (raising `MappingError` naming where in the mapping the problem is) and returns a
resolver: event (or `@arrayPath` item) → value, or `MISSING` for JavaScript's `undefined`, which
`mapping.py` leaves out of objects (null is kept). Semantics follow Segment's `mapping-kit`;
where we differ on purpose, a comment says so.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from seamline.destinations.mapping_liquid import liquid
from seamline.destinations.mapping_objects import exclude_when_null, flatten, merge, transform
from seamline.destinations.mapping_values import (
    CONTAINERS,
    MISSING,
    PATH_EXAMPLE,
    SEQUENCES,
    Compile,
    MappingError,
    Resolver,
    check_options,
    copy_json,
    describe,
    getter,
    iso,
    json_text,
    option,
    parse_path,
    to_text,
)

__all__ = ["DIRECTIVES", "MISSING", "MappingError", "Resolver", "describe", "iso", "to_text"]

# --- the directives


def _path(argument: Any, where: str, compile: Compile) -> Resolver:
    if isinstance(argument, Mapping):  # a directive computing the path from the event
        return _dynamic(compile(argument, f"{where}.@path"), _cached_path_getter)
    if not isinstance(argument, str):
        raise MappingError(where, f"@path must be a string such as {PATH_EXAMPLE}")
    return _copying(getter(parse_path(argument, where, "@path")))


def _copying(get: Resolver) -> Resolver:
    def path(payload: Any) -> Any:
        value = get(payload)
        return copy_json(value) if type(value) in CONTAINERS else value

    return path


def _dynamic(text: Resolver, build: Callable[[str], Resolver | None]) -> Resolver:
    """A resolver whose argument is computed from the event (`{"@path": {"@path": "$.p"}}`):
    anything but a valid string resolves to nothing (Segment fails the delivery)."""

    def dynamic(payload: Any) -> Any:
        argument = text(payload)
        resolve = (
            build(argument) if type(argument) is str and len(argument) <= _MAX_DYNAMIC else None
        )
        return MISSING if resolve is None else resolve(payload)

    return dynamic


_MAX_DYNAMIC = 2000  # characters of a path or template read from an event


@functools.lru_cache(maxsize=256)
def _cached_path_getter(text: str) -> Resolver | None:
    try:
        return _copying(getter(parse_path(text, "@path", "@path")))
    except MappingError:
        return None


_PLACEHOLDER = re.compile(r"\{\{\{([^}]+)\}\}\}|\{\{([^}]+)\}\}")


def _template(argument: Any, where: str, compile: Compile) -> Resolver:
    # `{{path}}` and `{{{path}}}` both insert the value unescaped, as Segment does today; the
    # path may start with `$.` like @path's (Segment would look up a key named "$").
    if isinstance(argument, Mapping):  # a directive computing the template from the event
        return _dynamic(compile(argument, f"{where}.@template"), _cached_template)
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


@functools.lru_cache(maxsize=256)
def _cached_template(text: str) -> Resolver | None:
    try:
        return _template(text, "@template", _no_directives)
    except MappingError:
        return None


def _no_directives(value: Any, where: str) -> Resolver:
    raise MappingError(where, "a template read from the event is text")


def _literal(argument: Any, where: str, compile: Compile) -> Resolver:
    # As in Segment, directives nested in a literal are resolved: `@literal` only keeps text
    # such as "{{userId}}" from reading as a template.
    return compile(argument, f"{where}.@literal")


def _if(argument: Any, where: str, compile: Compile) -> Resolver:
    options = check_options(argument, where, "@if", ("exists", "blank", "then", "else"), ())
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
    options = check_options(argument, where, "@case", ("operator", "value"), ("operator", "value"))
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
    # The pattern is plain text, never a regular expression (as in Segment); the replacement
    # expands JavaScript's `$$`, `$&`, `` $` `` and `$'` as Segment's String.replace does.
    limit = 0 if every else 1
    if "$" in new:
        expression = re.compile(re.escape(pattern), re.IGNORECASE if ignore_case else 0)
        return lambda text: expression.sub(lambda match: _expand(new, match), text, count=limit)
    if not ignore_case:
        count = -1 if every else 1
        return lambda text: text.replace(pattern, new, count)
    expression = re.compile(re.escape(pattern), re.IGNORECASE)
    return lambda text: expression.sub(lambda _: new, text, count=limit)


_DOLLAR = re.compile(r"\$([$&`'])")


def _expand(replacement: str, match: re.Match[str]) -> str:
    text = match.string
    parts = {"$": "$", "&": match.group(0), "`": text[: match.start()], "'": text[match.end() :]}
    return _DOLLAR.sub(lambda dollar: parts[dollar.group(1)], replacement)


def _replace(argument: Any, where: str, compile: Compile) -> Resolver:
    # Segment caps patterns and replacements at 10 characters; plain-text replacement has no
    # cost that needs the cap, so we do not.
    names = ("pattern", "replacement", "pattern2", "replacement2", "global", "ignorecase", "value")
    options = check_options(argument, where, "@replace", names, ("pattern", "value"))
    pattern, replacement, pattern2, replacement2 = (
        option(options, key, "", where, "@replace") for key in names[:4]
    )
    if not pattern:
        raise MappingError(where, "@replace 'pattern' must be a non-empty string")
    every = option(options, "global", True, where, "@replace")
    ignore_case = option(options, "ignorecase", False, where, "@replace")
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
        if type(value) in SEQUENCES:
            items = value
        elif type(value) is dict or isinstance(value, Mapping):
            items = (value,)
        else:
            return value
        mapped = [item(element) for element in items]
        return [None if element is MISSING else element for element in mapped]

    return array_path


def _json(argument: Any, where: str, compile: Compile) -> Resolver:
    options = check_options(argument, where, "@json", ("mode", "value"), ("mode", "value"))
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

    # Text that is not JSON is kept as it is, as Segment does.
    def decode(payload: Any) -> Any:
        resolved = value(payload)
        if type(resolved) is not str:
            return resolved
        try:
            return json.loads(resolved)
        except (ValueError, RecursionError):
            return resolved

    return decode


DIRECTIVES: Final[Mapping[str, Callable[[Any, str, Compile], Resolver]]] = {
    "@arrayPath": _array_path,
    "@case": _case,
    "@excludeWhenNull": exclude_when_null,
    "@flatten": flatten,
    "@if": _if,
    "@json": _json,
    "@liquid": liquid,
    "@literal": _literal,
    "@merge": merge,
    "@path": _path,
    "@replace": _replace,
    "@template": _template,
    "@transform": transform,
}
"""Directive name → compiler of its argument (given where it is and how to compile values)."""

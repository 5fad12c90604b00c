"""Mappings: how a subscription turns an event into an action's payload, as Segment's Actions do.

A mapping is an object whose values are raw JSON (copied to the payload as they are) or
directives (`{"@path": "$.traits.email"}`, `{"@template": "{{traits.first_name}}"}` …, see
`mapping_directives`). `compile_mapping` checks a mapping once and turns it into a `Mapper`, a
tree of closures, so mapping an event costs a few dict lookups. A key whose value resolves to
nothing (JavaScript's `undefined`: a missing path, an `@if` without the branch taken) is left
out of the payload; null is kept.

`validate_payload` then checks the payload against the action's fields the way Segment's
actions-core does (required fields, light type coercion), `check_mapping` is what saving a
subscription runs, and `default_mapping` is what a new subscription starts from.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from seamline.destinations.definition import Field
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.mapping_directives import (
    DIRECTIVES,
    MISSING,
    MappingError,
    Resolver,
    describe,
    iso,
    to_text,
)
from seamline.destinations.mapping_values import is_directive

__all__ = [
    "Mapper",
    "MappingError",
    "check_mapping",
    "compile_mapping",
    "default_mapping",
    "validate_payload",
]


class Mapper:
    """A compiled mapping: call it with an event to get the payload. Never raises."""

    __slots__ = ("_resolve", "mapping")

    def __init__(self, mapping: Mapping[str, Any], resolve: Resolver) -> None:
        self.mapping = mapping
        self._resolve = resolve

    def __call__(self, event: Mapping[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = self._resolve(event)
        return payload

    def __repr__(self) -> str:
        return f"Mapper({self.mapping!r})"


ROOT_DIRECTIVE = "__segment_internal_directive"
"""A key of Segment's mappings holding one directive (e.g. `@transform`) whose `mapping` option
is the rest of the mapping: the fields are then resolved against what it makes of the event."""


def compile_mapping(mapping: Mapping[str, Any]) -> Mapper:
    """Check `mapping` and compile it into a `Mapper`; raise `MappingError` (code
    `invalid_mapping`) naming the key path of the first problem, e.g. `mapping.email: ...`."""
    if not isinstance(mapping, Mapping):
        raise MappingError("mapping", f"must be an object of fields, got {describe(mapping)}")
    if is_directive(mapping):
        raise MappingError("mapping", "must be an object of fields, not a directive")
    if ROOT_DIRECTIVE in mapping:
        return Mapper(mapping, _root(mapping))
    return Mapper(mapping, _compile(mapping, "mapping"))


def _root(mapping: Mapping[str, Any]) -> Resolver:
    where = f"mapping.{ROOT_DIRECTIVE}"
    root = mapping[ROOT_DIRECTIVE]
    if not isinstance(root, Mapping) or len(root) != 1 or not is_directive(root):
        raise MappingError(where, "must be an object with a single directive")
    ((name, options),) = root.items()
    if not isinstance(options, Mapping):
        raise MappingError(where, f"{name} must be an object to take the mapping")
    fields = {key: value for key, value in mapping.items() if key != ROOT_DIRECTIVE}
    resolve = _compile({name: {**options, "mapping": fields}}, where)

    def resolve_root(event: Any) -> dict[str, Any]:
        payload = resolve(event)
        return payload if type(payload) is dict else {}

    return resolve_root


def _compile(value: Any, where: str) -> Resolver:
    """Compile any mapping value found at `where`: a directive, an object or array of mapping
    values, or a JSON scalar (a constant)."""
    if isinstance(value, Mapping):
        return _compile_directive(value, where) if is_directive(value) else _object(value, where)
    if isinstance(value, list | tuple):
        return _array(value, where)
    if value is None or isinstance(value, str | int | float | datetime | date):
        return lambda event: value
    raise MappingError(where, f"expected a JSON value or a directive, got {describe(value)}")


def _compile_directive(value: Mapping[str, Any], where: str) -> Resolver:
    # `_metadata` is what Segment's editor stores beside a directive; it is ignored there too.
    names = [key for key in value if isinstance(key, str) and key.startswith("@")]
    others = [key for key in value if key not in names and key != "_metadata"]
    if len(names) > 1:
        raise MappingError(where, f"a directive has one @-key, found {' and '.join(names)}")
    if others:
        raise MappingError(
            where, f"a directive has no other keys, found {others[0]!r} beside {names[0]}"
        )
    (name,) = names
    compiler = DIRECTIVES.get(name)
    if compiler is None:
        raise MappingError(
            where, f"unknown directive {name}; the directives are {', '.join(sorted(DIRECTIVES))}"
        )
    return compiler(value[name], where, _compile)


def _object(value: Mapping[Any, Any], where: str) -> Resolver:
    for key in value:
        if not isinstance(key, str):
            raise MappingError(where, f"keys are strings, got {describe(key)} {key!r}")
    entries = tuple((key, _compile(item, f"{where}.{key}")) for key, item in value.items())

    def resolve_object(event: Any) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for key, resolve in entries:
            item = resolve(event)
            if item is not MISSING:
                resolved[key] = item
        return resolved

    return resolve_object


def _array(value: list[Any] | tuple[Any, ...], where: str) -> Resolver:
    # A missing item stays in its place as null, as JSON.stringify writes `undefined` in arrays.
    items = tuple(_compile(item, f"{where}[{index}]") for index, item in enumerate(value))

    def resolve_array(event: Any) -> list[Any]:
        resolved = [resolve(event) for resolve in items]
        return [None if item is MISSING else item for item in resolved]

    return resolve_array


def check_mapping(mapping: Mapping[str, Any], fields: Mapping[str, Field]) -> None:
    """What saving a subscription checks: the mapping compiles, names only the action's fields,
    maps every required field (or leaves it to the field's default mapping, which the caller
    then saves with it: `{**default_mapping(fields), **mapping}`), and literal values fit
    their field's type. Raises `MappingError` naming the first problem."""
    compile_mapping(mapping)
    for key in mapping:
        if key not in fields and key != ROOT_DIRECTIVE:
            raise MappingError(
                f"mapping.{key}",
                f"the action has no field {key!r}; its fields are {', '.join(fields)}",
            )
    for name, field in fields.items():
        where = f"mapping.{name}"
        value = mapping.get(name, MISSING)
        if value is MISSING:
            if field.required and field.default is None:
                raise MappingError(where, f"{field.label!r} is required and has no mapping")
            continue
        if isinstance(value, Mapping | list | tuple):
            continue  # directives and objects are resolved per event, then validated
        try:
            literal = _coerce(value, field, where)
        except InvalidPayload as error:
            path, _, problem = error.message.partition(": ")
            raise MappingError(path, problem) from None
        if literal is MISSING and field.required:
            raise MappingError(where, f"{field.label!r} is required and is mapped to nothing")


def default_mapping(fields: Mapping[str, Field]) -> dict[str, Any]:
    """The mapping a new subscription starts from: each field's `default` (a copy, to edit)."""
    return {
        name: copy.deepcopy(field.default)
        for name, field in fields.items()
        if field.default is not None
    }


# --- payload validation


def validate_payload(payload: dict[str, Any], fields: Mapping[str, Field]) -> dict[str, Any]:
    """The payload an action receives: only its fields, coerced as Segment's actions-core does
    (numeric strings for numbers, a single value for a `multiple` field becomes a list,
    datetimes ISO 8601), with empty optional fields left out. Raises `InvalidPayload` naming
    the field when a required one is missing or a value cannot be of its type."""
    return _validate(payload, fields, "", keep_others=False)


def _validate(
    payload: Mapping[str, Any], fields: Mapping[str, Field], prefix: str, *, keep_others: bool
) -> dict[str, Any]:
    # Unknown keys are dropped at the top (as Segment's schema does); inside an object field
    # they are kept, since our fields cannot say whether more properties are allowed.
    valid = {k: v for k, v in payload.items() if k not in fields} if keep_others else {}
    for name, field in fields.items():
        where = prefix + name
        value = _coerce(payload.get(name, MISSING), field, where)
        if value is not MISSING:
            valid[name] = value
        elif field.required:
            raise InvalidPayload(f"{where}: the required field {field.label!r} is missing")
    return valid


def _empty(value: Any, field: Field) -> bool:
    """Missing, null, or "" for a field that is not text: Segment drops these before checking."""
    return value is MISSING or value is None or (value == "" and field.type not in _TEXT_TYPES)


def _coerce(value: Any, field: Field, where: str) -> Any:
    """`value` as the field's type, MISSING when empty; raises InvalidPayload if impossible."""
    if _empty(value, field):
        return MISSING
    if field.multiple:
        items = value if isinstance(value, list | tuple) else (value,)
        return [
            _coerce_one(item, field, f"{where}[{index}]")
            for index, item in enumerate(items)
            if not _empty(item, field)
        ]
    if isinstance(value, list | tuple):
        if len(value) != 1:  # Ajv's coerceTypes "array" takes the item of a one-item array
            raise InvalidPayload(
                f"{where}: expected one {field.type}, got an array of {len(value)}"
            )
        return _coerce(value[0], field, where)
    return _coerce_one(value, field, where)


def _coerce_one(value: Any, field: Field, where: str) -> Any:
    coerced = _COERCERS[field.type](value)
    if coerced is MISSING:
        raise InvalidPayload(f"{where}: expected {_EXPECTED[field.type]}, got {_shown(value)}")
    if field.choices and coerced not in field.choices:
        raise InvalidPayload(f"{where}: {_shown(coerced)} is not one of {', '.join(field.choices)}")
    if field.type == "object" and field.properties:
        return _validate(coerced, field.properties, f"{where}.", keep_others=True)
    return coerced


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("…" if len(value) > 40 else "")
    if isinstance(value, bool | int | float):
        return f"the value {to_text(value)}"
    return describe(value)


_TEXT_TYPES = frozenset({"string", "text"})
_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
_EXPECTED = {
    "string": "a string",
    "text": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "datetime": "an ISO 8601 date-time",
    "object": "an object",
}


def _as_text(value: Any) -> Any:
    # Ajv turns numbers and booleans into strings; we also write datetimes as ISO 8601.
    if type(value) is str:
        return value
    return to_text(value) if isinstance(value, str | bool | int | float | date) else MISSING


def _as_number(value: Any) -> Any:
    # Numeric strings become numbers; booleans do not (Ajv would make them 1 and 0).
    if isinstance(value, bool):
        return MISSING
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return MISSING


def _as_integer(value: Any) -> Any:
    number = _as_number(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number if isinstance(number, int) else MISSING


def _as_boolean(value: Any) -> Any:
    # As Ajv: "true"/"false" and 1/0 are booleans too.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, int | float) and value in (0, 1):
        return value == 1
    return MISSING


def _as_datetime(value: Any) -> Any:
    # Segment accepts any string dayjs can read, or a number (Unix time); we keep ISO 8601
    # strings and numbers as they are and write datetime objects as ISO 8601 with `Z`.
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return value
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            return MISSING
        return value
    return MISSING


def _as_object(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return dict(value) if isinstance(value, Mapping) else MISSING


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "string": _as_text,
    "text": _as_text,
    "number": _as_number,
    "integer": _as_integer,
    "boolean": _as_boolean,
    "datetime": _as_datetime,
    "object": _as_object,
}

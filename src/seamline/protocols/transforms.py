"""Declarative transformations: fix events as they flow, without code.

Each transformation has a kind (Segment's transformation kinds and a few more), a scope (sources,
message types, event names, an FQL condition) and the parameters of its kind. They run in their
configured order after validation, on the message as a plain dict; `function` transformations
hand the event to a user's Python function (see `protocols.functions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import msgspec

from seamline.errors import InvalidInput
from seamline.protocols import paths
from seamline.spec.fql import Predicate, compile_fql

Kind = Literal[
    "rename_event",
    "merge_events",
    "rename_property",
    "map_value",
    "cast",
    "default",
    "drop_property",
    "drop_event",
    "derive",
    "function",
]
CastTo = Literal["string", "number", "integer", "boolean"]
NOT_GIVEN: Any = msgspec.UNSET


class TransformationSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A transformation as it is configured (the `transformation` resource's document)."""

    kind: Kind
    sources: list[str] = []
    types: list[str] = []
    events: list[str] = []
    where: str | None = None
    to: str | None = None
    property: str | None = None
    properties: list[str] = []
    map: dict[str, Any] | None = None
    cast: CastTo | None = None
    value: Any = NOT_GIVEN
    template: str | None = None
    function: str | None = None
    order: int = 0
    enabled: bool = True


_NEEDS: dict[str, tuple[str, ...]] = {
    "rename_event": ("to",),
    "merge_events": ("to", "events"),
    "rename_property": ("property", "to"),
    "map_value": ("property", "map"),
    "cast": ("property", "cast"),
    "default": ("property", "value"),
    "drop_property": ("properties",),
    "drop_event": (),
    "derive": ("property", "template"),
    "function": ("function",),
}

Apply = Callable[[dict[str, Any]], bool | None]
"""Changes a message in place: True when it changed something, False when not, None to drop
the message (knowing nothing changed spares re-encoding it)."""


class Transformation:
    """A compiled transformation: its scope as one predicate, its effect as one function."""

    def __init__(self, name: str, spec: TransformationSpec, source_ids: frozenset[str]) -> None:
        self.name = name
        self.spec = spec
        self.order = spec.order
        self.source_ids = source_ids
        self.function = spec.function if spec.kind == "function" else None
        self._types = frozenset(spec.types)
        self._events = frozenset(spec.events)
        self._where: Predicate | None = compile_fql(spec.where) if spec.where else None
        self.apply: Apply = _EFFECTS[spec.kind](spec)

    def applies_to(self, source_id: str, message: Mapping[str, Any]) -> bool:
        if self.source_ids and source_id not in self.source_ids:
            return False
        if self._types and message.get("type") not in self._types:
            return False
        if self._events and _name_of(message) not in self._events:
            return False
        return self._where is None or self._where(message)


def parse_transformation(name: str, document: Mapping[str, Any]) -> TransformationSpec:
    """The transformation a document describes; InvalidInput says what is wrong with it."""
    try:
        spec = msgspec.convert(document, TransformationSpec)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"transformation {name!r}: {error}") from None
    missing = [
        field
        for field in _NEEDS[spec.kind]
        if getattr(spec, field) in (None, NOT_GIVEN, [], {}) and getattr(spec, field) is not False
    ]
    if missing:
        raise InvalidInput(f"transformation {name!r}: kind {spec.kind} needs {', '.join(missing)}")
    if spec.where:
        compile_fql(spec.where)  # raises FQLError with the position of the problem
    return spec


def _name_of(message: Mapping[str, Any]) -> Any:
    return message.get("event") if message.get("type") == "track" else message.get("name")


def _rename_event(spec: TransformationSpec) -> Apply:
    to = spec.to

    def apply(message: dict[str, Any]) -> bool:
        key = "event" if message.get("type") == "track" else "name"
        if message.get(key) == to:
            return False
        message[key] = to
        return True

    return apply


def _rename_property(spec: TransformationSpec) -> Apply:
    source, target = _path(spec.property), _path(spec.to)

    def apply(message: dict[str, Any]) -> bool:
        # Never overwrite a value already at the new name: the old one is kept as it is.
        if paths.get(message, target) is paths.MISSING:
            value = paths.get(message, source)
            if value is not paths.MISSING and paths.put(message, target, value):
                paths.pop(message, source)
                return True
        return False

    return apply


def _map_value(spec: TransformationSpec) -> Apply:
    where, table = _path(spec.property), dict(spec.map or {})

    def apply(message: dict[str, Any]) -> bool:
        value = paths.get(message, where)
        if value is paths.MISSING or isinstance(value, dict | list):
            return False
        key = value if isinstance(value, str) else _text(value)
        return key in table and paths.put(message, where, table[key])

    return apply


def _cast(spec: TransformationSpec) -> Apply:
    where, to = _path(spec.property), spec.cast or "string"

    def apply(message: dict[str, Any]) -> bool:
        value = paths.get(message, where)
        if value is paths.MISSING or value is None:
            return False
        converted = cast_value(value, to)
        if converted is paths.MISSING or (converted == value and type(converted) is type(value)):
            return False
        return paths.put(message, where, converted)

    return apply


def _default(spec: TransformationSpec) -> Apply:
    where, value = _path(spec.property), spec.value

    def apply(message: dict[str, Any]) -> bool:
        if paths.get(message, where) in (paths.MISSING, None):
            return paths.put(message, where, value)
        return False

    return apply


def _drop_property(spec: TransformationSpec) -> Apply:
    wheres = [_path(p) for p in spec.properties]

    def apply(message: dict[str, Any]) -> bool:
        changed = False
        for where in wheres:
            changed = paths.pop(message, where) is not paths.MISSING or changed
        return changed

    return apply


def _drop_event(_spec: TransformationSpec) -> Apply:
    return lambda _message: None


_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def _derive(spec: TransformationSpec) -> Apply:
    where, template = _path(spec.property), spec.template or ""
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole:
        # A template that is one placeholder copies the value with its type (a number stays one).
        origin = paths.split(whole.group(1))

        def copy(message: dict[str, Any]) -> bool:
            value = paths.get(message, origin)
            return value is not paths.MISSING and paths.put(message, where, value)

        return copy
    pieces = [(m.group(0), paths.split(m.group(1))) for m in _PLACEHOLDER.finditer(template)]

    def fill(message: dict[str, Any]) -> bool:
        text = template
        for placeholder, origin in pieces:
            value = paths.get(message, origin)
            text = text.replace(placeholder, "" if value in (paths.MISSING, None) else _text(value))
        return paths.put(message, where, text)

    return fill


def _function(_spec: TransformationSpec) -> Apply:
    def apply(message: dict[str, Any]) -> bool:
        raise RuntimeError("function transformations run in batches through their runner")

    return apply


_EFFECTS: dict[str, Callable[[TransformationSpec], Apply]] = {
    "rename_event": _rename_event,
    "merge_events": _rename_event,
    "rename_property": _rename_property,
    "map_value": _map_value,
    "cast": _cast,
    "default": _default,
    "drop_property": _drop_property,
    "drop_event": _drop_event,
    "derive": _derive,
    "function": _function,
}


def cast_value(value: Any, to: CastTo) -> Any:
    """`value` as the type `to`, or `paths.MISSING` when it cannot be converted."""
    if to == "string":
        return value if isinstance(value, str) else _text(value)
    if to == "boolean":
        if isinstance(value, bool):
            return value
        lowered = _text(value).strip().lower()
        if lowered in ("true", "1", "yes", "y", "on"):
            return True
        if lowered in ("false", "0", "no", "n", "off", ""):
            return False
        return paths.MISSING
    if isinstance(value, bool | dict | list):
        return paths.MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return paths.MISSING
    if to == "integer":
        return int(number) if number.is_integer() else paths.MISSING
    return int(number) if isinstance(value, int) else number


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _path(path: str | None) -> tuple[str, ...]:
    return paths.split(path or "")

"""Comparisons on JSON values, as the real-time engine applies them (the SQL twin is in
`batch_exprs`); the rules are stated in `definition`."""

from __future__ import annotations

from typing import Any

from seamline.engage.definition import Compare, EventFilter

MISSING: Any = None


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path of a JSON object; None when any part is missing."""
    value = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def typed(value: Any, value_type: str) -> str | float | None:
    """The value if it has the type a computed trait reads (numbers as floats), else None."""
    if value_type == "number":
        return float(value) if is_number(value) else None
    return value if isinstance(value, str) else None


def holds(compare: Compare, value: Any) -> bool:
    """Whether `value` (None when missing or null) meets the comparison."""
    op = compare.op
    if op == "exists":
        return value is not None
    if op == "not_exists":
        return value is None
    if op == "!=":
        return not _equals(value, compare.value)
    if op == "not_contains":
        return not (isinstance(value, str) and str(compare.value) in value)
    target = compare.value
    if op == "=":
        return _equals(value, target)
    if op in (">", ">=", "<", "<="):
        if not is_number(value) or not is_number(target):
            return False
        number, bound = float(value), float(target)  # type: ignore[arg-type]
        if op == ">":
            return number > bound
        if op == ">=":
            return number >= bound
        if op == "<":
            return number < bound
        return number <= bound
    if not isinstance(value, str) or not isinstance(target, str):
        return False
    if op == "contains":
        return target in value
    if op == "starts_with":
        return value.startswith(target)
    return value.endswith(target)  # ends_with


def _equals(value: Any, target: Any) -> bool:
    if isinstance(target, bool):
        return isinstance(value, bool) and value is target
    if isinstance(target, str):
        return isinstance(value, str) and value == target
    return is_number(value) and float(value) == target


def matches(events: EventFilter, event: str | None, properties: Any) -> bool:
    """Whether a track event with this name and properties passes the filter."""
    if event != events.event:
        return False
    return all(holds(c, lookup(properties, c.path)) for c in events.where)

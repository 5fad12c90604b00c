"""The readable text form of a definition, shown by the CLI, the API and the console."""

from __future__ import annotations

from seamline.engage.definition import (
    AccountIs,
    All,
    AnyOf,
    Audience,
    Compare,
    ComputedTrait,
    Condition,
    EventFilter,
    InAudience,
    Not,
    Performed,
    Sequence,
    TraitIs,
)

_COUNT = {">=": "at least", "<=": "at most", "=": "exactly"}


def describe(definition: ComputedTrait | Audience) -> str:
    if isinstance(definition, Audience):
        return f"{definition.key}: {_condition(definition.condition)}"
    trait = definition
    what = {
        "event_counter": "count of",
        "aggregation": f"{trait.function} of {trait.property} in",
        "most_frequent": f"most frequent {trait.property} of",
        "first": f"first {trait.property} of",
        "last": f"last {trait.property} of",
        "unique_list": f"distinct {trait.property} values of",
        "unique_list_count": f"number of distinct {trait.property} values of",
    }[trait.kind]
    return f"{trait.key} = {what} {_events(trait.events)}{_window(trait.window)}"


def _condition(condition: Condition, nested: bool = False) -> str:
    if isinstance(condition, All | AnyOf):
        word = " and " if isinstance(condition, All) else " or "
        text = word.join(_condition(part, True) for part in condition.parts)
        return f"({text})" if nested and len(condition.parts) > 1 else text
    if isinstance(condition, Not):
        return f"not {_condition(condition.part, True)}"
    if isinstance(condition, Performed):
        if condition.op == "=" and condition.count == 0:
            return f"did not perform {_events(condition.events)}{_window(condition.window)}"
        times = "time" if condition.count == 1 else "times"
        return (
            f"performed {_events(condition.events)} {_COUNT[condition.op]} {condition.count}"
            f" {times}{_window(condition.window)}"
        )
    if isinstance(condition, TraitIs):
        return _compare(condition.compare)
    if isinstance(condition, InAudience):
        return f"in audience {condition.key}"
    if isinstance(condition, AccountIs):
        return f"an account has {_compare(condition.compare)}"
    assert isinstance(condition, Sequence)
    steps = " then ".join(_events(step) for step in condition.steps)
    return f"{steps} within {_duration(condition.within)}{_window(condition.window)}"


def _events(events: EventFilter) -> str:
    text = f'"{events.event}"'
    if events.where:
        text += " where " + " and ".join(_compare(c) for c in events.where)
    return text


def _compare(compare: Compare) -> str:
    if compare.op in ("exists", "not_exists"):
        return f"{compare.path} {compare.op.replace('_', ' ')}"
    value = compare.value
    shown = (
        f'"{value}"'
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else f"{value:g}"
    )
    return f"{compare.path} {compare.op.replace('_', ' ')} {shown}"


def _window(seconds: int | None) -> str:
    return "" if seconds is None else f" in the last {_duration(seconds)}"


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"

"""The real-time engine's per-profile state for one feature, and the values read from it.

States are JSON-ready so the state store keeps them as they are. A windowed summary keeps its
matching events in the window as `[timestamp µs, log offset, value]` (exact when events age out);
an all-time summary keeps only what its reduction needs (a count, a sum, a set). States of the
profiles merged into one person combine with `merge`.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

from seamline.engage.compare import lookup, matches, typed
from seamline.engage.features import Feature, Steps, Summary

MAX_STEP_EVENTS = 1000  # per step of an all-time sequence; the newest are kept
Entry = list[Any]  # [timestamp µs, log offset, value]


def initial(feature: Feature) -> Any:
    if isinstance(feature, Steps):
        return [[] for _ in feature.steps]
    if feature.window is not None:
        return []
    return {
        "event_counter": 0,
        "aggregation": None,
        "most_frequent": {},
        "first": None,
        "last": None,
        "unique_list": [],
        "unique_list_count": [],
    }[feature.kind]


def add(feature: Feature, state: Any, at: int, offset: int, event: str | None, props: Any) -> Any:
    """The state after one track event (`at` in µs since the epoch); unchanged if it does not
    match."""
    if isinstance(feature, Steps):
        for index, step in enumerate(feature.steps):
            if matches(step, event, props):
                bisect.insort(state[index], at)
                if feature.window is None and len(state[index]) > MAX_STEP_EVENTS:
                    del state[index][0]
        return state
    if not matches(feature.events, event, props):
        return state
    value = None
    if feature.property is not None:
        value = typed(lookup(props, feature.property), feature.value_type)
        if value is None:
            return state
    if feature.window is not None:
        state.append([at, offset, value])
        return state
    kind = feature.kind
    if kind == "event_counter":
        return int(state) + 1
    if kind == "aggregation":
        if state is None:
            return [value, 1, value, value]
        return [state[0] + value, state[1] + 1, min(state[2], value), max(state[3], value)]
    if kind == "most_frequent":
        assert value is not None
        key = _key(value)
        state[key] = state.get(key, 0) + 1
        return state
    if kind == "first":
        return [at, offset, value] if state is None or [at, offset] < state[:2] else state
    if kind == "last":
        return [at, offset, value] if state is None or [at, offset] > state[:2] else state
    if value not in state:  # unique_list, unique_list_count
        bisect.insort(state, value)
    return state


def prune(feature: Feature, state: Any, now: int) -> Any:
    """Drop what has left the window by `now` (µs)."""
    if feature.window is None:
        return state
    cutoff = now - feature.window * 1_000_000
    if isinstance(feature, Steps):
        return [[at for at in times if at >= cutoff] for times in state]
    return [entry for entry in state if entry[0] >= cutoff]


def recheck_at(feature: Feature, state: Any) -> int | None:
    """When (µs) time alone next changes what this state gives, if it can."""
    if feature.window is None:
        return None
    if isinstance(feature, Steps):
        first = state[0]
        return first[0] + feature.window * 1_000_000 if first else None
    if not state:
        return None
    return int(min(entry[0] for entry in state)) + feature.window * 1_000_000


def merge(feature: Feature, states: list[Any]) -> Any:
    """One state from the states of every profile merged into a person."""
    if len(states) == 1:
        return states[0]
    if isinstance(feature, Steps):
        return [
            sorted(at for state in states for at in state[i]) for i in range(len(feature.steps))
        ]
    if feature.window is not None:
        return [entry for state in states for entry in state]
    kind = feature.kind
    present = [state for state in states if state is not None]
    if kind == "event_counter":
        return sum(present)
    if kind == "aggregation":
        if not present:
            return None
        return [
            sum(s[0] for s in present),
            sum(s[1] for s in present),
            min(s[2] for s in present),
            max(s[3] for s in present),
        ]
    if kind == "most_frequent":
        total: Counter[str] = Counter()
        for state in present:
            total.update(state)
        return dict(total)
    if kind == "first":
        return min(present, key=lambda s: s[:2]) if present else None
    if kind == "last":
        return max(present, key=lambda s: s[:2]) if present else None
    return sorted({value for state in present for value in state})


def value(summary: Summary, state: Any, now: int) -> Any:
    """The summary's value for a (merged) state at `now`; None without matching events."""
    if summary.window is not None:
        cutoff = now - summary.window * 1_000_000
        entries = [entry for entry in state if entry[0] >= cutoff]
        return _reduce(summary, entries)
    kind = summary.kind
    if kind == "event_counter":
        return state or None
    if kind == "aggregation":
        return _aggregate(summary.function, state)
    if kind == "most_frequent":
        return _most_frequent({_value(key): count for key, count in state.items()})
    if kind in ("first", "last"):
        return None if state is None else state[2]
    if kind == "unique_list":
        return list(state) or None
    return len(state) or None  # unique_list_count


def sequence_met(steps: Steps, state: Any, now: int) -> bool:
    """Whether some chain of step events, each strictly after the last, spans ≤ `within`."""
    starts = state[0]
    if steps.window is not None:
        cutoff = now - steps.window * 1_000_000
        starts = [at for at in starts if at >= cutoff]
    within = steps.within * 1_000_000
    for first in starts:
        at = first
        for times in state[1:]:
            index = bisect.bisect_right(times, at)
            if index == len(times):
                at = -1
                break
            at = times[index]
        if at >= 0 and at - first <= within:
            return True
    return False


def _reduce(summary: Summary, entries: list[Entry]) -> Any:
    if not entries:
        return None
    kind = summary.kind
    if kind == "event_counter":
        return len(entries)
    values = [entry[2] for entry in entries]
    if kind == "aggregation":
        return _aggregate(summary.function, [sum(values), len(values), min(values), max(values)])
    if kind == "most_frequent":
        return _most_frequent(Counter(values))
    if kind == "first":
        return min(entries, key=lambda e: e[:2])[2]
    if kind == "last":
        return max(entries, key=lambda e: e[:2])[2]
    distinct = sorted(set(values))
    return distinct if kind == "unique_list" else len(distinct)


def _aggregate(function: str | None, state: Any) -> float | None:
    if state is None:
        return None
    total, count, low, high = state
    if function == "sum":
        return float(total)
    if function == "avg":
        return float(total) / int(count)
    return float(low) if function == "min" else float(high)


def _most_frequent(counts: dict[Any, int]) -> Any:
    """The most frequent value; a tie goes to the smallest value (the SQL engine agrees)."""
    if not counts:
        return None
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def _key(value: str | float) -> str:
    return ("n" + repr(value)) if isinstance(value, float) else ("s" + value)


def _value(key: str) -> str | float:
    return float(key[1:]) if key[0] == "n" else key[1:]

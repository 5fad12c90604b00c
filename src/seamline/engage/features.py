"""What a set of definitions reads from a profile's events, named once for both engines.

A `Summary` is one computed-trait-like reduction of matching events (a `performed` condition is
an event counter); `Steps` are the timestamps of a sequence's steps. Both engines work from the
same list, and the real-time engine keeps one state per feature per profile, so two audiences
that count the same events in the same window share it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from seamline.engage.definition import (
    All,
    AnyOf,
    Audience,
    ComputedTrait,
    Condition,
    EventFilter,
    Not,
    Performed,
    Sequence,
)


@dataclass(frozen=True)
class Summary:
    kind: str  # a computed trait kind
    events: EventFilter
    property: str | None = None
    function: str | None = None
    value_type: str = "string"
    window: int | None = None


@dataclass(frozen=True)
class Steps:
    steps: tuple[EventFilter, ...]
    within: int
    window: int | None = None


Feature = Summary | Steps


def of_trait(trait: ComputedTrait) -> Summary:
    return Summary(
        trait.kind, trait.events, trait.property, trait.function, trait.value_type, trait.window
    )


def of_performed(condition: Performed) -> Summary:
    return Summary("event_counter", condition.events, window=condition.window)


def of_sequence(condition: Sequence) -> Steps:
    return Steps(condition.steps, condition.within, condition.window)


@functools.lru_cache(maxsize=4096)
def feature_key(feature: Feature) -> str:
    """A stable name for a feature: equal features share state, a changed one starts anew."""
    kind = "summary" if isinstance(feature, Summary) else "steps"
    text = json.dumps([kind, asdict(feature)], sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def conditions_of(condition: Condition) -> Iterator[Condition]:
    """The condition and every condition nested in it, depth first."""
    yield condition
    if isinstance(condition, All | AnyOf):
        for part in condition.parts:
            yield from conditions_of(part)
    elif isinstance(condition, Not):
        yield from conditions_of(condition.part)


def features_of(
    traits: Iterable[ComputedTrait], audiences: Iterable[Audience]
) -> dict[str, Feature]:
    """Every feature the definitions read, by key."""
    found: dict[str, Feature] = {}
    for trait in traits:
        summary = of_trait(trait)
        found[feature_key(summary)] = summary
    for audience in audiences:
        for condition in conditions_of(audience.condition):
            feature: Feature | None = None
            if isinstance(condition, Performed):
                feature = of_performed(condition)
            elif isinstance(condition, Sequence):
                feature = of_sequence(condition)
            if feature is not None:
                found[feature_key(feature)] = feature
    return found


def filters_of(feature: Feature) -> tuple[EventFilter, ...]:
    return (feature.events,) if isinstance(feature, Summary) else feature.steps


def property_paths(features: Iterable[Feature]) -> list[str]:
    """Every event property path a feature compares or reads, sorted."""
    paths: set[str] = set()
    for feature in features:
        for events in filters_of(feature):
            paths.update(compare.path for compare in events.where)
        if isinstance(feature, Summary) and feature.property:
            paths.add(feature.property)
    return sorted(paths)

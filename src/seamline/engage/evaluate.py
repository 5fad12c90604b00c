"""The real-time engine's evaluation of one person: computed trait values and memberships
from merged feature states, current traits and account traits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seamline.engage import summaries
from seamline.engage.compare import holds
from seamline.engage.definition import (
    AccountIs,
    All,
    AnyOf,
    Condition,
    InAudience,
    Not,
    Performed,
    TraitIs,
)
from seamline.engage.definition import (
    Sequence as StepsCondition,
)
from seamline.engage.features import feature_key, of_performed, of_sequence, of_trait
from seamline.engage.rules import EngageRules


@dataclass
class Facts:
    """What is known of one person: merged feature states by key, traits, account traits."""

    states: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    accounts: Sequence[dict[str, Any]] = ()


def evaluate(rules: EngageRules, facts: Facts, now: int) -> dict[str, Any]:
    """Every definition's value for this person at `now` (µs): computed traits' values and
    audiences' memberships (booleans), by key."""
    values: dict[str, Any] = {}
    for key, trait in rules.traits.items():
        summary = of_trait(trait)
        values[key] = summaries.value(summary, _state(facts, summary), now)
    for key, audience in rules.audiences.items():
        values[key] = _met(audience.condition, facts, values, now)
    return values


def _state(facts: Facts, feature: Any) -> Any:
    state = facts.states.get(feature_key(feature))
    return summaries.initial(feature) if state is None else state


def _met(condition: Condition, facts: Facts, values: dict[str, Any], now: int) -> bool:
    if isinstance(condition, All):
        return all(_met(part, facts, values, now) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(_met(part, facts, values, now) for part in condition.parts)
    if isinstance(condition, Not):
        return not _met(condition.part, facts, values, now)
    if isinstance(condition, Performed):
        summary = of_performed(condition)
        count = summaries.value(summary, _state(facts, summary), now) or 0
        if condition.op == ">=":
            return bool(count >= condition.count)
        if condition.op == "<=":
            return bool(count <= condition.count)
        return bool(count == condition.count)
    if isinstance(condition, TraitIs):
        name = condition.compare.path
        value = values[name] if name in values else facts.traits.get(name)
        return holds(condition.compare, value)
    if isinstance(condition, InAudience):
        return bool(values.get(condition.key))
    if isinstance(condition, AccountIs):
        name = condition.compare.path
        return any(holds(condition.compare, account.get(name)) for account in facts.accounts)
    steps = of_sequence(condition)
    assert isinstance(condition, StepsCondition)
    return summaries.sequence_met(steps, _state(facts, steps), now)

"""A workspace's computed traits and audiences, checked together and ready for both engines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from seamline.engage.definition import (
    AccountIs,
    Audience,
    ComputedTrait,
    InAudience,
    TraitIs,
)
from seamline.engage.features import Feature, conditions_of, features_of, property_paths
from seamline.engage.needs import Needs
from seamline.errors import InvalidInput


@dataclass(frozen=True)
class EngageRules:
    traits: dict[str, ComputedTrait] = field(default_factory=dict)
    audiences: dict[str, Audience] = field(default_factory=dict)
    features: dict[str, Feature] = field(default_factory=dict)
    needs: Needs = field(default_factory=Needs)

    @property
    def empty(self) -> bool:
        return not self.traits and not self.audiences

    def definition_keys(self) -> list[str]:
        return [*self.traits, *self.audiences]

    def only(self, keys: Iterable[str]) -> EngageRules:
        """These definitions and everything they depend on."""
        wanted = set(keys)
        todo = list(wanted)
        while todo:
            key = todo.pop()
            audience = self.audiences.get(key)
            if audience is None:
                continue
            for dependency in _references(audience):
                if dependency not in wanted and (
                    dependency in self.audiences or dependency in self.traits
                ):
                    wanted.add(dependency)
                    todo.append(dependency)
        return build(
            [t for k, t in self.traits.items() if k in wanted],
            [a for k, a in self.audiences.items() if k in wanted],
        )


def build(traits: Iterable[ComputedTrait], audiences: Iterable[Audience]) -> EngageRules:
    """Check keys are unique, audience references exist and nothing depends on itself."""
    by_trait = {t.key: t for t in traits}
    by_audience: dict[str, Audience] = {}
    for audience in audiences:
        if audience.key in by_trait or audience.key in by_audience:
            raise InvalidInput(f"key {audience.key!r} names two definitions; keys are unique")
        by_audience[audience.key] = audience
    for audience in by_audience.values():
        for condition in conditions_of(audience.condition):
            if isinstance(condition, InAudience) and condition.key not in by_audience:
                raise InvalidInput(
                    f"audience {audience.key!r}: no audience {condition.key!r} to be a member of"
                )
            if isinstance(condition, TraitIs):
                _check_trait_use(audience.key, condition, by_trait)
    ordered = _in_dependency_order(by_audience)
    features = features_of(by_trait.values(), ordered.values())
    traits_read: set[str] = set()
    account_traits: set[str] = set()
    for audience in ordered.values():
        for condition in conditions_of(audience.condition):
            if isinstance(condition, TraitIs):
                name = condition.compare.path
                if name not in by_trait and name not in by_audience:
                    traits_read.add(name)
            elif isinstance(condition, AccountIs):
                account_traits.add(condition.compare.path)
    needs = Needs(
        tuple(property_paths(features.values())),
        tuple(sorted(traits_read)),
        tuple(sorted(account_traits)),
    )
    return EngageRules(by_trait, ordered, features, needs)


def _check_trait_use(key: str, condition: TraitIs, traits: dict[str, ComputedTrait]) -> None:
    trait = traits.get(condition.compare.path)
    if (
        trait is not None
        and trait.kind == "unique_list"
        and condition.compare.op not in ("exists", "not_exists")
    ):
        raise InvalidInput(
            f"audience {key!r}: {trait.key!r} is a list; use exists or not_exists, or a "
            "unique_list_count trait to compare its size"
        )


def _references(audience: Audience) -> set[str]:
    found: set[str] = set()
    for condition in conditions_of(audience.condition):
        if isinstance(condition, InAudience):
            found.add(condition.key)
        elif isinstance(condition, TraitIs):
            found.add(condition.compare.path)
    return found


def _in_dependency_order(audiences: dict[str, Audience]) -> dict[str, Audience]:
    ordered: dict[str, Audience] = {}
    visiting: list[str] = []

    def visit(key: str) -> None:
        if key in ordered:
            return
        if key in visiting:
            cycle = " → ".join([*visiting[visiting.index(key) :], key])
            raise InvalidInput(f"audiences depend on themselves: {cycle}")
        visiting.append(key)
        for dependency in sorted(_references(audiences[key])):
            if dependency in audiences:
                visit(dependency)
        visiting.pop()
        ordered[key] = audiences[key]

    for key in audiences:
        visit(key)
    return ordered

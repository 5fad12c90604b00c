"""Computed traits and audiences as workspace resources (kinds `computed_trait`, `audience`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from seamline.engage.definition import (
    Audience,
    ComputedTrait,
    InAudience,
    TraitIs,
    parse_audience,
    parse_trait,
)
from seamline.engage.features import conditions_of
from seamline.engage.rules import EngageRules, build
from seamline.errors import InvalidInput

Lookup = Callable[[str, str], "dict[str, Any] | None"]


def normalise_trait(key: str, document: dict[str, Any]) -> dict[str, Any]:
    parse_trait(key, document)
    return document


def normalise_audience(key: str, document: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    """Check the audience alone and with every definition it reaches (unknown audiences,
    cycles), reading the others through `lookup`."""
    audience = parse_audience(key, document)
    traits: dict[str, ComputedTrait] = {}
    audiences: dict[str, Audience] = {key: audience}
    todo = [audience]
    while todo:
        for condition in conditions_of(todo.pop().condition):
            name = (
                condition.key
                if isinstance(condition, InAudience)
                else (condition.compare.path if isinstance(condition, TraitIs) else None)
            )
            if name is None or name in audiences or name in traits:
                continue
            found = lookup("audience", name)
            if found is not None:
                audiences[name] = parse_audience(name, found)
                todo.append(audiences[name])
                continue
            trait = lookup("computed_trait", name)
            if trait is not None:
                traits[name] = parse_trait(name, trait)
            elif isinstance(condition, InAudience):
                raise InvalidInput(f"audience {key!r}: no audience {name!r} to be a member of")
    build(traits.values(), audiences.values())
    return document


def compile_engage(
    traits: Mapping[str, dict[str, Any]], audiences: Mapping[str, dict[str, Any]]
) -> EngageRules:
    """The workspace's definitions, as stored (each was checked when saved)."""
    return build(
        [parse_trait(key, doc) for key, doc in traits.items()],
        [parse_audience(key, doc) for key, doc in audiences.items()],
    )

"""Destination instances and subscriptions compiled for routing and delivery: triggers and
filters as FQL predicates, mappings as mappers, secrets unsealed — once per configuration
revision."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from seamline.destinations.definition import Action, Destination
from seamline.destinations.mapping import Mapper, compile_mapping
from seamline.destinations.registry import load
from seamline.spec.fql import Predicate, compile_fql


@dataclass(frozen=True)
class CompiledSubscription:
    name: str
    action_key: str
    action: Action
    trigger: Predicate
    mapper: Mapper


@dataclass
class CompiledDestination:
    name: str
    definition: Destination
    settings: Mapping[str, Any]
    drop: Predicate | None
    allow_properties: frozenset[str] | None
    deny_properties: frozenset[str]
    sample_rate: float
    concurrency: int
    rate_limit: float | None
    subscriptions: list[CompiledSubscription] = field(default_factory=list)

    def secret_values(self) -> list[str]:
        """The clear values of the instance's secret settings, to hide from records."""
        names = self.definition.secret_settings()
        return [str(v) for k, v in self.settings.items() if k in names and v]

    def sampled(self, message_id: str) -> bool:
        """Deterministic per message: a replay samples the same messages again."""
        if self.sample_rate >= 1:
            return True
        digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest) / 2**64 < self.sample_rate

    def filtered(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The message after the destination's filters, or None when they drop it."""
        if self.drop is not None and self.drop(message):
            return None
        if self.allow_properties is None and not self.deny_properties:
            return message
        properties = message.get("properties")
        if not isinstance(properties, dict):
            return message
        kept = {
            key: value
            for key, value in properties.items()
            if (self.allow_properties is None or key in self.allow_properties)
            and key not in self.deny_properties
        }
        return {**message, "properties": kept}


def compile_destinations(
    destinations: Mapping[str, dict[str, Any]],
    subscriptions: Mapping[str, dict[str, Any]],
    unseal: Callable[[Any], Any],
    *,
    disabled: bool = False,
) -> dict[str, CompiledDestination]:
    """The enabled instances with their enabled subscriptions; with `disabled`, every one
    (a deletion must reach a disabled instance too: it may still hold the person)."""
    compiled: dict[str, CompiledDestination] = {}
    for name, doc in destinations.items():
        if not doc.get("enabled", True) and not disabled:
            continue
        filters = doc.get("filters") or {}
        allow = filters.get("allow_properties")
        compiled[name] = CompiledDestination(
            name=name,
            definition=load(str(doc["type"])),
            settings={k: unseal(v) for k, v in (doc.get("settings") or {}).items()},
            drop=compile_fql(filters["drop"]) if filters.get("drop") else None,
            allow_properties=frozenset(allow) if allow is not None else None,
            deny_properties=frozenset(filters.get("deny_properties") or ()),
            sample_rate=float(doc.get("sample_rate", 1.0)),
            concurrency=int(doc.get("concurrency", 4)),  # DestinationInstance's default
            rate_limit=doc.get("rate_limit"),
        )
    for name, doc in sorted(subscriptions.items()):
        instance = compiled.get(str(doc["destination"]))
        if instance is None or not (doc.get("enabled", True) or disabled):
            continue
        action = instance.definition.actions.get(str(doc["action"]))
        if action is None:
            continue
        instance.subscriptions.append(
            CompiledSubscription(
                name=name,
                action_key=str(doc["action"]),
                action=action,
                trigger=compile_fql(str(doc["trigger"])),
                mapper=compile_mapping(doc["mapping"]),
            )
        )
    return compiled

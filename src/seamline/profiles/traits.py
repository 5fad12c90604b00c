"""Trait updates from messages, merged per trait by the latest event timestamp."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec

from seamline.spec.envelope import Item
from seamline.spec.messages import Message, decode_part

_object = msgspec.json.Decoder(dict[str, Any])


class _ContextTraits(msgspec.Struct):
    traits: dict[str, Any] | None = None


_context = msgspec.json.Decoder(_ContextTraits)


class _Personas(msgspec.Struct):
    computation_key: str | None = None


class _ComputedContext(msgspec.Struct):
    personas: _Personas | None = None


_computed_context = msgspec.json.Decoder(_ComputedContext)


@dataclass(frozen=True)
class TraitUpdate:
    """One trait set (or removed, when `removed`) on a profile by a message at `at`."""

    profile_id: str
    name: str
    value: Any
    removed: bool
    at: datetime
    source_id: str
    message_id: str


class TraitStore(Protocol):
    def upsert(self, updates: Sequence[TraitUpdate]) -> None:
        """Keep each update unless the stored value of that trait is newer."""
        ...


def trait_updates(batch: Sequence[Item], computed_by: str | None = None) -> list[TraitUpdate]:
    """The newest update per (profile, trait) in the batch, from identify traits and
    `context.traits` of any call; a `null` value removes the trait.

    Messages of the source `computed_by` (Engage's) set only the trait that their
    `context.personas.computation_key` names: like Segment's, they also carry the person's
    email, as the identity graph keeps it (normalised), for destinations; applied, it would
    overwrite the trait the person gave."""
    latest: dict[tuple[str, str], TraitUpdate] = {}
    for item in batch:
        message = item.envelope.message
        if item.profile_id is None or message.timestamp is None:
            continue
        computed = computed_by is not None and item.envelope.source_id == computed_by
        found = _computed(message) if computed else _given(message)
        for name, value in found.items():
            update = TraitUpdate(
                item.profile_id,
                name,
                value,
                value is None,
                message.timestamp,
                item.envelope.source_id,
                message.message_id or "",
            )
            key = (item.profile_id, name)
            current = latest.get(key)
            if current is None or update.at >= current.at:
                latest[key] = update
    return list(latest.values())


def _given(message: Message) -> dict[str, Any]:
    found: dict[str, Any] = {}
    context = decode_part(_context, message.context)
    if context is not None and context.traits:
        found.update(context.traits)
    if message.type == "identify":
        traits = decode_part(_object, message.traits)
        if traits:
            found.update(traits)
    return found


def _computed(message: Message) -> dict[str, Any]:
    """The one trait an Engage identify owns: its computation's key (nothing from another call)."""
    context = decode_part(_computed_context, message.context)
    key = context.personas.computation_key if context and context.personas else None
    if message.type != "identify" or key is None:
        return {}
    traits = decode_part(_object, message.traits)
    return {key: traits[key]} if traits and key in traits else {}


def merge_traits(
    rows: Sequence[tuple[str, Any, bool, datetime, str | None]], *, verbose: bool = False
) -> dict[str, Any]:
    """A profile's traits from the rows of all its merged profiles: latest per name wins.

    Rows are (name, value, removed, updated_at, source_id). With `verbose`, each trait is
    `{"value", "source_id", "updated_at"}` as Segment's Profile API gives it.
    """
    newest: dict[str, tuple[datetime, Any, bool, str | None]] = {}
    for name, value, removed, at, source_id in rows:
        current = newest.get(name)
        if current is None or at >= current[0]:
            newest[name] = (at, value, removed, source_id)
    if not verbose:
        return {name: row[1] for name, row in sorted(newest.items()) if not row[2]}
    return {
        name: {
            "value": value,
            "source_id": source_id,
            "updated_at": at.isoformat().replace("+00:00", "Z"),
        }
        for name, (at, value, removed, source_id) in sorted(newest.items())
        if not removed
    }

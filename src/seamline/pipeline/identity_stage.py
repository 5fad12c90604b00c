"""Identity stage: resolves each message to a profile and records it on the item."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from seamline.identity.graph import IdentityGraph
from seamline.identity.identifiers import Identifier, identifiers_of
from seamline.identity.resolve import Resolution, WorkingSet
from seamline.identity.rules import IdentityRules
from seamline.pipeline.batch import Batch
from seamline.spec.envelope import Envelope, Item


class ResolveIdentities:
    """Runs identity resolution for a batch in one graph transaction per workspace.

    `rules`: the same rules for every workspace, or each workspace's rules in force, asked
    once per workspace per batch (`IdentityRulesCache`: a new active version is seen at the
    next batch)."""

    def __init__(
        self, graph: IdentityGraph, rules: IdentityRules | Callable[[str], IdentityRules]
    ) -> None:
        self._graph = graph
        self._rules_of = rules if callable(rules) else lambda _workspace_id: rules
        self.dropped_identifiers = 0

    def __call__(self, batch: Batch) -> Batch:
        work: dict[str, list[tuple[int, list[Identifier]]]] = {}
        in_force: dict[str, IdentityRules] = {}
        for index, item in enumerate(batch):
            workspace_id = item.envelope.workspace_id
            rules = in_force.get(workspace_id)
            if rules is None:
                rules = in_force[workspace_id] = self._rules_of(workspace_id)
            found = identifiers_of(item.envelope.message, rules)
            if found:
                work.setdefault(workspace_id, []).append((index, found))
        profile_ids: dict[int, str] = {}
        bound = self._graph.identifiers_per_transaction
        for workspace_id, messages in work.items():
            # Consecutive parts in log order: the same outcome as one transaction.
            for todo in _parts(messages, bound):
                wanted = {identifier for _, found in todo for identifier in found}
                checked = {i for _, found in todo if len(found) > 1 for i in found}
                items = [batch[index] for index, _ in todo]
                resolutions = self._graph.resolve(
                    workspace_id,
                    wanted,
                    in_force[workspace_id],
                    functools.partial(_resolve_all, items, todo),
                    checked,
                )
                for (index, _), resolution in zip(todo, resolutions, strict=True):
                    profile_ids[index] = resolution.profile_id
                    self.dropped_identifiers += len(resolution.dropped)
        # Built directly: NamedTuple._replace costs five times as much, per message.
        return [
            Item(item.offset, item.envelope, profile_ids.get(i)) for i, item in enumerate(batch)
        ]


Todo = list[tuple[int, list[Identifier]]]


def _parts(messages: Todo, bound: int | None) -> list[Todo]:
    """`messages` cut where the next one would take the distinct identifiers past `bound`."""
    if bound is None:
        return [messages]
    parts: list[Todo] = [[]]
    seen: set[Identifier] = set()
    for entry in messages:
        fresh = [i for i in entry[1] if i not in seen]
        if parts[-1] and len(seen) + len(fresh) > bound:
            parts.append([])
            seen = set()
            fresh = list(dict.fromkeys(entry[1]))
        parts[-1].append(entry)
        seen.update(fresh)
    return parts


def _resolve_all(
    items: Sequence[Item], todo: Sequence[tuple[int, list[Identifier]]], working: WorkingSet
) -> list[Resolution]:
    out = []
    for item, (_, found) in zip(items, todo, strict=True):
        envelope = item.envelope
        message = envelope.message
        at = message.received_at or message.timestamp
        assert at is not None, "the collector sets receivedAt on every message"
        # Seeded by the message, a new profile's id comes out the same when the log is replayed.
        # Formatted only for a message that creates a profile (the time's text costs ~5 µs).
        seed = functools.partial(_seed, envelope)
        out.append(working.resolve(found, message.message_id or "", at, seed))
    return out


def _seed(envelope: Envelope) -> str:
    message = envelope.message
    at = message.received_at or message.timestamp
    return f"{envelope.workspace_id}\0{envelope.source_id}\0{message.message_id}\0{at}"

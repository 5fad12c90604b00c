"""Identity stage: resolves each message to a profile and records it on the item."""

from __future__ import annotations

from seamline.identity.graph import IdentityGraph
from seamline.identity.identifiers import Identifier, identifiers_of
from seamline.identity.resolve import Resolution, WorkingSet
from seamline.identity.rules import IdentityRules
from seamline.pipeline.batch import Batch


class ResolveIdentities:
    """Runs identity resolution for a batch in one graph transaction per workspace."""

    def __init__(self, graph: IdentityGraph, rules: IdentityRules) -> None:
        self._graph = graph
        self._rules = rules
        self.dropped_identifiers = 0

    def __call__(self, batch: Batch) -> Batch:
        ids: list[list[Identifier]] = [
            identifiers_of(item.envelope.message, self._rules) for item in batch
        ]
        by_workspace: dict[str, list[int]] = {}
        for index, item in enumerate(batch):
            if ids[index]:
                by_workspace.setdefault(item.envelope.workspace_id, []).append(index)
        profile_ids: dict[int, str] = {}
        for workspace_id, indexes in by_workspace.items():
            wanted = {identifier for i in indexes for identifier in ids[i]}

            def work(working: WorkingSet, indexes: list[int] = indexes) -> list[Resolution]:
                out = []
                for i in indexes:
                    message = batch[i].envelope.message
                    at = message.received_at or message.timestamp
                    assert at is not None, "the collector sets receivedAt on every message"
                    out.append(working.resolve(ids[i], message.message_id or "", at))
                return out

            resolutions = self._graph.resolve(workspace_id, wanted, self._rules, work)
            for i, resolution in zip(indexes, resolutions, strict=True):
                profile_ids[i] = resolution.profile_id
                self.dropped_identifiers += len(resolution.dropped)
        return [
            item._replace(profile_id=profile_ids.get(index)) for index, item in enumerate(batch)
        ]

"""Route stage: hands each stored message to the destinations it may reach.

Until the delivery framework (outbox, retries, mappings) lands, a destination here is anything
with a `slug` and a `send(messages)`; this stage already applies what privacy requires on the
way out — consent and per-destination PII controls — and counts what each filtered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from seamline.pipeline.batch import Batch
from seamline.privacy.egress import Egress

_encode = msgspec.json.Encoder().encode
_as_dict = msgspec.json.Decoder(dict[str, Any]).decode


class Destination(Protocol):
    slug: str

    def send(self, messages: list[dict[str, Any]]) -> None: ...


class RouteToDestinations:
    def __init__(
        self, destinations: Sequence[Destination], egress: Callable[[str], Egress]
    ) -> None:
        self._destinations = tuple(destinations)
        self._egress = egress
        self.counts: Counter[tuple[str, str]] = Counter()
        """(destination, outcome) → messages: outcome is sent, consent or pii:<kind>."""

    def __call__(self, batch: Batch) -> Batch:
        if not self._destinations:
            return batch
        outgoing: dict[str, list[dict[str, Any]]] = {d.slug: [] for d in self._destinations}
        for item in batch:
            egress = self._egress(item.envelope.workspace_id)
            message = _as_dict(_encode(item.envelope.message))
            for destination in self._destinations:
                prepared = egress.prepare(destination.slug, message)
                if prepared.message is None:
                    self.counts[destination.slug, prepared.reason] += 1
                    continue
                outgoing[destination.slug].append(prepared.message)
                self.counts[destination.slug, "sent"] += 1
        for destination in self._destinations:
            if outgoing[destination.slug]:
                destination.send(outgoing[destination.slug])
        return batch

"""Saving a resource: check it, resolve what it refers to, seal its secrets — the one path
the management API and `seamline apply` both take."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from seamline.access.sealing import Sealer
from seamline.destinations.addresses import AddressPolicy
from seamline.reverse_etl.models import hidden_model, seal_model
from seamline.workspace.destination_kinds import hidden, seal_settings
from seamline.workspace.kinds import normalise
from seamline.workspace.resources import ResourceStore

Pending = Callable[[str, str], dict[str, Any] | None]


def prepare(
    workspace_id: str,
    kind: str,
    name: str,
    document: Any,
    resources: ResourceStore,
    sealer: Sealer,
    pending: Pending = lambda _kind, _name: None,
    allow_private: Sequence[str] = (),
) -> dict[str, Any]:
    """The document to store: canonical, checked against what it refers to (`pending`
    resources first — those about to be saved with it — then stored ones), secrets sealed.
    A literal destination URL must be one requests may go to (`allow_private` opens
    private ranges, as the `destinations_allow_private` setting does)."""

    def lookup(other_kind: str, other_name: str) -> dict[str, Any] | None:
        found = pending(other_kind, other_name)
        if found is not None:
            return found
        stored = resources.get(workspace_id, other_kind, other_name)
        return None if stored is None else stored.document

    policy = AddressPolicy.allowing(allow_private)
    canonical = normalise(kind, name, document, lookup, policy)
    if kind == "destination":
        previous = resources.get(workspace_id, kind, name)
        canonical = seal_settings(canonical, previous.document if previous else None, sealer)
    elif kind == "model":
        previous = resources.get(workspace_id, kind, name)
        canonical = seal_model(canonical, previous.document if previous else None, sealer)
    return canonical


def shown(kind: str, document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A document as the API and CLI show it: secrets hidden."""
    if document is not None and kind == "destination":
        return hidden(document)
    if document is not None and kind == "model":
        return hidden_model(document)
    return document

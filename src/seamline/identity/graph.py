"""The identity graph's storage interface."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol, TypeVar

from seamline.identity.identifiers import Identifier
from seamline.identity.resolve import Merge, WorkingSet
from seamline.identity.rules import IdentityRules

T = TypeVar("T")


class IdentityGraph(Protocol):
    """Where identifiers, profiles and merges live (the state store)."""

    identifiers_per_transaction: int | None
    """At most this many identifiers per `resolve` (the locks one transaction may hold);
    None: no bound."""

    def resolve(
        self,
        workspace_id: str,
        identifiers: Collection[Identifier],
        rules: IdentityRules,
        work: Callable[[WorkingSet], T],
        checked: Collection[Identifier] = (),
    ) -> T:
        """Run `work` on the working set for `identifiers` and write its changes, atomically.

        The working set holds the owners of `identifiers`, and for the owners of `checked`
        (identifiers of messages that carry several, so may merge) their age and limited
        identifiers. On a server database the identifiers and the owners of `checked` are locked
        for the transaction, so two workers resolving the same person take turns: the outcome is
        the one of resolving their batches one after the other.
        """
        ...

    def canonical(self, workspace_id: str, identifier: Identifier) -> str | None:
        """The current profile of an identifier, following merges."""
        ...

    def merges_of(self, workspace_id: str, profile_id: str) -> list[Merge]:
        """Every merge that built this profile, oldest first."""
        ...

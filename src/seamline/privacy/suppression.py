"""Suppression: a suppressed person's events are dropped and counted, by any of their ids.

Segment's SUPPRESS_ONLY regulation. The list names identifiers (`email:a@b.com`); a message is
suppressed when one of its own identifiers is listed, or when it resolved to a profile that
holds a listed identifier — so a suppressed user's anonymous browsing is dropped too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from seamline.identity.identifiers import Identifier, identifiers_of
from seamline.identity.rules import IdentityRules
from seamline.spec.envelope import Item


class SuppressionList(Protocol):
    def listed(self, workspace_id: str) -> set[Identifier]: ...


class ProfileLookup(Protocol):
    def canonical(self, workspace_id: str, identifier: Identifier) -> str | None: ...


class DropSuppressed:
    """Pipeline stage after identity resolution: keeps only messages of people not suppressed."""

    def __init__(
        self, suppressions: SuppressionList, profiles: ProfileLookup, rules: IdentityRules
    ) -> None:
        self._suppressions = suppressions
        self._profiles = profiles
        self._rules = rules
        self.dropped = 0

    def __call__(self, batch: list[Item]) -> list[Item]:
        kept: list[Item] = []
        blocked: dict[str, tuple[set[Identifier], set[str]]] = {}
        for item in batch:
            workspace = item.envelope.workspace_id
            if workspace not in blocked:
                listed = self._suppressions.listed(workspace)
                blocked[workspace] = (listed, self._profiles_of(workspace, listed))
            listed, profiles = blocked[workspace]
            if listed and self._is_suppressed(item, listed, profiles):
                self.dropped += 1
                continue
            kept.append(item)
        return kept

    def _profiles_of(self, workspace_id: str, listed: Iterable[Identifier]) -> set[str]:
        found = (self._profiles.canonical(workspace_id, identifier) for identifier in listed)
        return {profile for profile in found if profile is not None}

    def _is_suppressed(self, item: Item, listed: set[Identifier], profiles: set[str]) -> bool:
        # The identity stage hands out canonical profile ids, so no lookup per message.
        if item.profile_id in profiles:
            return True
        return any(i in listed for i in identifiers_of(item.envelope.message, self._rules))

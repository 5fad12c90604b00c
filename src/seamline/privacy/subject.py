"""The person a regulation is about, resolved through identity resolution to everything that
identifies them: every identifier of every profile merged into theirs, and those profile ids."""

from __future__ import annotations

import msgspec

from seamline.identity.identifiers import Identifier


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """`identifiers` holds (type, value) pairs as the identity graph normalises them
    (`user_id`, `anonymous_id`, `email`, …); `profile_ids` the canonical profile and every
    profile merged into it. Either may be empty (an id nobody sent yet: suppress only)."""

    workspace_id: str
    identifiers: frozenset[Identifier]
    profile_ids: frozenset[str]

    def values_of(self, id_type: str) -> list[str]:
        return sorted(i.value for i in self.identifiers if i.type == id_type)

    @property
    def user_ids(self) -> list[str]:
        return self.values_of("user_id")

    @property
    def anonymous_ids(self) -> list[str]:
        return self.values_of("anonymous_id")

    @property
    def emails(self) -> list[str]:
        return self.values_of("email")

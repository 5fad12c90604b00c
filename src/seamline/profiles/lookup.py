"""Finding a profile from what a Profile API caller knows about it."""

from __future__ import annotations

from typing import Protocol

from seamline.errors import InvalidInput, NotFound
from seamline.identity.identifiers import Identifier, normalise

PROFILE_ID_TYPES = ("profile_id", "segment_id")


class ProfileIndex(Protocol):
    def canonical(self, workspace_id: str, identifier: Identifier) -> str | None: ...

    def canonical_of_profile(self, profile_id: str) -> str | None: ...


def parse_identifier(text: str) -> Identifier:
    """`type:value` (`user_id:abc`, `email:a@b.com`), or a bare profile id (`use_…`)."""
    if text.startswith("use_") and ":" not in text:
        return Identifier("profile_id", text)
    id_type, separator, value = text.partition(":")
    if not separator or not id_type or not value:
        raise InvalidInput(
            f"identifier {text!r} must look like type:value (user_id:abc, email:a@b.com) "
            "or be a profile id (use_…)"
        )
    normalised = value if id_type in PROFILE_ID_TYPES else normalise(id_type, value)
    if normalised is None:
        raise InvalidInput(f"{value!r} is not a valid {id_type}")
    return Identifier(id_type, normalised)


def find_profile(index: ProfileIndex, workspace_id: str, text: str) -> str:
    """The canonical profile id for an identifier; `NotFound` when nobody has it."""
    identifier = parse_identifier(text)
    if identifier.type in PROFILE_ID_TYPES:
        found = index.canonical_of_profile(identifier.value)
    else:
        found = index.canonical(workspace_id, identifier)
    if found is None:
        raise NotFound(f"Profile was not found: no profile has {identifier}")
    return found

"""What the stores need to know of a person to erase them, without importing the domain.

`privacy.subject.Person` has this shape; the store's erasure functions take any object that
does, so `store/` keeps to its layer (it imports nothing above it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol


class SubjectKeys(Protocol):
    """A resolved person: their workspace, identifiers as (type, value) pairs normalised as the
    identity graph stores them, and every profile id (canonical and merged)."""

    @property
    def workspace_id(self) -> str: ...

    @property
    def identifiers(self) -> Collection[tuple[str, str]]: ...

    @property
    def profile_ids(self) -> Collection[str]: ...

    @property
    def user_ids(self) -> Sequence[str]: ...

    @property
    def anonymous_ids(self) -> Sequence[str]: ...

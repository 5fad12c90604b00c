"""The data inventory: every field path seen per source, with its PII classification.

Only paths, classifications and counts are kept — never a value, so a red field's content
cannot leak through the inventory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import msgspec

from seamline.privacy.fields import classification
from seamline.privacy.pii import Classification, Match

_RANK = {Classification.GREEN: 0, Classification.YELLOW: 1, Classification.RED: 2}


class InventoryEntry(msgspec.Struct, kw_only=True):
    workspace_id: str
    source_id: str
    path: str
    classification: Classification
    kind: str | None
    first_seen: datetime
    last_seen: datetime
    count: int
    last_offset: int


class Inventory(Protocol):
    def entries(self, workspace_id: str, source_id: str | None = None) -> list[InventoryEntry]: ...

    def merge(self, seen: list[InventoryEntry]) -> None:
        """Add counts for entries whose `last_offset` is past the stored one; keep the stricter
        classification. Replaying log records already counted therefore changes nothing."""
        ...


class InventoryBatch:
    """One batch's observations: how many messages had each path, and the strictest
    classification seen for it. Counting is a C-level Counter update per message; the
    classification comes from whichever fields were classified (see `FieldClassifier`)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._counts: dict[tuple[str, str], Counter[str]] = {}
        self._classes: dict[tuple[str, str, str], tuple[Classification, str | None]] = {}
        self._last_offset = -1

    def count(self, workspace_id: str, source_id: str, offset: int, paths: Iterable[str]) -> None:
        """One message had these paths (a path repeated in a list's items counts once)."""
        counter = self._counts.get((workspace_id, source_id))
        if counter is None:
            counter = self._counts[workspace_id, source_id] = Counter()
        counter.update(set(paths))
        self._last_offset = max(self._last_offset, offset)

    def classify(self, workspace_id: str, source_id: str, path: str, matches: list[Match]) -> None:
        if not matches:
            return
        level, kind = classification(matches)
        key = (workspace_id, source_id, path)
        known = self._classes.get(key)
        if known is None or _RANK[level] > _RANK[known[0]]:
            self._classes[key] = (level, kind)

    def entries(self) -> list[InventoryEntry]:
        found: list[InventoryEntry] = []
        for (workspace_id, source_id), counter in self._counts.items():
            for path, count in counter.items():
                level, kind = self._classes.get(
                    (workspace_id, source_id, path), (Classification.GREEN, None)
                )
                found.append(
                    InventoryEntry(
                        workspace_id=workspace_id,
                        source_id=source_id,
                        path=path,
                        classification=level,
                        kind=kind,
                        first_seen=self._now,
                        last_seen=self._now,
                        count=count,
                        last_offset=self._last_offset,
                    )
                )
        return found

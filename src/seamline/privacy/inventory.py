"""The data inventory: every field path seen per source, with its PII classification.

Only paths, classifications and counts are kept — never a value, so a red field's content
cannot leak through the inventory.
"""

from __future__ import annotations

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
    """Collects one batch's observations, one entry per (workspace, source, path)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._entries: dict[tuple[str, str, str], InventoryEntry] = {}

    def observe(
        self, workspace_id: str, source_id: str, offset: int, path: str, matches: list[Match]
    ) -> None:
        key = (workspace_id, source_id, path)
        entry = self._entries.get(key)
        level, kind = classification(matches) if matches else (Classification.GREEN, None)
        if entry is None:
            self._entries[key] = InventoryEntry(
                workspace_id=workspace_id,
                source_id=source_id,
                path=path,
                classification=level,
                kind=kind,
                first_seen=self._now,
                last_seen=self._now,
                count=1,
                last_offset=offset,
            )
            return
        if entry.last_offset != offset:
            # A path repeated inside one message (a list's items) counts once per message.
            entry.count += 1
            entry.last_offset = offset
        if _RANK[level] > _RANK[entry.classification]:
            entry.classification, entry.kind = level, kind

    def entries(self) -> list[InventoryEntry]:
        return list(self._entries.values())

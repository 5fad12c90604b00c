"""The data inventory in the state store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from seamline.privacy.inventory import InventoryEntry
from seamline.privacy.pii import Classification
from seamline.store.state import as_utc, data_inventory

_RANK = {Classification.GREEN: 0, Classification.YELLOW: 1, Classification.RED: 2}


class SqlInventory:
    """`Inventory` over SQLAlchemy Core; the pipeline is its only writer."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def entries(self, workspace_id: str, source_id: str | None = None) -> list[InventoryEntry]:
        query = select(data_inventory).where(data_inventory.c.workspace_id == workspace_id)
        if source_id is not None:
            query = query.where(data_inventory.c.source_id == source_id)
        query = query.order_by(data_inventory.c.source_id, data_inventory.c.path)
        with self._engine.connect() as conn:
            return [_entry(row._mapping) for row in conn.execute(query)]

    def merge(self, seen: list[InventoryEntry]) -> None:
        if not seen:
            return
        sources = {(e.workspace_id, e.source_id) for e in seen}
        with self._engine.begin() as conn:
            stored = {
                (row.workspace_id, row.source_id, row.path): _entry(row._mapping)
                for row in conn.execute(
                    select(data_inventory).where(
                        tuple_(data_inventory.c.workspace_id, data_inventory.c.source_id).in_(
                            sources
                        )
                    )
                )
            }
            rows: list[dict[str, Any]] = []
            for entry in seen:
                old = stored.get((entry.workspace_id, entry.source_id, entry.path))
                if old is not None and entry.last_offset <= old.last_offset:
                    continue  # already counted (a replay after a crash)
                if old is not None:
                    entry.first_seen = old.first_seen
                    entry.count += old.count
                    if _RANK[old.classification] > _RANK[entry.classification]:
                        entry.classification, entry.kind = old.classification, old.kind
                rows.append({f: getattr(entry, f) for f in InventoryEntry.__struct_fields__})
            if rows:
                statement = self._insert(data_inventory)
                changing = ("classification", "kind", "first_seen", "last_seen", "count")
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["workspace_id", "source_id", "path"],
                        set_={
                            **{c: statement.excluded[c] for c in changing},
                            "last_offset": statement.excluded.last_offset,
                        },
                    ),
                    rows,
                )


def _entry(row: Any) -> InventoryEntry:
    return InventoryEntry(
        workspace_id=row["workspace_id"],
        source_id=row["source_id"],
        path=row["path"],
        classification=Classification(row["classification"]),
        kind=row["kind"],
        first_seen=as_utc(row["first_seen"]),
        last_seen=as_utc(row["last_seen"]),
        count=int(row["count"]),
        last_offset=int(row["last_offset"]),
    )

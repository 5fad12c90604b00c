"""Workspaces and sources in the state store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from seamline.collect.sources import Source, same_name
from seamline.errors import Conflict, NotFound
from seamline.store.state import as_utc, sources, workspaces


class SqlSourceStore:
    """`SourceStore` over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure_workspace(self, workspace_id: str, name: str) -> bool:
        """Create the workspace unless it exists; True when it was created."""
        try:
            with self._engine.begin() as conn:
                found = conn.execute(
                    select(workspaces.c.id).where(workspaces.c.id == workspace_id)
                ).first()
                if found is not None:
                    return False
                conn.execute(
                    insert(workspaces).values(
                        id=workspace_id, name=name, created_at=datetime.now(UTC)
                    )
                )
                return True
        except IntegrityError:
            # Another process (roles starting together on one database) created it meanwhile.
            return False

    def create(self, source: Source) -> Source:
        try:
            with self._engine.begin() as conn:
                _check_name_free(conn, source.workspace_id, source.name)
                conn.execute(
                    insert(sources).values(
                        id=source.id,
                        workspace_id=source.workspace_id,
                        name=source.name,
                        write_key=source.write_key,
                        enabled=source.enabled,
                        created_at=source.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(
                "a source with that write key already exists; choose another key or omit it"
            ) from None
        return source

    def update(
        self,
        source_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        write_key: str | None = None,
    ) -> Source:
        """Rename, enable or disable a source, or give it a new write key (the old one stops
        matching at once); NotFound when there is no such source, Conflict on a taken name."""
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = name
        if enabled is not None:
            changes["enabled"] = enabled
        if write_key is not None:
            changes["write_key"] = write_key
        try:
            with self._engine.begin() as conn:
                row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
                if row is None:
                    raise NotFound(f"no source {source_id!r}")
                if name is not None:
                    _check_name_free(conn, row.workspace_id, name, source_id)
                if changes:
                    conn.execute(update(sources).where(sources.c.id == source_id).values(changes))
                found = conn.execute(select(sources).where(sources.c.id == source_id)).one()
        except IntegrityError:
            raise Conflict("a source with that write key already exists") from None
        return _source(found._mapping)

    def by_write_key(self, write_key: str) -> Source | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.write_key == write_key)).first()
        return None if row is None else _source(row._mapping)

    def list(self, workspace_id: str | None = None) -> list[Source]:
        query = select(sources).order_by(sources.c.created_at, sources.c.id)
        if workspace_id is not None:
            query = query.where(sources.c.workspace_id == workspace_id)
        with self._engine.connect() as conn:
            return [_source(row._mapping) for row in conn.execute(query)]


def _check_name_free(
    conn: Connection, workspace_id: str, name: str, source_id: str | None = None
) -> None:
    """Conflict when another source of the workspace has this name (ignoring case)."""
    # Locks the workspace row on PostgreSQL so that two creates (or renames) to one name take
    # turns; SQLite has one writer at a time. (No unique index: a data directory may already
    # hold duplicate names, and a migration must not fail on them.)
    conn.execute(select(workspaces.c.id).where(workspaces.c.id == workspace_id).with_for_update())
    taken = conn.execute(
        select(sources.c.id, sources.c.name).where(sources.c.workspace_id == workspace_id)
    )
    for other_id, other_name in taken:
        if other_id != source_id and same_name(other_name, name):
            raise Conflict(
                f"workspace {workspace_id!r} already has a source named {other_name!r} "
                f"({other_id}); source names are unique, ignoring case: choose another name",
                details={"source_id": other_id},
            )


def _source(row: object) -> Source:
    data = dict(row)  # type: ignore[call-overload]
    return Source(
        id=data["id"],
        workspace_id=data["workspace_id"],
        name=data["name"],
        write_key=data["write_key"],
        enabled=bool(data["enabled"]),
        created_at=as_utc(data["created_at"]),
    )

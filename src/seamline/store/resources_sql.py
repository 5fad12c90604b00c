"""Workspace resources in the state store, with their version history."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from seamline.store.resource_types import Resource, ResourceVersion
from seamline.store.state import as_utc, config_revisions, resource_versions, resources


class SqlResourceStore:
    """`ResourceStore` over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, workspace_id: str, kind: str, name: str, document: dict[str, Any]) -> Resource:
        now = datetime.now(UTC)
        key = _key(workspace_id, kind, name)
        with self._engine.begin() as conn:
            row = conn.execute(select(resources).where(*key)).first()
            if row is not None and row.document == document:
                return _resource(row._mapping)
            version = self._last_version(conn, workspace_id, kind, name) + 1
            values = {"document": document, "version": version, "updated_at": now}
            if row is None:
                conn.execute(
                    insert(resources).values(
                        workspace_id=workspace_id, kind=kind, name=name, **values
                    )
                )
            else:
                conn.execute(update(resources).where(*key).values(**values))
            self._record(conn, workspace_id, kind, name, version, document, now)
        return Resource(kind=kind, name=name, document=document, version=version, updated_at=now)

    def get(self, workspace_id: str, kind: str, name: str) -> Resource | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(resources).where(*_key(workspace_id, kind, name))).first()
        return None if row is None else _resource(row._mapping)

    def list(self, workspace_id: str, kind: str | None = None) -> list[Resource]:
        query = select(resources).where(resources.c.workspace_id == workspace_id)
        if kind is not None:
            query = query.where(resources.c.kind == kind)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(resources.c.kind, resources.c.name))
            return [_resource(row._mapping) for row in rows]

    def delete(self, workspace_id: str, kind: str, name: str) -> bool:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(resources).where(*_key(workspace_id, kind, name)))
            if not gone.rowcount:
                return False
            version = self._last_version(conn, workspace_id, kind, name) + 1
            self._record(conn, workspace_id, kind, name, version, None, datetime.now(UTC))
            return True

    def versions(self, workspace_id: str, kind: str, name: str) -> builtins.list[ResourceVersion]:
        query = (
            select(resource_versions)
            .where(
                resource_versions.c.workspace_id == workspace_id,
                resource_versions.c.kind == kind,
                resource_versions.c.name == name,
            )
            .order_by(resource_versions.c.version)
        )
        with self._engine.connect() as conn:
            return [
                ResourceVersion(
                    version=row.version,
                    document=row.document,
                    created_at=as_utc(row.created_at),
                )
                for row in conn.execute(query)
            ]

    def revision(self, workspace_id: str) -> int:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(config_revisions.c.revision).where(
                    config_revisions.c.workspace_id == workspace_id
                )
            ).scalar()
        return int(found or 0)

    def _last_version(self, conn: Connection, workspace_id: str, kind: str, name: str) -> int:
        # Versions continue across a delete and re-create, so history never repeats a number.
        found = conn.execute(
            select(resource_versions.c.version)
            .where(
                resource_versions.c.workspace_id == workspace_id,
                resource_versions.c.kind == kind,
                resource_versions.c.name == name,
            )
            .order_by(resource_versions.c.version.desc())
            .limit(1)
        ).scalar()
        return int(found or 0)

    def _record(
        self,
        conn: Connection,
        workspace_id: str,
        kind: str,
        name: str,
        version: int,
        document: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        conn.execute(
            insert(resource_versions).values(
                workspace_id=workspace_id,
                kind=kind,
                name=name,
                version=version,
                document=document,
                created_at=now,
            )
        )
        bumped = conn.execute(
            update(config_revisions)
            .where(config_revisions.c.workspace_id == workspace_id)
            .values(revision=config_revisions.c.revision + 1)
        )
        if not bumped.rowcount:
            conn.execute(insert(config_revisions).values(workspace_id=workspace_id, revision=1))


def _key(workspace_id: str, kind: str, name: str) -> tuple[Any, ...]:
    return (
        resources.c.workspace_id == workspace_id,
        resources.c.kind == kind,
        resources.c.name == name,
    )


def _resource(row: Any) -> Resource:
    return Resource(
        kind=row["kind"],
        name=row["name"],
        document=row["document"],
        version=row["version"],
        updated_at=as_utc(row["updated_at"]),
    )

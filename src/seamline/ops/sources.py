"""Sources as the CLI and the management API change them: create, find by id or name, rename,
disable or enable, rotate the write key; and what the audit trail and the API show of one.

The audit trail never holds a write key (`source_document`): it is append-only and readable by
every owner, while a rotated key should be gone for good.

A source disabled or re-keyed here is refused at once by the collect worker of this process
(its write-key cache entry is dropped); other processes keep a cached answer for at most
`WriteKeys`' hit TTL (5 s) before they ask the state store again.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from seamline.collect.sources import Source, SourceStore, WriteKeys, new_source, same_name
from seamline.errors import InvalidInput, NotFound

MAX_NAME = 200  # the column's width


def check_name(name: str) -> str:
    """The name trimmed, or InvalidInput when it is empty or too long."""
    name = name.strip()
    if not name:
        raise InvalidInput("a source's name must not be empty", details={"field": "name"})
    if len(name) > MAX_NAME:
        raise InvalidInput(
            f"a source's name has at most {MAX_NAME} characters", details={"field": "name"}
        )
    return name


def check_write_key(write_key: str) -> str:
    """A chosen write key as given, or InvalidInput: empty, or holding ':' (Basic auth would
    cut it there)."""
    if not write_key.strip() or ":" in write_key or len(write_key) > MAX_NAME:
        raise InvalidInput(
            "a write key must be non-empty, at most 200 characters and contain no ':'",
            details={"field": "write_key"},
        )
    return write_key


def source_document(source: Source) -> dict[str, Any]:
    """What the audit trail records of a source: never its write key."""
    return {"id": source.id, "name": source.name, "enabled": source.enabled}


def source_view(source: Source, *, show_key: bool) -> dict[str, Any]:
    """A source as the API and `sources list --json` show it; the write key masked (its last
    four characters) unless `show_key`."""
    key = source.write_key if show_key else "…" + source.write_key[-4:]
    return {
        "id": source.id,
        "workspace_id": source.workspace_id,
        "name": source.name,
        "write_key": key,
        "write_key_masked": not show_key,
        "enabled": source.enabled,
        "created_at": _iso(source.created_at),
    }


class SourceOps:
    """Changes to sources over a store; `write_keys` (this process's cache) is told about keys
    that stop working."""

    def __init__(self, store: SourceStore, write_keys: WriteKeys | None = None) -> None:
        self.store = store
        self.write_keys = write_keys

    def create(self, workspace_id: str, name: str, write_key: str | None = None) -> Source:
        """A new enabled source (a random write key unless one is given); Conflict when the
        name (ignoring case) or the key is taken."""
        name = check_name(name)
        if write_key is not None:
            write_key = check_write_key(write_key)
        self.store.ensure_workspace(workspace_id, "Default")
        return self.store.create(new_source(name, workspace_id, write_key))

    def find(self, workspace_id: str, id_or_name: str) -> Source:
        """The workspace's source with this id, else with this name (ignoring case)."""
        found = self.store.list(workspace_id)
        for source in found:
            if source.id == id_or_name:
                return source
        for source in found:
            if same_name(source.name, id_or_name):
                return source
        raise NotFound(f"no source {id_or_name!r} in this workspace (an id or a name)")

    def change(
        self, source: Source, *, name: str | None = None, enabled: bool | None = None
    ) -> Source:
        """Rename and/or enable or disable `source`; a disabled source's key is refused at
        collect with 401, as an unknown key is."""
        changed = self.store.update(
            source.id, name=None if name is None else check_name(name), enabled=enabled
        )
        if enabled is not None:  # a cached refusal must not outlive enabling either
            self._forget(source.write_key)
        return changed

    def rotate(self, source: Source) -> Source:
        """A new random write key for `source`; the old one stops working."""
        changed = self.store.update(source.id, write_key=secrets.token_urlsafe(24))
        self._forget(source.write_key)
        return changed

    def _forget(self, write_key: str) -> None:
        if self.write_keys is not None:
            self.write_keys.forget(write_key)


def _iso(at: datetime) -> str:
    return at.isoformat()

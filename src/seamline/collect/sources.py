"""Sources: where messages come from, and the write keys that authenticate them."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Protocol

import msgspec

DEFAULT_WORKSPACE_ID = "default"


class Source(msgspec.Struct, frozen=True, kw_only=True):
    """A source of messages in a workspace; its write key authenticates Tracking API calls."""

    id: str
    workspace_id: str
    name: str
    write_key: str
    enabled: bool = True
    created_at: datetime


class SourceStore(Protocol):
    """Where sources are kept (the state store)."""

    def ensure_workspace(self, workspace_id: str, name: str) -> bool: ...

    def create(self, source: Source) -> Source:
        """Store a new source; Conflict when its write key is taken, or when its workspace
        already has a source of the same name (ignoring case): names pick sources in `apply`."""
        ...

    def by_write_key(self, write_key: str) -> Source | None: ...

    def list(self, workspace_id: str | None = None) -> list[Source]: ...

    def update(
        self,
        source_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        write_key: str | None = None,
    ) -> Source:
        """Rename, enable/disable or re-key a source; NotFound, or Conflict on a taken name."""
        ...


def same_name(first: str, second: str) -> bool:
    """Whether two source names are the same name: `Website` and `website` are."""
    return first.strip().casefold() == second.strip().casefold()


def new_source(name: str, workspace_id: str, write_key: str | None = None) -> Source:
    """A new enabled source; a random write key unless one is given."""
    return Source(
        id="src_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        name=name,
        write_key=write_key or secrets.token_urlsafe(24),
        created_at=datetime.now(UTC),
    )


class WriteKeys:
    """Resolves write keys to enabled sources, caching answers briefly.

    Sources can be created or disabled by another process (the CLI) while the server runs, so
    both hits and misses expire; misses expire quickly so a new key works within a second.
    """

    def __init__(self, store: SourceStore, *, hit_ttl: float = 5.0, miss_ttl: float = 1.0) -> None:
        self._store = store
        self._hit_ttl = hit_ttl
        self._miss_ttl = miss_ttl
        self._cache: dict[str, tuple[float, Source | None]] = {}

    def resolve(self, write_key: str) -> Source | None:
        """The enabled source with this write key, or None."""
        now = time.monotonic()
        cached = self._cache.get(write_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        source = self._store.by_write_key(write_key)
        if source is not None and not source.enabled:
            source = None
        if len(self._cache) > 10_000:
            self._cache.clear()
        ttl = self._hit_ttl if source is not None else self._miss_ttl
        self._cache[write_key] = (now + ttl, source)
        return source

    def forget(self, write_key: str) -> None:
        """Drop what this process cached for `write_key` (a source disabled or re-keyed here
        takes effect at once here; other processes see it when their entry expires)."""
        self._cache.pop(write_key, None)

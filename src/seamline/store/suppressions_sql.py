"""Suppressions in the state store: keyed digests of identifiers, per workspace and source.

`suppressions` (plain identifiers, before regulations existed) is read only to move its rows
into `suppressed` as digests (`rehash`), which needs each workspace's salt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import chunks, suppressed, suppressions

WORKSPACE_WIDE = ""
Digests = dict[str, frozenset[str]]
"""One workspace's suppressions: digests by source id (`""`: every source)."""


class SqlSuppressionList:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def suppress(
        self,
        workspace_id: str,
        digests: Iterable[str],
        *,
        source_id: str = WORKSPACE_WIDE,
        regulation_id: str | None = None,
    ) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "workspace_id": workspace_id,
                "source_id": source_id,
                "digest": d,
                "regulation_id": regulation_id,
                "created_at": now,
            }
            for d in sorted(set(digests))
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            for part in range(0, len(rows), 500):
                conn.execute(
                    self._insert(suppressed)
                    .values(rows[part : part + 500])
                    .on_conflict_do_nothing()
                )

    def unsuppress(
        self, workspace_id: str, digests: Iterable[str], *, source_id: str = WORKSPACE_WIDE
    ) -> int:
        removed = 0
        with self._engine.begin() as conn:
            for part in chunks(sorted(set(digests)), 500):
                removed += conn.execute(
                    delete(suppressed).where(
                        suppressed.c.workspace_id == workspace_id,
                        suppressed.c.source_id == source_id,
                        suppressed.c.digest.in_(part),
                    )
                ).rowcount
        return removed

    def digests(self, workspace_id: str) -> Digests:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(suppressed.c.source_id, suppressed.c.digest).where(
                    suppressed.c.workspace_id == workspace_id
                )
            ).all()
        by_source: dict[str, set[str]] = {}
        for source_id, found in rows:
            by_source.setdefault(source_id, set()).add(found)
        return {s: frozenset(d) for s, d in by_source.items()}

    def everywhere(self) -> dict[str, Digests]:
        """Every workspace's suppressions (what a collect worker caches)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(suppressed.c.workspace_id, suppressed.c.source_id, suppressed.c.digest)
            ).all()
        found: dict[str, dict[str, set[str]]] = {}
        for workspace_id, source_id, value in rows:
            found.setdefault(workspace_id, {}).setdefault(source_id, set()).add(value)
        return {w: {s: frozenset(d) for s, d in by.items()} for w, by in found.items()}

    def rehash(self, digest_of: Callable[[str, str, str], str]) -> int:
        """Move plain suppressions (kept before 0013) into digests; returns how many moved.
        `digest_of(workspace_id, type, value)` is the suppression digest."""
        with self._engine.begin() as conn:
            rows = conn.execute(
                select(suppressions.c.workspace_id, suppressions.c.type, suppressions.c.value)
            ).all()
            if not rows:
                return 0
            now = datetime.now(UTC)
            values = [
                {
                    "workspace_id": w,
                    "source_id": WORKSPACE_WIDE,
                    "digest": digest_of(w, t, v),
                    "regulation_id": None,
                    "created_at": now,
                }
                for w, t, v in rows
            ]
            conn.execute(self._insert(suppressed).values(values).on_conflict_do_nothing())
            conn.execute(
                delete(suppressions).where(
                    tuple_(
                        suppressions.c.workspace_id, suppressions.c.type, suppressions.c.value
                    ).in_([tuple(r) for r in rows])
                )
            )
        return len(rows)

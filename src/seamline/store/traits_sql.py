"""Profile traits in the state store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from seamline.profiles.traits import TraitUpdate, merge_traits
from seamline.store.state import as_utc, chunks, profile_traits, profiles

_TRAIT_ROWS = select(
    profile_traits.c.name,
    profile_traits.c.value,
    profile_traits.c.removed,
    profile_traits.c.updated_at,
    profile_traits.c.source_id,
)


class SqlTraitStore:
    """`TraitStore` with an upsert that never lets an older event overwrite a newer one."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def upsert(self, updates: Sequence[TraitUpdate]) -> None:
        statement = self._insert(profile_traits)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[profile_traits.c.profile_id, profile_traits.c.name],
            set_={
                "value": excluded.value,
                "removed": excluded.removed,
                "updated_at": excluded.updated_at,
                "source_id": excluded.source_id,
                "message_id": excluded.message_id,
            },
            where=excluded.updated_at >= profile_traits.c.updated_at,
        )
        with self._engine.begin() as conn:
            conn.execute(
                statement,
                [
                    {
                        "profile_id": u.profile_id,
                        "name": u.name,
                        "value": None if u.removed else u.value,
                        "removed": u.removed,
                        "updated_at": u.at,
                        "source_id": u.source_id,
                        "message_id": u.message_id,
                    }
                    for u in updates
                ],
            )

    def traits_of_account(self, account_id: str) -> dict[str, Any]:
        """Current traits of an account (group profile)."""
        with self._engine.connect() as conn:
            rows = conn.execute(_TRAIT_ROWS.where(profile_traits.c.profile_id == account_id))
            return _merged(rows)

    def profiles_with(self, name: str, value: Any, limit: int) -> list[str]:
        """Canonical profiles whose current trait `name` equals `value` (for search)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(profiles.c.canonical_id)
                .join(profile_traits, profiles.c.id == profile_traits.c.profile_id)
                .where(profile_traits.c.name == name, profile_traits.c.removed.is_(False))
                .distinct()
            )
            candidates = [str(row[0]) for row in rows]
        found = []
        for canonical in candidates:
            # Compare against the merged, current value: an older value on a merged
            # profile must not match.
            if self.traits_of(canonical).get(name) == value:
                found.append(canonical)
                if len(found) >= limit:
                    break
        return found

    def traits_of_people(
        self, people: Mapping[str, list[str]], names: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Current traits (only `names`, when given) of many people at once: {canonical id:
        traits} from the rows of every profile merged into each (`people` maps canonical id →
        those profile ids)."""
        owner = {pid: canonical for canonical, members in people.items() for pid in members}
        rows: dict[str, list[tuple[str, Any, bool, datetime, str | None]]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(owner, 5000):
                query = select(profile_traits.c.profile_id, *_TRAIT_ROWS.selected_columns).where(
                    profile_traits.c.profile_id.in_(chunk)
                )
                if names is not None:
                    query = query.where(profile_traits.c.name.in_(names))
                found = conn.execute(query)
                for pid, name, value, removed, at, source in found:
                    rows.setdefault(owner[pid], []).append(
                        (name, value, bool(removed), as_utc(at), source)
                    )
        return {canonical: merge_traits(found) for canonical, found in rows.items()}

    def traits_of(self, canonical_id: str, *, verbose: bool = False) -> dict[str, Any]:
        """Current traits of a canonical profile, across every profile merged into it."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                _TRAIT_ROWS.join(profiles, profiles.c.id == profile_traits.c.profile_id).where(
                    profiles.c.canonical_id == canonical_id
                )
            )
            return _merged(rows, verbose=verbose)


def _merged(rows: Any, *, verbose: bool = False) -> dict[str, Any]:
    return merge_traits(
        [
            (name, value, bool(removed), as_utc(at), source)
            for name, value, removed, at, source in rows
        ],
        verbose=verbose,
    )

"""Engage's tables in the state store: feature states, values and memberships, rechecks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import (
    account_members,
    chunks,
    engage_features,
    engage_rechecks,
    engage_states,
    engage_values,
    identities,
    merges,
    profiles,
)

_CHUNK = 5000  # ids per IN list, under SQLite's limit of 32,766 bound parameters


class SqlEngageStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- people ---------------------------------------------------------------------------------

    def people_of(self, profile_ids: Iterable[str]) -> dict[str, list[str]]:
        """{canonical id: every profile id merged into it} for the people these profiles are."""
        # Only merged profiles come back from the database: most people are one profile, and
        # fetching a row per person cost 3 s of the stage's 14 s over 300 k events.
        profile_ids = list(profile_ids)
        moved: dict[str, str] = {}
        merged: dict[str, list[str]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(profile_ids, _CHUNK):
                rows = conn.execute(
                    select(profiles.c.id, profiles.c.canonical_id).where(
                        profiles.c.id.in_(chunk), profiles.c.id != profiles.c.canonical_id
                    )
                )
                moved.update((str(raw), str(canonical)) for raw, canonical in rows)
            canonicals = {moved.get(pid, pid) for pid in profile_ids}
            for chunk in chunks(canonicals, _CHUNK):
                rows = conn.execute(
                    select(profiles.c.id, profiles.c.canonical_id).where(
                        profiles.c.canonical_id.in_(chunk), profiles.c.id != profiles.c.canonical_id
                    )
                )
                for raw, canonical in rows:
                    merged.setdefault(str(canonical), []).append(str(raw))
        people = {canonical: [canonical, *merged.get(canonical, [])] for canonical in canonicals}
        return people

    def merges_after(self, workspace_id: str, after: int) -> tuple[int, list[str]]:
        """(newest merge id, profiles merged into) of the merges after `after`; -1 asks only
        for the newest id."""
        with self._engine.connect() as conn:
            if after < 0:
                newest = conn.execute(
                    select(merges.c.id).order_by(merges.c.id.desc()).limit(1)
                ).scalar()
                return int(newest or 0), []
            rows = conn.execute(
                select(merges.c.id, merges.c.into_profile)
                .where(merges.c.workspace_id == workspace_id, merges.c.id > after)
                .order_by(merges.c.id)
            ).all()
        return (int(rows[-1][0]) if rows else after), [str(row[1]) for row in rows]

    def identifiers_of_people(
        self, canonical_ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Each person's identifiers (type, value), oldest first."""
        found: dict[str, list[dict[str, Any]]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(canonical_ids, _CHUNK):
                rows = conn.execute(
                    select(profiles.c.canonical_id, identities.c.type, identities.c.value)
                    .join(profiles, profiles.c.id == identities.c.profile_id)
                    .where(profiles.c.canonical_id.in_(chunk))
                    .order_by(identities.c.first_seen, identities.c.type, identities.c.value)
                )
                for canonical, kind, value in rows:
                    found.setdefault(str(canonical), []).append({"type": kind, "value": value})
        return found

    def account_members(self, account_ids: Iterable[str]) -> set[str]:
        """Every profile that joined one of these accounts."""
        found: set[str] = set()
        with self._engine.connect() as conn:
            for chunk in chunks(account_ids, _CHUNK):
                rows = conn.execute(
                    select(account_members.c.profile_id).where(
                        account_members.c.account_id.in_(chunk)
                    )
                )
                found.update(str(pid) for (pid,) in rows)
        return found

    def merged_profiles(self, workspace_id: str) -> list[tuple[str, str]]:
        """(profile id, canonical id) of every profile merged into another."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(profiles.c.id, profiles.c.canonical_id).where(
                    profiles.c.workspace_id == workspace_id,
                    profiles.c.id != profiles.c.canonical_id,
                )
            )
            return [(str(a), str(b)) for a, b in rows]

    # -- feature states -------------------------------------------------------------------------

    def states(self, workspace_id: str, profile_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(profile_ids, _CHUNK):
                rows = conn.execute(
                    select(engage_states.c.profile_id, engage_states.c.states).where(
                        engage_states.c.workspace_id == workspace_id,
                        engage_states.c.profile_id.in_(chunk),
                    )
                )
                found.update({str(pid): dict(states) for pid, states in rows})
        return found

    def save_states(self, workspace_id: str, rows: Mapping[str, dict[str, Any]]) -> None:
        self.save(workspace_id, rows, {})

    def save(
        self,
        workspace_id: str,
        rows: Mapping[str, dict[str, Any]],
        rechecks: Mapping[str, int | None],
    ) -> None:
        """States and recheck times in one transaction (each commit fsyncs the state store)."""
        if not rows and not rechecks:
            return
        with self._engine.begin() as conn:
            self._write_states(conn, workspace_id, rows)
            self._write_rechecks(conn, workspace_id, rechecks)

    def _write_states(
        self, conn: Connection, workspace_id: str, rows: Mapping[str, dict[str, Any]]
    ) -> None:
        if rows:
            statement = self._insert(engage_states)
            statement = statement.on_conflict_do_update(
                index_elements=[engage_states.c.workspace_id, engage_states.c.profile_id],
                set_={"states": statement.excluded.states},
            )
            conn.execute(
                statement,
                [
                    {"workspace_id": workspace_id, "profile_id": pid, "states": states}
                    for pid, states in rows.items()
                ],
            )

    def hydrated(self, workspace_id: str) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(engage_features.c.feature_key, engage_features.c.hydrated_through).where(
                    engage_features.c.workspace_id == workspace_id
                )
            )
            return {str(key): int(through) for key, through in rows}

    def mark_hydrated(self, workspace_id: str, keys: Iterable[str], through: int) -> None:
        values = [
            {"workspace_id": workspace_id, "feature_key": key, "hydrated_through": through}
            for key in keys
        ]
        if values:
            with self._engine.begin() as conn:
                conn.execute(self._insert(engage_features).on_conflict_do_nothing(), values)

    # -- values and memberships -----------------------------------------------------------------

    def values(
        self, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, tuple[Any, int]]]:
        """{canonical id: {key: (value, version)}}."""
        found: dict[str, dict[str, tuple[Any, int]]] = {}
        with self._engine.connect() as conn:
            for chunk in chunks(profile_ids, _CHUNK):
                rows = conn.execute(
                    select(
                        engage_values.c.profile_id,
                        engage_values.c.key,
                        engage_values.c.value,
                        engage_values.c.version,
                    ).where(
                        engage_values.c.workspace_id == workspace_id,
                        engage_values.c.profile_id.in_(chunk),
                    )
                )
                for pid, key, value, version in rows:
                    found.setdefault(str(pid), {})[str(key)] = (value, int(version))
        return found

    def save_values(
        self, workspace_id: str, changes: Sequence[tuple[str, str, Any, int]], at: datetime
    ) -> None:
        """Store (profile, key, value, version) rows."""
        if not changes:
            return
        statement = self._insert(engage_values)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[
                engage_values.c.workspace_id,
                engage_values.c.profile_id,
                engage_values.c.key,
            ],
            set_={
                "value": excluded.value,
                "version": excluded.version,
                "updated_at": excluded.updated_at,
            },
        )
        with self._engine.begin() as conn:
            conn.execute(
                statement,
                [
                    {
                        "workspace_id": workspace_id,
                        "profile_id": pid,
                        "key": key,
                        "value": value,
                        "version": version,
                        "updated_at": at,
                    }
                    for pid, key, value, version in changes
                ],
            )

    def forget(self, workspace_id: str, key: str) -> None:
        """Drop every value of a deleted definition."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(engage_values).where(
                    engage_values.c.workspace_id == workspace_id, engage_values.c.key == key
                )
            )

    def members(self, workspace_id: str, key: str, limit: int, after: str = "") -> list[str]:
        """Canonical profiles in audience `key`, by id, after `after`."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(engage_values.c.profile_id, engage_values.c.value)
                .join(profiles, profiles.c.id == engage_values.c.profile_id)
                .where(
                    engage_values.c.workspace_id == workspace_id,
                    engage_values.c.key == key,
                    profiles.c.canonical_id == profiles.c.id,
                    engage_values.c.profile_id > after,
                )
                .order_by(engage_values.c.profile_id)
            )
            found = []
            for pid, value in rows:
                if value is True:
                    found.append(str(pid))
                    if len(found) >= limit:
                        break
            return found

    def count(self, workspace_id: str, key: str) -> int:
        """How many canonical profiles have a true or non-null value for `key`."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(engage_values.c.value)
                .join(profiles, profiles.c.id == engage_values.c.profile_id)
                .where(
                    engage_values.c.workspace_id == workspace_id,
                    engage_values.c.key == key,
                    profiles.c.canonical_id == profiles.c.id,
                )
            )
            return sum(1 for (value,) in rows if value is not None and value is not False)

    # -- rechecks -------------------------------------------------------------------------------

    def set_rechecks(self, workspace_id: str, rechecks: Mapping[str, int | None]) -> None:
        self.save(workspace_id, {}, rechecks)

    def _write_rechecks(
        self, conn: Connection, workspace_id: str, rechecks: Mapping[str, int | None]
    ) -> None:
        gone = [pid for pid, at in rechecks.items() if at is None]
        due = [
            {"workspace_id": workspace_id, "profile_id": pid, "recheck_at": at}
            for pid, at in rechecks.items()
            if at is not None
        ]
        for chunk in chunks(gone, _CHUNK):
            conn.execute(
                delete(engage_rechecks).where(
                    tuple_(engage_rechecks.c.workspace_id, engage_rechecks.c.profile_id).in_(
                        [(workspace_id, pid) for pid in chunk]
                    )
                )
            )
        if due:
            statement = self._insert(engage_rechecks)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[engage_rechecks.c.workspace_id, engage_rechecks.c.profile_id],
                    set_={"recheck_at": statement.excluded.recheck_at},
                ),
                due,
            )

    def due(self, now: int, limit: int) -> list[tuple[str, str]]:
        """(workspace, canonical profile) whose values time alone may have changed by `now`."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(engage_rechecks.c.workspace_id, engage_rechecks.c.profile_id)
                .where(engage_rechecks.c.recheck_at <= now)
                .order_by(engage_rechecks.c.recheck_at)
                .limit(limit)
            )
            return [(str(w), str(p)) for w, p in rows]

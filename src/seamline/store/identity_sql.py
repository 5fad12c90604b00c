"""The identity graph in the state store (SQLAlchemy Core; SQLite or PostgreSQL).

Identifiers point at the profile they were first attached to; each profile records the
canonical profile it now belongs to (itself unless merged). Merging re-points `canonical_id`
instead of moving identifiers, which keeps every merge reversible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, text, update

from seamline.errors import Conflict, NotFound
from seamline.identity.identifiers import Identifier
from seamline.identity.resolve import Changes, Merge, ProfileState, WorkingSet
from seamline.identity.rules import IdentityRules
from seamline.store.state import as_utc, chunks, identities, merges, profiles, separations

T = TypeVar("T")

# Built once: expanding IN parameters keep SQLAlchemy's compiled-statement cache warm.
_OWNERS = (
    select(identities.c.value, profiles.c.canonical_id, identities.c.last_seen)
    .join(profiles, profiles.c.id == identities.c.profile_id)
    .where(
        identities.c.workspace_id == bindparam("workspace_id"),
        identities.c.type == bindparam("type"),
        identities.c.value.in_(bindparam("values", expanding=True)),
    )
)
_SEEN = (
    update(identities)
    .where(
        identities.c.workspace_id == bindparam("w"),
        identities.c.type == bindparam("t"),
        identities.c.value == bindparam("v"),
        identities.c.last_seen < bindparam("at"),
    )
    .values(last_seen=bindparam("at"))
)
_profile_a = profiles.alias("profile_a")
_profile_b = profiles.alias("profile_b")
# Every separation of the workspace (unmerges are rare), mapped to today's canonical profiles;
# a profile that does not exist yet — a rebuild replaying the log — stands for itself, since
# profile ids are derived from the message that creates them.
_SEPARATED = (
    select(
        func.coalesce(_profile_a.c.canonical_id, separations.c.profile_a),
        func.coalesce(_profile_b.c.canonical_id, separations.c.profile_b),
    )
    .select_from(separations)
    .outerjoin(_profile_a, _profile_a.c.id == separations.c.profile_a)
    .outerjoin(_profile_b, _profile_b.c.id == separations.c.profile_b)
    .where(separations.c.workspace_id == bindparam("workspace_id"))
)
_CREATED = select(profiles.c.id, profiles.c.created_at).where(
    profiles.c.id.in_(bindparam("ids", expanding=True))
)
_LIMITED = (
    select(profiles.c.canonical_id, identities.c.type, identities.c.value, identities.c.last_seen)
    .join(profiles, profiles.c.id == identities.c.profile_id)
    .where(
        profiles.c.canonical_id.in_(bindparam("ids", expanding=True)),
        identities.c.type.in_(bindparam("types", expanding=True)),
    )
)
_CHUNK = 500


class SqlIdentityGraph:
    """`IdentityGraph` over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def resolve(
        self,
        workspace_id: str,
        identifiers: Collection[Identifier],
        rules: IdentityRules,
        work: Callable[[WorkingSet], T],
        checked: Collection[Identifier] = (),
    ) -> T:
        with self._engine.begin() as conn:
            if self._postgres:
                self._lock(conn, workspace_id, identifiers)
            working = self._load(conn, workspace_id, identifiers, rules, checked)
            result = work(working)
            self._write(conn, workspace_id, working.changes)
        return result

    def _lock(self, conn: Connection, workspace_id: str, ids: Collection[Identifier]) -> None:
        # Transaction-scoped advisory locks on each identifier, taken in a fixed order so two
        # workers never deadlock; a worker resolving the same person waits for the other.
        keys = sorted({_lock_key(workspace_id, identifier) for identifier in ids})
        for key in keys:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _load(
        self,
        conn: Connection,
        workspace_id: str,
        ids: Collection[Identifier],
        rules: IdentityRules,
        checked: Collection[Identifier],
    ) -> WorkingSet:
        owners: dict[Identifier, str] = {}
        seen_at: dict[Identifier, datetime] = {}
        windowed = rules.windowed_types()
        by_type: dict[str, list[str]] = {}
        for identifier in ids:
            by_type.setdefault(identifier.type, []).append(identifier.value)
        for id_type, values in by_type.items():
            for chunk in chunks(values, _CHUNK):
                rows = conn.execute(
                    _OWNERS, {"workspace_id": workspace_id, "type": id_type, "values": chunk}
                )
                for value, canonical, seen in rows:
                    identifier = Identifier(id_type, value)
                    owners[identifier] = canonical
                    if id_type in windowed:
                        seen_at[identifier] = as_utc(seen)
        # Only profiles a message with several identifiers points at can merge or break a
        # limit; the rest (most traffic: one anonymous id) need no state loaded.
        at_risk = sorted({owners[i] for i in checked if i in owners})
        states: dict[str, ProfileState] = {}
        limited = sorted(rules.limited_types())
        for chunk in chunks(at_risk, _CHUNK):
            for pid, created in conn.execute(_CREATED, {"ids": chunk}):
                states[pid] = ProfileState(pid, as_utc(created))
            if not limited:
                continue
            for canonical, id_type, value, last_seen in conn.execute(
                _LIMITED, {"ids": chunk, "types": limited}
            ):
                identifier = Identifier(id_type, value)
                states[canonical].identifiers[identifier] = as_utc(last_seen)
                owners.setdefault(identifier, canonical)
        separated: set[frozenset[str]] = set()
        for first, second in conn.execute(_SEPARATED, {"workspace_id": workspace_id}):
            if first != second:
                separated.add(frozenset((first, second)))
        return WorkingSet(rules, owners, states, seen_at, separated)

    def _write(self, conn: Connection, workspace_id: str, changes: Changes) -> None:
        if changes.new_profiles:
            conn.execute(
                insert(profiles),
                [
                    {
                        "id": p.id,
                        "workspace_id": workspace_id,
                        "canonical_id": p.id,
                        "merged_into": None,
                        "created_at": p.created_at,
                        "first_message_id": None,
                    }
                    for p in changes.new_profiles
                ],
            )
        if changes.new_identities:
            conn.execute(
                insert(identities),
                [
                    {
                        "workspace_id": workspace_id,
                        "type": identifier.type,
                        "value": identifier.value,
                        "profile_id": profile_id,
                        "first_seen": at,
                        "last_seen": at,
                        "first_message_id": message_id,
                    }
                    for identifier, profile_id, at, message_id in changes.new_identities
                ],
            )
        if changes.seen:
            conn.execute(
                _SEEN,
                [
                    {"w": workspace_id, "t": identifier.type, "v": identifier.value, "at": at}
                    for identifier, at in changes.seen.items()
                ],
            )
        for merge in changes.merges:
            conn.execute(
                update(profiles)
                .where(profiles.c.canonical_id == merge.from_id)
                .values(canonical_id=merge.into_id)
            )
            conn.execute(
                update(profiles)
                .where(profiles.c.id == merge.from_id)
                .values(merged_into=merge.into_id)
            )
            conn.execute(
                insert(merges).values(
                    workspace_id=workspace_id,
                    from_profile=merge.from_id,
                    into_profile=merge.into_id,
                    message_id=merge.message_id,
                    identifiers=[str(identifier) for identifier in merge.identifiers],
                    merged_at=merge.at,
                )
            )

    def unmerge(self, workspace_id: str, merge_id: int) -> tuple[str, str]:
        """Undo a recorded merge: the merged profile (with what was merged into it before)
        becomes its own person again, and the two are never merged again.

        Returns (split-off profile, profile it was merged into).
        """
        with self._engine.begin() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0})
            row = conn.execute(
                select(merges).where(merges.c.id == merge_id, merges.c.workspace_id == workspace_id)
            ).first()
            if row is None:
                raise NotFound(f"no merge {merge_id}; see `seamline profiles merge-history`")
            if row.undone_at is not None:
                raise Conflict(f"merge {merge_id} was already undone")
            now = datetime.now(UTC)
            conn.execute(update(merges).where(merges.c.id == merge_id).values(undone_at=now))
            conn.execute(
                update(profiles).where(profiles.c.id == row.from_profile).values(merged_into=None)
            )
            subtree = [row.from_profile]
            frontier = [row.from_profile]
            while frontier:
                children = [
                    str(child)
                    for (child,) in conn.execute(
                        select(profiles.c.id).where(profiles.c.merged_into.in_(frontier))
                    )
                ]
                subtree += children
                frontier = children
            for chunk in chunks(subtree, _CHUNK):
                conn.execute(
                    update(profiles)
                    .where(profiles.c.id.in_(chunk))
                    .values(canonical_id=row.from_profile)
                )
            conn.execute(
                insert(separations).values(
                    workspace_id=workspace_id,
                    profile_a=row.from_profile,
                    profile_b=row.into_profile,
                    merge_id=merge_id,
                    created_at=now,
                )
            )
        return str(row.from_profile), str(row.into_profile)

    def canonical(self, workspace_id: str, identifier: Identifier) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(profiles.c.canonical_id)
                .join(identities, profiles.c.id == identities.c.profile_id)
                .where(
                    identities.c.workspace_id == workspace_id,
                    identities.c.type == identifier.type,
                    identities.c.value == identifier.value,
                )
            ).first()
        return None if row is None else str(row[0])

    def canonical_of_profile(self, profile_id: str) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(profiles.c.canonical_id).where(profiles.c.id == profile_id)
            ).first()
        return None if row is None else str(row[0])

    def created_at(self, canonical_id: str) -> datetime | None:
        """When the first of the profiles merged into `canonical_id` was created."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(profiles.c.created_at).where(profiles.c.canonical_id == canonical_id)
            )
            times = [as_utc(row[0]) for row in rows]
        return min(times) if times else None

    def members(self, canonical_id: str) -> list[str]:
        """Every profile id merged into `canonical_id`, itself included."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(profiles.c.id).where(profiles.c.canonical_id == canonical_id)
            )
            return sorted(str(row[0]) for row in rows)

    def identifiers_of(self, canonical_id: str) -> list[dict[str, Any]]:
        """The identifiers of a canonical profile, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    identities.c.type,
                    identities.c.value,
                    identities.c.first_seen,
                    identities.c.last_seen,
                    identities.c.first_message_id,
                )
                .join(profiles, profiles.c.id == identities.c.profile_id)
                .where(profiles.c.canonical_id == canonical_id)
                .order_by(identities.c.first_seen, identities.c.type, identities.c.value)
            )
            return [dict(row._mapping) for row in rows]

    def merges_of(self, workspace_id: str, profile_id: str) -> list[Merge]:
        members = self.members(profile_id)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(merges)
                .where(
                    merges.c.workspace_id == workspace_id,
                    merges.c.into_profile.in_(members),
                    merges.c.undone_at.is_(None),
                )
                .order_by(merges.c.merged_at, merges.c.id)
            )
            return [
                Merge(
                    row.from_profile,
                    row.into_profile,
                    row.message_id,
                    tuple(_parse_identifier(text) for text in row.identifiers),
                    as_utc(row.merged_at),
                    row.id,
                )
                for row in rows
            ]


def _parse_identifier(text: str) -> Identifier:
    id_type, _, value = text.partition(":")
    return Identifier(id_type, value)


def _lock_key(workspace_id: str, identifier: Identifier) -> int:
    digest = hashlib.blake2b(f"{workspace_id}\0{identifier}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)

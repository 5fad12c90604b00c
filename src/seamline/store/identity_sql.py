"""The identity graph in the state store (SQLAlchemy Core; SQLite or PostgreSQL).

Identifiers point at the profile they were first attached to; each profile records the
canonical profile it now belongs to (itself unless merged). Merging re-points `canonical_id`
instead of moving identifiers, which keeps every merge reversible.

Two pipeline workers on PostgreSQL may resolve batches of the same workspace at once; advisory
locks make the result one that the same batches resolved one after the other would give. A
transaction takes its locks in two phases, each in sorted key order, and never goes back to
the first, so no two transactions wait for each other in a cycle:

1. one lock per identifier of the batch: whoever attaches a new identifier holds its lock, so
   two workers never create two profiles for one identifier;
2. one lock per existing profile that the batch may change: the canonical owners of the
   identifiers of messages that carry several (only those can merge profiles or attach new
   identifiers to one). Every merge, attachment and unmerge happens under the locks of the
   profiles it changes, so once a transaction holds them and has checked that the identifiers'
   owners did not move between reading them and locking, what it reads of those profiles stays
   true until it commits. If they did move (a merge that committed meanwhile), it lets go of
   everything and starts again.

SQLite takes no locks and reads nothing twice: embedded mode runs one pipeline process, the
graph's only writer. (Its driver begins a transaction at the first write, so reads before it
would not protect a second writer anyway.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import (
    Connection,
    Engine,
    insert,
    select,
    text,
    update,
)

from seamline.errors import Conflict, NotFound, Unavailable
from seamline.identity.identifiers import Identifier
from seamline.identity.resolve import Changes, Merge, ProfileState, WorkingSet
from seamline.identity.rules import IdentityRules
from seamline.store.identity_statements_sql import (
    ATTEMPTS,
    CHUNK,
    CREATED,
    IDENTIFIERS_PER_TRANSACTION,
    INSERT_IDENTITIES_SQLITE,
    INSERT_PROFILES_SQLITE,
    LIMITED,
    LOCK_IDENTIFIERS,
    LOCK_PROFILES,
    OWNERS_POSTGRES,
    OWNERS_SQLITE,
    SEEN,
    SEPARATED,
    lock_key,
    profile_key,
    sqlite_time,
    stored_time,
)
from seamline.store.state import as_utc, chunks, identities, merges, profiles, separations

T = TypeVar("T")

_json = msgspec.json.Encoder(enc_hook=str)  # str subclasses (`SentValue`) as their text


class SqlIdentityGraph:
    """`IdentityGraph` over SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite takes no locks (one pipeline process writes the graph): a batch is one
        # transaction there.
        self.identifiers_per_transaction = IDENTIFIERS_PER_TRANSACTION if self._postgres else None

    def resolve(
        self,
        workspace_id: str,
        identifiers: Collection[Identifier],
        rules: IdentityRules,
        work: Callable[[WorkingSet], T],
        checked: Collection[Identifier] = (),
    ) -> T:
        for _ in range(ATTEMPTS):
            with self._engine.begin() as conn:
                working = self._locked_working_set(conn, workspace_id, identifiers, rules, checked)
                if working is None:
                    # A merge moved the owners before the locks were ours: leaving the (still
                    # empty) transaction lets go of every lock, so none is waited for out of
                    # order.
                    continue
                result = work(working)
                self._write(conn, workspace_id, working.changes)
            return result
        # A TimeoutError is an OSError: the pipeline's guard retries the batch whole, later,
        # rather than holding its messages as if they were at fault.
        raise TimeoutError(
            f"the identity graph of workspace {workspace_id!r} kept changing while a batch was "
            f"being resolved ({ATTEMPTS} attempts)"
        )

    def _locked_working_set(
        self,
        conn: Connection,
        workspace_id: str,
        ids: Collection[Identifier],
        rules: IdentityRules,
        checked: Collection[Identifier],
    ) -> WorkingSet | None:
        """The working set, read under the locks that keep it true; None if a concurrent merge
        moved it between the first read and the profile locks."""
        if self._postgres:
            self._lock_identifiers(conn, workspace_id, ids)
        owners, seen_at = self._owners(conn, workspace_id, ids, rules.windowed_types())
        # Only profiles a message with several identifiers points at can merge or break a
        # limit; the rest (most traffic: one anonymous id) need no state loaded, nor locks.
        at_risk = sorted({owners[i] for i in checked if i in owners})
        if self._postgres and at_risk:
            self._lock_profiles(conn, workspace_id, at_risk)
            # An identifier without an owner keeps none (its lock is ours); one with an owner
            # may have moved to another profile if a merge committed before the lock was ours.
            owned = [i for i in checked if i in owners]
            now, _ = self._owners(conn, workspace_id, owned, frozenset())
            if any(now.get(identifier) != owners[identifier] for identifier in owned):
                return None
        return self._working_set(conn, workspace_id, rules, owners, seen_at, at_risk)

    def _lock_identifiers(
        self, conn: Connection, workspace_id: str, ids: Collection[Identifier]
    ) -> None:
        # Phase 1 (see the module's docstring): a worker resolving the same person waits.
        keys = sorted({lock_key(workspace_id, identifier) for identifier in ids})
        conn.execute(LOCK_IDENTIFIERS, {"keys": keys})

    def _lock_profiles(self, conn: Connection, workspace_id: str, ids: Collection[str]) -> None:
        # Phase 2: a worker changing the same profiles waits.
        keys = sorted({profile_key(workspace_id, profile_id) for profile_id in ids})
        conn.execute(LOCK_PROFILES, {"keys": keys})

    def _owners(
        self,
        conn: Connection,
        workspace_id: str,
        ids: Collection[Identifier],
        windowed: frozenset[str],
    ) -> tuple[dict[Identifier, str], dict[Identifier, datetime]]:
        """The canonical profile of each identifier that has one, and when the windowed ones
        were last seen."""
        owners: dict[Identifier, str] = {}
        seen_at: dict[Identifier, datetime] = {}
        by_type: dict[str, list[str]] = {}
        for identifier in ids:
            by_type.setdefault(identifier.type, []).append(identifier.value)
        statement = OWNERS_POSTGRES if self._postgres else OWNERS_SQLITE
        for id_type, values in by_type.items():
            lists: Iterable[list[str] | str] = (
                chunks(values, CHUNK) if self._postgres else [_json.encode(values).decode()]
            )
            for listed in lists:
                rows = conn.execute(
                    statement, {"workspace_id": workspace_id, "type": id_type, "values": listed}
                ).all()
                if id_type in windowed:
                    for value, canonical, seen in rows:
                        identifier = Identifier(id_type, value)
                        owners[identifier] = canonical
                        seen_at[identifier] = stored_time(seen)
                else:
                    for value, canonical, _ in rows:
                        owners[Identifier(id_type, value)] = canonical
        return owners, seen_at

    def _working_set(
        self,
        conn: Connection,
        workspace_id: str,
        rules: IdentityRules,
        owners: dict[Identifier, str],
        seen_at: dict[Identifier, datetime],
        at_risk: list[str],
    ) -> WorkingSet:
        states: dict[str, ProfileState] = {}
        limited = sorted(rules.limited_types())
        for chunk in chunks(at_risk, CHUNK):
            for pid, created in conn.execute(CREATED, {"ids": chunk}):
                states[pid] = ProfileState(pid, stored_time(created))
            if not limited:
                continue
            for canonical, id_type, value, last_seen in conn.execute(
                LIMITED, {"ids": chunk, "types": limited}
            ):
                identifier = Identifier(id_type, value)
                states[canonical].identifiers[identifier] = stored_time(last_seen)
                owners.setdefault(identifier, canonical)
        separated: set[frozenset[str]] = set()
        for first, second in conn.execute(SEPARATED, {"workspace_id": workspace_id}):
            if first != second:
                separated.add(frozenset((first, second)))
        return WorkingSet(rules, owners, states, seen_at, separated)

    def _write(self, conn: Connection, workspace_id: str, changes: Changes) -> None:
        if not self._postgres:
            self._insert_sqlite(conn, workspace_id, changes)
        elif changes.new_profiles:
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
        if self._postgres and changes.new_identities:
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
                        "sent_value": _sent(identifier),
                    }
                    for identifier, profile_id, at, message_id in changes.new_identities
                ],
            )
        if changes.seen:
            conn.execute(
                SEEN,
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

    def _insert_sqlite(self, conn: Connection, workspace_id: str, changes: Changes) -> None:
        if changes.new_profiles:
            rows: list[tuple[str | None, ...]] = [
                (p.id, workspace_id, p.id, sqlite_time(p.created_at)) for p in changes.new_profiles
            ]
            conn.execute(INSERT_PROFILES_SQLITE, {"rows": _json.encode(rows).decode()})
        if changes.new_identities:
            rows = []
            for identifier, profile_id, at, message_id in changes.new_identities:
                when = sqlite_time(at)
                rows.append(
                    (
                        workspace_id,
                        identifier.type,
                        identifier.value,
                        profile_id,
                        when,
                        when,
                        message_id,
                        _sent(identifier),
                    )
                )
            conn.execute(INSERT_IDENTITIES_SQLITE, {"rows": _json.encode(rows).decode()})

    def unmerge(self, workspace_id: str, merge_id: int) -> tuple[str, str]:
        """Undo a recorded merge: the merged profile (with what was merged into it before)
        becomes its own person again, and the two are never merged again.

        Returns (split-off profile, profile it was merged into).
        """
        for _ in range(ATTEMPTS):
            with self._engine.begin() as conn:
                if self._postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0})
                row = conn.execute(
                    select(merges).where(
                        merges.c.id == merge_id, merges.c.workspace_id == workspace_id
                    )
                ).first()
                if row is None:
                    raise NotFound(f"no merge {merge_id}; see `seamline profiles merge-history`")
                if row.undone_at is not None:
                    raise Conflict(f"merge {merge_id} was already undone")
                if self._postgres and not self._lock_person(conn, workspace_id, row.from_profile):
                    continue  # merged on meanwhile: let go of the lock and look again
                now = datetime.now(UTC)
                conn.execute(update(merges).where(merges.c.id == merge_id).values(undone_at=now))
                conn.execute(
                    update(profiles)
                    .where(profiles.c.id == row.from_profile)
                    .values(merged_into=None)
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
                for chunk in chunks(subtree, CHUNK):
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
        raise Unavailable(f"the profiles of merge {merge_id} kept changing; try again")

    def _lock_person(self, conn: Connection, workspace_id: str, profile_id: str) -> bool:
        """Lock the canonical profile of `profile_id`, as a merge into or out of it does;
        False if a merge moved it before the lock was ours."""
        person = self._canonical_in(conn, profile_id)
        if person is None:
            return True
        self._lock_profiles(conn, workspace_id, [person])
        return self._canonical_in(conn, profile_id) == person

    def _canonical_in(self, conn: Connection, profile_id: str) -> str | None:
        found = conn.execute(
            select(profiles.c.canonical_id).where(profiles.c.id == profile_id)
        ).scalar()
        return None if found is None else str(found)

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
        """The identifiers of a canonical profile, oldest first; `sent_value` is the value as
        first sent where it differs from the normalised `value` (None otherwise)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    identities.c.type,
                    identities.c.value,
                    identities.c.first_seen,
                    identities.c.last_seen,
                    identities.c.first_message_id,
                    identities.c.sent_value,
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
                    row.kind,
                    row.score,
                )
                for row in rows
            ]


def _sent(identifier: Identifier) -> str | None:
    # Only a value whose spelling normalisation changed carries one (a phone number).
    sent = identifier.sent
    return None if sent == identifier.value else sent


def _parse_identifier(text: str) -> Identifier:
    id_type, _, value = text.partition(":")
    return Identifier(id_type, value)

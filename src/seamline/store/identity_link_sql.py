"""Merging two people on evidence rather than a shared identifier: probabilistic matching's
merges and a reviewer's accepted proposals.

The merge is written exactly as the resolver writes one (`identity_sql`): the younger person's
profiles are re-pointed at the older one's canonical id and the merge is recorded, here with
its `kind` and `score`, so `profiles unmerge` undoes it like any other. On PostgreSQL it holds
the advisory locks of both people, the locks the resolver takes before it changes a profile,
and checks that neither moved before the locks were its own.

A merge never does what the resolver would refuse: two people an unmerge separated stay
apart, and the merged person may not hold more values of a limited identifier type (two
`user_id`s, say) than the identity rules allow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import Connection, Engine, insert, or_, select, update

from seamline.errors import Conflict, NotFound, Unavailable
from seamline.store.identity_statements_sql import LOCK_PROFILES, profile_key
from seamline.store.state import as_utc, identities, merges, profiles, separations

_ATTEMPTS = 100


class _Rule(Protocol):
    @property
    def limit(self) -> int | None: ...
    @property
    def window_seconds(self) -> int | None: ...


class Limits(Protocol):
    """What a merge must respect of the identity rules (identity.rules.IdentityRules is one);
    named by shape so the store does not import the domain package."""

    def limited_types(self) -> frozenset[str]: ...
    def rule(self, id_type: str) -> _Rule: ...


class Linked(NamedTuple):
    merge_id: int
    from_profile: str
    into_profile: str


class KeptApart(Conflict):
    """The two people may not be merged (separated by an unmerge, or over a limit)."""

    code = "kept_apart"


def link_people(
    engine: Engine,
    workspace_id: str,
    pair: tuple[str, str],
    rules: Limits,
    *,
    kind: str,
    score: float | None,
    cause: str,
    at: datetime,
) -> Linked | None:
    """Merge the people of the two profiles in `pair`; None if they are one person already.

    `cause` stands where a deterministic merge names its message (`proposal:12`). Raises
    NotFound for an unknown profile and KeptApart when the merge is not allowed.
    """
    postgres = engine.dialect.name == "postgresql"
    for _ in range(_ATTEMPTS):
        with engine.begin() as conn:
            people = _people(conn, pair)
            if people[0] == people[1]:
                return None
            if postgres:
                keys = sorted({profile_key(workspace_id, person) for person in people})
                conn.execute(LOCK_PROFILES, {"keys": keys})
                if _people(conn, pair) != people:
                    continue  # a merge moved one of them meanwhile: look again
            _check_allowed(conn, workspace_id, people, rules, at)
            into, other = _older_first(conn, people)
            conn.execute(
                update(profiles).where(profiles.c.canonical_id == other).values(canonical_id=into)
            )
            conn.execute(update(profiles).where(profiles.c.id == other).values(merged_into=into))
            merge_id = conn.execute(
                insert(merges)
                .values(
                    workspace_id=workspace_id,
                    from_profile=other,
                    into_profile=into,
                    message_id=cause,
                    identifiers=[],
                    merged_at=at,
                    kind=kind,
                    score=score,
                )
                .returning(merges.c.id)
            ).scalar_one()
            return Linked(int(merge_id), other, into)
    raise Unavailable("the two profiles kept changing while being merged; try again")


def _people(conn: Connection, pair: tuple[str, str]) -> tuple[str, str]:
    rows = conn.execute(
        select(profiles.c.id, profiles.c.canonical_id).where(profiles.c.id.in_(pair))
    )
    found = {str(pid): str(canonical) for pid, canonical in rows}
    missing = [pid for pid in pair if pid not in found]
    if missing:
        raise NotFound(f"no profile {missing[0]}")
    return found[pair[0]], found[pair[1]]


def _members(conn: Connection, person: str) -> list[str]:
    rows = conn.execute(select(profiles.c.id).where(profiles.c.canonical_id == person))
    return [str(pid) for (pid,) in rows]


def _check_allowed(
    conn: Connection,
    workspace_id: str,
    people: tuple[str, str],
    rules: Limits,
    at: datetime,
) -> None:
    first, second = _members(conn, people[0]), _members(conn, people[1])
    s = separations.c
    apart = conn.execute(
        select(s.id).where(
            s.workspace_id == workspace_id,
            or_(
                s.profile_a.in_(first) & s.profile_b.in_(second),
                s.profile_a.in_(second) & s.profile_b.in_(first),
            ),
        )
    ).first()
    if apart is not None:
        raise KeptApart(
            f"profiles {people[0]} and {people[1]} were separated by an unmerge; "
            "they are never merged again"
        )
    limited = sorted(rules.limited_types())
    if not limited:
        return
    values: dict[str, set[str]] = {}
    for id_type, value, last_seen in conn.execute(
        select(identities.c.type, identities.c.value, identities.c.last_seen).where(
            identities.c.workspace_id == workspace_id,
            identities.c.profile_id.in_(first + second),
            identities.c.type.in_(limited),
        )
    ):
        window = rules.rule(str(id_type)).window_seconds
        # As the resolver counts: a windowed type only by the values seen within its window.
        if window is None or as_utc(last_seen) >= at - timedelta(seconds=window):
            values.setdefault(str(id_type), set()).add(str(value))
    for id_type, found in sorted(values.items()):
        limit = rules.rule(id_type).limit
        if limit is not None and len(found) > limit:
            raise KeptApart(
                f"merging would give one person {len(found)} {id_type} values; "
                f"the identity rules allow {limit}",
                details={"type": id_type, "limit": limit},
            )


def _older_first(conn: Connection, people: tuple[str, str]) -> tuple[str, str]:
    # The older person survives, as the resolver keeps the older profile.
    rows = conn.execute(
        select(profiles.c.id, profiles.c.created_at).where(profiles.c.id.in_(people))
    )
    created = {str(pid): as_utc(at) for pid, at in rows}
    first, second = sorted(people, key=lambda person: (created[person], person))
    return first, second

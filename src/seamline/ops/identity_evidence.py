"""Every person's matching evidence, read from the state store in a few queries."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from seamline.identity.evidence import FIELDS, IDENTIFIER_FIELDS, READ_TRAITS, evidence_record
from seamline.store.state import identities, profiles
from seamline.store.traits_sql import SqlTraitStore


def evidence_records(
    engine: Engine, workspace_id: str, limit: int
) -> dict[str, dict[str, str | None]]:
    """{canonical profile id: record} for every person of the workspace with any evidence
    (a profile known only by an anonymous id offers none and is left out).

    Raises ValueError past `limit` people, the workspace's `matching.max_records`: matching
    holds every record in memory at once.
    """
    people: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for pid, canonical in conn.execute(
            select(profiles.c.id, profiles.c.canonical_id).where(
                profiles.c.workspace_id == workspace_id
            )
        ):
            people.setdefault(str(canonical), []).append(str(pid))
            if len(people) > limit:
                raise ValueError(
                    f"the workspace has more than {limit} profiles, matching.max_records"
                )
        found: dict[str, list[tuple[str, str]]] = {}
        for id_type, value, canonical in conn.execute(
            select(identities.c.type, identities.c.value, profiles.c.canonical_id)
            .join(profiles, profiles.c.id == identities.c.profile_id)
            .where(
                identities.c.workspace_id == workspace_id,
                identities.c.type.in_(sorted(IDENTIFIER_FIELDS)),
            )
            .order_by(identities.c.first_seen)
        ):
            found.setdefault(str(canonical), []).append((str(id_type), str(value)))
    traits = SqlTraitStore(engine).traits_of_people(people, READ_TRAITS)
    records = {}
    for canonical in people:
        record = evidence_record(canonical, traits.get(canonical, {}), found.get(canonical, ()))
        if any(record[field] is not None for field in FIELDS):
            records[canonical] = record
    return records


def known_links(engine: Engine, workspace_id: str, limit: int) -> list[dict[str, str | None]]:
    """Records of the profiles deterministic resolution merged, one per profile with its own
    traits and identifiers and `known_id` naming its person: the matching engine leaves them out
    of training and reports how many of these known links its model finds (a check without
    labels). At most `limit` people; only people with two or more profiles that offer evidence."""
    members: dict[str, list[str]] = {}
    with engine.connect() as conn:
        merged = (
            select(profiles.c.canonical_id)
            .where(profiles.c.workspace_id == workspace_id)
            .group_by(profiles.c.canonical_id)
            .having(func.count() > 1)
            .order_by(profiles.c.canonical_id)
            .limit(limit)
            .subquery()
        )
        for pid, canonical in conn.execute(
            select(profiles.c.id, profiles.c.canonical_id).where(
                profiles.c.canonical_id.in_(select(merged.c.canonical_id))
            )
        ):
            members.setdefault(str(canonical), []).append(str(pid))
        own: dict[str, list[tuple[str, str]]] = {}
        ids = [pid for group in members.values() for pid in group]
        for start in range(0, len(ids), 500):
            for id_type, value, pid in conn.execute(
                select(identities.c.type, identities.c.value, identities.c.profile_id)
                .where(
                    identities.c.workspace_id == workspace_id,
                    identities.c.profile_id.in_(ids[start : start + 500]),
                    identities.c.type.in_(sorted(IDENTIFIER_FIELDS)),
                )
                .order_by(identities.c.first_seen)
            ):
                own.setdefault(str(pid), []).append((str(id_type), str(value)))
    # Each profile on its own: traits are read per profile, not across the person.
    traits = SqlTraitStore(engine).traits_of_people({pid: [pid] for pid in ids}, READ_TRAITS)
    found: list[dict[str, str | None]] = []
    for canonical, group in members.items():
        records = [
            evidence_record(f"known:{pid}", traits.get(pid, {}), own.get(pid, ())) for pid in group
        ]
        records = [r for r in records if any(r[field] is not None for field in FIELDS)]
        if len(records) > 1:
            found += [{**record, "known_id": canonical} for record in records]
    return found

"""Every person's matching evidence, read from the state store in a few queries."""

from __future__ import annotations

from sqlalchemy import Engine, select

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

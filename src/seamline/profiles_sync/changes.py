"""What a Profiles Sync target has not been given yet: a diff of the state store's identity
graph and traits against the target's snapshot (`store.profiles_sync_sql`).

Diffing, rather than a journal of changes, makes the warehouse's graph equal to the state
store's by construction: a merge, an unmerge (which re-points a subtree of profiles back), a
rebuild with new identity rules and a privacy deletion all show up the same way, as profiles
whose canonical id is not the one the target last saw (or that are gone).

Rows follow Segment's Profiles Sync tables (names in `profiles_sync.tables`). A row's `id` is a
digest of what it says, so a run retried after a crash repeats the same ids and the writers
drop the repeats.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from seamline.profiles.traits import merge_traits
from seamline.store.profiles_sync_sql import (
    profiles_sync_graph,
    profiles_sync_ids,
    profiles_sync_traits,
)
from seamline.store.state import as_utc, chunks, identities, merges, profile_traits, profiles

_CHUNK = 500


@dataclass
class Delta:
    """One run's rows per table, the canonical ids whose materialized rows are replaced, and
    the snapshot the target has once it took them."""

    raw: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    materialized: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    replaced: set[str] = field(default_factory=set)
    """Canonical ids whose rows in the materialized tables are deleted, then written anew."""
    removed_profiles: list[str] = field(default_factory=list)
    graph: dict[str, str] = field(default_factory=dict)
    ids: list[tuple[str, str, str]] = field(default_factory=list)
    traits: list[tuple[str, str, datetime]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = {table: len(rows) for table, rows in self.raw.items()}
        found["profiles_replaced"] = len(self.replaced)
        found["profiles_removed"] = len(self.removed_profiles)
        return found

    def empty(self) -> bool:
        return not (self.raw or self.replaced or self.removed_profiles)


def row_id(*parts: object) -> str:
    """A stable id for a row: the same change always gets the same id."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def diff(conn: Connection, target: str, workspace_id: str, now: datetime) -> Delta:
    """Everything the target lacks, as rows, with the snapshot to record once it has them."""
    delta = Delta()
    stamp = {"uuid_ts": now, "received_at": now}
    _graph(conn, target, workspace_id, delta, stamp)
    _identifiers(conn, target, workspace_id, delta, stamp)
    touched = _traits(conn, target, workspace_id, delta)
    # A canonical profile whose members or traits changed gets a profile_traits_updates row
    # with all its traits now, as Segment writes one for the canonical id after a merge.
    canonical = _canonical_of(conn, touched) if touched else {}
    changed = delta.replaced | set(canonical.values())
    existing = _existing(conn, changed)
    delta.replaced |= set(canonical.values())
    for canonical_id in sorted(changed & existing):
        _materialize(conn, canonical_id, delta, stamp)
    # What caused each canonical profile's row goes into its id: the same traits written again
    # by a later change (an unmerge giving a profile back what it had) is a new row, while a
    # retried run (same snapshot, same causes) repeats the same id.
    causes: dict[str, list[str]] = defaultdict(list)
    for row in delta.raw.get("id_graph_updates", []):
        causes[str(row["canonical_segment_id"])].append(str(row["id"]))
    for profile_id, name, at in delta.traits:
        causes[canonical.get(profile_id, profile_id)].append(f"{profile_id}/{name}/{at}")
    for canonical_id in sorted(set(canonical.values()) & existing):
        traits = _traits_of(conn, canonical_id)
        delta.raw["profile_traits_updates"].append(
            {
                "id": row_id(
                    "traits", canonical_id, sorted(traits.items()), sorted(causes[canonical_id])
                ),
                "canonical_segment_id": canonical_id,
                "segment_id": canonical_id,
                "traits": traits,
                "timestamp": now,
                "seq": _seq(now),
                **stamp,
            }
        )
    return delta


def _graph(
    conn: Connection, target: str, workspace_id: str, delta: Delta, stamp: dict[str, Any]
) -> None:
    synced = profiles_sync_graph.alias("synced")
    query = (
        select(profiles.c.id, profiles.c.canonical_id, profiles.c.created_at, synced.c.canonical_id)
        .select_from(profiles)
        .outerjoin(synced, and_(synced.c.target == target, synced.c.profile_id == profiles.c.id))
        .where(
            profiles.c.workspace_id == workspace_id,
            synced.c.canonical_id.is_(None) | (synced.c.canonical_id != profiles.c.canonical_id),
        )
    )
    changed = [(str(a), str(b), as_utc(c), d) for a, b, c, d in conn.execute(query)]
    befores = {str(before) for _, _, _, before in changed if before is not None}
    now_of = _canonical_of(conn, befores)
    moved_by = _latest_merges(conn, befores)
    for profile_id, canonical_id, created_at, before in changed:
        event_id: str | None
        if before is None:
            # New to the target; merged already if its canonical is another profile.
            kind = "created" if profile_id == canonical_id else "merged"
            event_id, at = _first_message(conn, profile_id), created_at
        elif now_of.get(str(before)) == canonical_id and str(before) in moved_by:
            # The profile it belonged to was merged on: a merge (recursive entries included).
            kind = "merged"
            event_id, at = moved_by[str(before)]
        else:
            # It left a profile that still stands: an unmerge (or a rebuild with new rules).
            kind, event_id, at = "unmerged", None, stamp["uuid_ts"]
        delta.raw["id_graph_updates"].append(
            {
                # The triggering message tells a merge from an earlier one of the same profiles.
                "id": row_id("graph", profile_id, before, canonical_id, event_id),
                "segment_id": profile_id,
                "canonical_segment_id": canonical_id,
                "triggering_event_type": None,
                "triggering_event_id": event_id,
                "change": kind,
                "timestamp": at,
                "seq": _seq(at),
                **stamp,
            }
        )
        delta.graph[profile_id] = canonical_id
        delta.replaced.add(canonical_id)
        if before is not None:
            delta.replaced.add(str(before))
    gone = select(profiles_sync_graph.c.profile_id, profiles_sync_graph.c.canonical_id).where(
        profiles_sync_graph.c.target == target,
        profiles_sync_graph.c.workspace_id == workspace_id,
        ~profiles_sync_graph.c.profile_id.in_(
            select(profiles.c.id).where(profiles.c.workspace_id == workspace_id)
        ),
    )
    for profile_id, canonical_id in conn.execute(gone):
        delta.removed_profiles.append(str(profile_id))
        delta.replaced.add(str(canonical_id))


def _identifiers(
    conn: Connection, target: str, workspace_id: str, delta: Delta, stamp: dict[str, Any]
) -> None:
    synced = profiles_sync_ids.alias("synced")
    query = (
        select(
            identities.c.type,
            identities.c.value,
            identities.c.sent_value,
            identities.c.profile_id,
            identities.c.first_seen,
            identities.c.first_message_id,
            profiles.c.canonical_id,
        )
        .select_from(identities)
        .join(profiles, profiles.c.id == identities.c.profile_id)
        .outerjoin(
            synced,
            and_(
                synced.c.target == target,
                synced.c.type == identities.c.type,
                synced.c.value == identities.c.value,
            ),
        )
        .where(identities.c.workspace_id == workspace_id, synced.c.type.is_(None))
    )
    for kind, value, sent, profile_id, first_seen, message_id, canonical_id in conn.execute(query):
        at = as_utc(first_seen)
        delta.raw["external_id_mapping_updates"].append(
            {
                "id": row_id("id", kind, value, profile_id),
                "segment_id": profile_id,
                "external_id_type": kind,
                # shown as sent (a phone), as the Profile API shows it; the hash and the
                # synced key stay on the normalised value that matching uses
                "external_id_value": sent or value,
                "external_id_hash": hashlib.sha256(f"{kind}:{value}".encode()).hexdigest(),
                "triggering_event_type": None,
                "triggering_event_id": message_id,
                "timestamp": at,
                "seq": _seq(at),
                **stamp,
            }
        )
        delta.ids.append((str(kind), str(value), str(profile_id)))
        delta.replaced.add(str(canonical_id))


def _traits(conn: Connection, target: str, workspace_id: str, delta: Delta) -> set[str]:
    """Profiles (members, not canonical) with a trait the target has not seen at its time."""
    synced = profiles_sync_traits.alias("synced")
    query = (
        select(profile_traits.c.profile_id, profile_traits.c.name, profile_traits.c.updated_at)
        .select_from(profile_traits)
        .join(profiles, profiles.c.id == profile_traits.c.profile_id)
        .outerjoin(
            synced,
            and_(
                synced.c.target == target,
                synced.c.profile_id == profile_traits.c.profile_id,
                synced.c.name == profile_traits.c.name,
            ),
        )
        .where(
            profiles.c.workspace_id == workspace_id,
            synced.c.updated_at.is_(None) | (synced.c.updated_at != profile_traits.c.updated_at),
        )
    )
    touched: set[str] = set()
    for profile_id, name, updated_at in conn.execute(query):
        delta.traits.append((str(profile_id), str(name), as_utc(updated_at)))
        touched.add(str(profile_id))
    touched |= set(delta.graph)  # a merge or unmerge changes whose traits a profile has
    return touched


def _materialize(conn: Connection, canonical_id: str, delta: Delta, stamp: dict[str, Any]) -> None:
    """The materialized rows of one canonical profile as it is now."""
    now = stamp["uuid_ts"]
    members = conn.execute(
        select(profiles.c.id, profiles.c.created_at).where(profiles.c.canonical_id == canonical_id)
    ).all()
    for member, created_at in members:
        at = as_utc(created_at)
        delta.materialized["profile_merges"].append(
            {
                "canonical_segment_id": canonical_id,
                "segment_id": member,
                "timestamp": at,
                "seq": _seq(at),
                **stamp,
            }
        )
    member_ids = [str(member) for member, _ in members]
    for chunk in chunks(member_ids, _CHUNK):
        for kind, value, first_seen in conn.execute(
            select(
                identities.c.type,
                func.coalesce(identities.c.sent_value, identities.c.value),
                identities.c.first_seen,
            ).where(identities.c.profile_id.in_(chunk))
        ):
            at = as_utc(first_seen)
            delta.materialized["user_identifiers"].append(
                {
                    "canonical_segment_id": canonical_id,
                    "type": kind,
                    "value": value,
                    "timestamp": at,
                    "seq": _seq(at),
                    **stamp,
                }
            )
    for name, value in _traits_of(conn, canonical_id).items():
        delta.materialized["user_traits"].append(
            {
                "canonical_segment_id": canonical_id,
                "name": name,
                "value": value,
                "timestamp": now,
                "seq": _seq(now),
                **stamp,
            }
        )


def _traits_of(conn: Connection, canonical_id: str) -> dict[str, Any]:
    rows = conn.execute(
        select(
            profile_traits.c.name,
            profile_traits.c.value,
            profile_traits.c.removed,
            profile_traits.c.updated_at,
            profile_traits.c.source_id,
        )
        .join(profiles, profiles.c.id == profile_traits.c.profile_id)
        .where(profiles.c.canonical_id == canonical_id)
    ).all()
    return merge_traits([(r[0], r[1], r[2], as_utc(r[3]), r[4]) for r in rows])


def _canonical_of(conn: Connection, profile_ids: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(sorted(profile_ids), _CHUNK):
        for profile_id, canonical_id in conn.execute(
            select(profiles.c.id, profiles.c.canonical_id).where(profiles.c.id.in_(chunk))
        ):
            found[str(profile_id)] = str(canonical_id)
    return found


def _existing(conn: Connection, canonical_ids: Iterable[str]) -> set[str]:
    """Those of `canonical_ids` that are canonical profiles now."""
    found: set[str] = set()
    for chunk in chunks(sorted(canonical_ids), _CHUNK):
        found |= {
            str(row[0])
            for row in conn.execute(
                select(profiles.c.id).where(
                    profiles.c.id.in_(chunk), profiles.c.canonical_id == profiles.c.id
                )
            )
        }
    return found


def _latest_merges(conn: Connection, moved: set[str]) -> dict[str, tuple[str, datetime]]:
    """For each of the `moved` profiles, the message and time of the latest merge of it into
    another one that is still in force."""
    found: dict[str, tuple[str, datetime]] = {}
    for chunk in chunks(sorted(moved), _CHUNK):
        latest = (
            select(merges.c.from_profile, func.max(merges.c.id).label("last"))
            .where(merges.c.from_profile.in_(chunk), merges.c.undone_at.is_(None))
            .group_by(merges.c.from_profile)
            .subquery()
        )
        for from_profile, message_id, merged_at in conn.execute(
            select(merges.c.from_profile, merges.c.message_id, merges.c.merged_at).join(
                latest, merges.c.id == latest.c.last
            )
        ):
            found[str(from_profile)] = (str(message_id), as_utc(merged_at))
    return found


def _first_message(conn: Connection, profile_id: str) -> str | None:
    row = conn.execute(
        select(identities.c.first_message_id)
        .where(identities.c.profile_id == profile_id)
        .order_by(identities.c.first_seen)
        .limit(1)
    ).first()
    return None if row is None or row[0] is None else str(row[0])


def _seq(at: datetime) -> int:
    """Segment's `seq`: a sequential value from the timestamp (microseconds since the epoch)."""
    return int(at.timestamp() * 1_000_000)

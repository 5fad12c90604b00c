"""Probabilistic matching's proposals (its runs, models and digests: identity_matching_runs_sql).

A proposal links two canonical profiles (`left_profile` < `right_profile`) with the match
probability and the comparisons that produced it. It is `pending` until someone accepts
(`merged`) or rejects it (`rejected`), or until the job merges it itself (`merged`, at or above
the workspace's threshold); a pending proposal whose profiles were merged elsewhere meanwhile is
`superseded`. One proposal per pair, ever: a decided pair is never proposed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)

from seamline.store.state import as_utc, merges, metadata, profiles, separations

PENDING, MERGED, REJECTED, SUPERSEDED = "pending", "merged", "rejected", "superseded"
STATUSES = (PENDING, MERGED, REJECTED, SUPERSEDED)

identity_match_proposals = Table(
    "identity_match_proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("left_profile", String(64), nullable=False),
    Column("right_profile", String(64), nullable=False),
    Column("probability", Double, nullable=False),
    Column("comparisons", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("merge_id", Integer, nullable=True),
    UniqueConstraint("workspace_id", "left_profile", "right_profile"),
    Index("ix_identity_match_proposals_status", "workspace_id", "status", "id"),
)


class Proposal(NamedTuple):
    id: int
    left_profile: str
    right_profile: str
    probability: float
    comparisons: list[dict[str, Any]]
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    merge_id: int | None

    def as_json(self) -> dict[str, Any]:
        """The API's shape (times in ISO 8601)."""
        shown = self._asdict()
        shown["created_at"] = self.created_at.isoformat()
        shown["decided_at"] = None if self.decided_at is None else self.decided_at.isoformat()
        return shown


class NewProposal(NamedTuple):
    left_profile: str
    right_profile: str
    probability: float
    comparisons: list[dict[str, Any]]


_p = identity_match_proposals.c
_left = profiles.alias("left_person")
_right = profiles.alias("right_person")


class SqlIdentityMatches:
    """Proposals, digests and runs of probabilistic matching (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # Proposals

    def add(
        self, workspace_id: str, found: NewProposal, at: datetime, status: str = PENDING
    ) -> int:
        """Store a new proposal (its pair must not have one yet); returns its id."""
        left, right = sorted((found.left_profile, found.right_profile))
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    insert(identity_match_proposals)
                    .values(
                        workspace_id=workspace_id,
                        left_profile=left,
                        right_profile=right,
                        probability=found.probability,
                        comparisons=found.comparisons,
                        status=status,
                        created_at=at,
                    )
                    .returning(_p.id)
                ).scalar_one()
            )

    def get(self, workspace_id: str, proposal_id: int) -> Proposal | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(identity_match_proposals).where(
                    _p.workspace_id == workspace_id, _p.id == proposal_id
                )
            ).first()
        return None if row is None else _proposal(row)

    def page(
        self, workspace_id: str, status: str | None, limit: int, after: int | None
    ) -> tuple[list[Proposal], bool]:
        """Proposals by id (oldest first) after id `after`; and whether more follow."""
        query = select(identity_match_proposals).where(_p.workspace_id == workspace_id)
        if status is not None:
            query = query.where(_p.status == status)
        if after is not None:
            query = query.where(_p.id > after)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query.order_by(_p.id).limit(limit + 1)))
        return [_proposal(row) for row in rows[:limit]], len(rows) > limit

    def decide(
        self,
        workspace_id: str,
        proposal_id: int,
        status: str,
        actor: str,
        at: datetime,
        merge_id: int | None = None,
    ) -> bool:
        """Move a pending proposal to `status`; False if it was no longer pending."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(identity_match_proposals)
                .where(
                    _p.workspace_id == workspace_id,
                    _p.id == proposal_id,
                    _p.status == PENDING,
                )
                .values(status=status, decided_at=at, decided_by=actor, merge_id=merge_id)
            )
            return bool(done.rowcount)

    def lost_merges(self, workspace_id: str) -> list[Proposal]:
        """Merged proposals whose merge is no longer in the graph: a rebuild or a re-resolution
        replayed the log, which holds no merge made on evidence. (An unmerged one is still
        there, undone.)"""
        m = merges.c
        with self._engine.connect() as conn:
            kept = {
                (int(merge_id), str(cause))
                for merge_id, cause in conn.execute(
                    select(m.id, m.message_id).where(
                        m.workspace_id == workspace_id, m.message_id.like("proposal:%")
                    )
                )
            }
            rows = conn.execute(
                select(identity_match_proposals).where(
                    _p.workspace_id == workspace_id,
                    _p.status == MERGED,
                    _p.merge_id.is_not(None),
                )
            )
            found = [_proposal(row) for row in rows]
        return [p for p in found if (p.merge_id, f"proposal:{p.id}") not in kept]

    def set_merge(self, workspace_id: str, proposal_id: int, merge_id: int | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(identity_match_proposals)
                .where(_p.workspace_id == workspace_id, _p.id == proposal_id)
                .values(merge_id=merge_id)
            )

    def proposed_pairs(self, workspace_id: str) -> set[frozenset[str]]:
        """Every pair that has a proposal, as stored (a pair is proposed once)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_p.left_profile, _p.right_profile).where(_p.workspace_id == workspace_id)
            )
            return {frozenset((str(a), str(b))) for a, b in rows}

    def kept_apart(self, workspace_id: str) -> set[frozenset[str]]:
        """Pairs of today's canonical profiles that must never be merged by matching: those a
        person rejected and those an unmerge separated, followed through later merges."""
        rejected = (
            select(_left.c.canonical_id, _right.c.canonical_id)
            .select_from(identity_match_proposals)
            .join(_left, _left.c.id == _p.left_profile)
            .join(_right, _right.c.id == _p.right_profile)
            .where(_p.workspace_id == workspace_id, _p.status == REJECTED)
        )
        s = separations.c
        separated = (
            select(_left.c.canonical_id, _right.c.canonical_id)
            .select_from(separations)
            .join(_left, _left.c.id == s.profile_a)
            .join(_right, _right.c.id == s.profile_b)
            .where(s.workspace_id == workspace_id)
        )
        pairs: set[frozenset[str]] = set()
        with self._engine.connect() as conn:
            for query in (rejected, separated):
                for a, b in conn.execute(query):
                    if a != b:
                        pairs.add(frozenset((str(a), str(b))))
        return pairs

    def supersede(self, workspace_id: str, canonical: Iterable[str], at: datetime) -> int:
        """Pending proposals naming a profile that is no longer canonical (merged elsewhere
        since) become `superseded`; returns how many."""
        people = set(canonical)
        with self._engine.begin() as conn:
            stale = [
                int(pid)
                for pid, left, right in conn.execute(
                    select(_p.id, _p.left_profile, _p.right_profile).where(
                        _p.workspace_id == workspace_id, _p.status == PENDING
                    )
                )
                if left not in people or right not in people
            ]
            for start in range(0, len(stale), 500):
                conn.execute(
                    update(identity_match_proposals)
                    .where(_p.id.in_(stale[start : start + 500]))
                    .values(status=SUPERSEDED, decided_at=at, decided_by="matching")
                )
        return len(stale)

    def counts(self, workspace_id: str) -> dict[str, int]:
        """How many proposals each status holds."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_p.status, func.count())
                .where(_p.workspace_id == workspace_id)
                .group_by(_p.status)
            )
            found = {str(status): int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in STATUSES}


def _proposal(row: Any) -> Proposal:
    return Proposal(
        int(row.id),
        str(row.left_profile),
        str(row.right_profile),
        float(row.probability),
        list(row.comparisons),
        str(row.status),
        as_utc(row.created_at),
        None if row.decided_at is None else as_utc(row.decided_at),
        row.decided_by,
        row.merge_id,
    )

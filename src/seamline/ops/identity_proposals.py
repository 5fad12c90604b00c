"""A reviewer's decisions on matching proposals, shared by the API and the CLI.

Accepting merges the two people as a `manual` merge that keeps the proposal's probability as
its score: a person decided, and the evidence they saw stays on the record. Rejecting keeps the
two apart from matching for good (the deterministic resolver still merges them if a message
ever links them by a shared identifier: that is not a guess).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from seamline.errors import Conflict, NotFound
from seamline.identity.rules import IdentityRules
from seamline.store.identity_link_sql import link_people
from seamline.store.identity_matches_sql import (
    MERGED,
    PENDING,
    REJECTED,
    Proposal,
    SqlIdentityMatches,
)


def pending_proposal(store: SqlIdentityMatches, workspace_id: str, proposal_id: int) -> Proposal:
    """The proposal, if it still waits for a decision (NotFound / Conflict otherwise)."""
    found = store.get(workspace_id, proposal_id)
    if found is None:
        raise NotFound(
            f"no proposal {proposal_id}; see `seamline identity proposals list`",
            details={"id": proposal_id},
        )
    if found.status != PENDING:
        raise Conflict(
            f"proposal {proposal_id} is {found.status} already",
            details={"id": proposal_id, "status": found.status},
        )
    return found


def accept(
    engine: Engine, rules: IdentityRules, workspace_id: str, proposal_id: int, actor: str
) -> dict[str, Any]:
    """Merge the proposal's two people; `{id, status: "merged", merge_id}` (merge_id is None
    when they had become one person meanwhile)."""
    store = SqlIdentityMatches(engine)
    found = pending_proposal(store, workspace_id, proposal_id)
    now = datetime.now(UTC)
    linked = link_people(
        engine,
        workspace_id,
        (found.left_profile, found.right_profile),
        rules,
        kind="manual",
        score=found.probability,
        cause=f"proposal:{proposal_id}",
        at=now,
    )
    merge_id = None if linked is None else linked.merge_id
    if not store.decide(workspace_id, proposal_id, MERGED, actor, now, merge_id=merge_id):
        raise Conflict(f"proposal {proposal_id} was decided meanwhile")
    return {"id": proposal_id, "status": MERGED, "merge_id": merge_id}


def reject(engine: Engine, workspace_id: str, proposal_id: int, actor: str) -> dict[str, Any]:
    """Keep the two apart from matching; `{id, status: "rejected"}`."""
    store = SqlIdentityMatches(engine)
    pending_proposal(store, workspace_id, proposal_id)
    if not store.decide(workspace_id, proposal_id, REJECTED, actor, datetime.now(UTC)):
        raise Conflict(f"proposal {proposal_id} was decided meanwhile")
    return {"id": proposal_id, "status": REJECTED}

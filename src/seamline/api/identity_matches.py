"""Review of probabilistic matching under `/api/v1/identity`: the proposals, accepting or
rejecting one, and running the matching job now.

Reading needs profile read access; deciding and running need `identity:write`. Comparisons
show the two profiles' values: callers without PII access see them masked, as traits are.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from seamline.access.permissions import IDENTITY_WRITE, PROFILES_READ
from seamline.api.audit import audited
from seamline.api.auth import current_principal, needs, workspace_of
from seamline.api.pii_view import PiiView
from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.ops import identity_proposals
from seamline.ops.identity_matching import MatchingJob
from seamline.privacy.masking import Masker
from seamline.store.identity_matches_sql import STATUSES, Proposal, SqlIdentityMatches

PREFIX = "/api/v1/identity"


class MatchingOff(Conflict):
    code = "matching_disabled"


class MatchesAPI:
    """What the routes read and change."""

    def __init__(
        self,
        engine: Engine,
        job: MatchingJob,
        pii: PiiView,
    ) -> None:
        self.engine = engine
        self.store = SqlIdentityMatches(engine)
        self.job = job
        self.pii = pii
        self.running: set[asyncio.Task[Any]] = set()


def router(api: MatchesAPI) -> APIRouter:
    routes = APIRouter(prefix=PREFIX, tags=["Identity"])
    read = [Depends(needs(PROFILES_READ))]
    write = [Depends(needs(IDENTITY_WRITE))]

    @routes.get(
        "/proposals",
        summary="Matching proposals: pairs of profiles, their probability and the evidence",
        dependencies=read,
    )
    async def proposals(
        request: Request,
        status: Annotated[str | None, Query(description="pending, merged, rejected, …")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        next: Annotated[str | None, Query(description="`cursor.next` of the last page")] = None,
    ) -> JSONResponse:
        if status is not None and status not in STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(STATUSES)}", details={"parameter": "status"}
            )
        after = None
        if next is not None:
            if not next.isdigit():
                raise InvalidInput(
                    "next must be the `cursor.next` of a previous page",
                    details={"parameter": "next"},
                )
            after = int(next)
        workspace_id = workspace_of(request)
        found, more = await asyncio.to_thread(api.store.page, workspace_id, status, limit, after)
        masker = api.pii.masker(request)
        return JSONResponse(
            {
                "data": [_shown(proposal, masker) for proposal in found],
                "cursor": {
                    "has_more": more,
                    "next": str(found[-1].id) if more and found else None,
                },
            }
        )

    @routes.get("/proposals/{proposal_id}", summary="One matching proposal", dependencies=read)
    async def proposal(request: Request, proposal_id: str) -> JSONResponse:
        number = _number(proposal_id)
        found = await asyncio.to_thread(api.store.get, workspace_of(request), number)
        if found is None:
            raise NotFound(f"no proposal {proposal_id}", details={"id": proposal_id})
        return JSONResponse(_shown(found, api.pii.masker(request)))

    @routes.post(
        "/proposals/{proposal_id}/accept",
        summary="Accept a proposal: merge the two profiles (kind manual, with the score)",
        dependencies=write,
    )
    async def accept(request: Request, proposal_id: str) -> JSONResponse:
        number = _number(proposal_id)
        workspace_id = workspace_of(request)
        actor = current_principal(request).name
        done = await asyncio.to_thread(
            identity_proposals.accept,
            api.engine,
            api.job.rules(workspace_id),
            workspace_id,
            number,
            actor,
        )
        await asyncio.to_thread(
            audited, request, "proposal.accept", "identity_proposal", str(number), after=done
        )
        return JSONResponse(done)

    @routes.post(
        "/proposals/{proposal_id}/reject",
        summary="Reject a proposal: matching never proposes the pair again",
        dependencies=write,
    )
    async def reject(request: Request, proposal_id: str) -> JSONResponse:
        number = _number(proposal_id)
        workspace_id = workspace_of(request)
        actor = current_principal(request).name
        done = await asyncio.to_thread(
            identity_proposals.reject, api.engine, workspace_id, number, actor
        )
        await asyncio.to_thread(
            audited, request, "proposal.reject", "identity_proposal", str(number), after=done
        )
        return JSONResponse(done)

    @routes.post(
        "/matching/run",
        summary="Run probabilistic matching now (in the background)",
        status_code=202,
        dependencies=write,
    )
    async def run(request: Request) -> JSONResponse:
        workspace_id = workspace_of(request)
        if not await asyncio.to_thread(api.job.enabled, workspace_id):
            raise MatchingOff(
                "matching is off: set `matching: {enabled: true}` in the identity rules "
                "(PUT /api/v1/identity/rules, then apply)"
            )
        task = asyncio.create_task(asyncio.to_thread(api.job.run_once, workspace_id))
        api.running.add(task)  # kept referenced until done, or the loop may drop it
        task.add_done_callback(api.running.discard)
        await asyncio.to_thread(audited, request, "matching.run", "identity_matching", "run")
        return JSONResponse({"status": "started"}, status_code=202)

    @routes.get(
        "/matching",
        summary="Probabilistic matching's last run and the proposals' counts",
        dependencies=read,
    )
    async def matching(request: Request) -> JSONResponse:
        workspace_id = workspace_of(request)
        last = await asyncio.to_thread(api.job.runs.last_run, workspace_id)
        counts = await asyncio.to_thread(api.store.counts, workspace_id)
        return JSONResponse({"last_run": last, "proposals": counts})

    return routes


def _number(proposal_id: str) -> int:
    # Any id that is not a stored proposal's, malformed or not, is simply not found.
    if not proposal_id.isdigit() or len(proposal_id) > 18:
        raise NotFound(f"no proposal {proposal_id[:40]!r}", details={"id": proposal_id[:40]})
    return int(proposal_id)


def _shown(proposal: Proposal, masker: Masker | None) -> dict[str, Any]:
    shown = proposal.as_json()
    if masker is not None:
        for comparison in shown["comparisons"]:
            for side in ("left", "right"):
                value = comparison.get(side)
                if value is not None:
                    comparison[side] = masker.identifier(str(comparison["field"]), str(value))
    return shown

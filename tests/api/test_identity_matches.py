"""Reviewing probabilistic matching over HTTP (`/api/v1/identity/proposals`, `/matching`), on
SQLite and PostgreSQL: pages, accept (a `manual` merge with the score, in merge history),
reject, permissions, PII masking, bad ids and running the job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from seamline.access.principal import Grant
from seamline.access.tokens import create_token
from seamline.store.identity_matches_sql import NewProposal, SqlIdentityMatches
from tests.collect.conftest import Running
from tests.identity.matching_data import WORKSPACE, enable, seed

pytestmark = pytest.mark.anyio

PROPOSALS = "/api/v1/identity/proposals"
EMAIL = {
    "field": "email",
    "left": "ada.lovelace@example.org",
    "right": "ada.lovelac@example.org",
    "level": "jaro_winkler>=0.88",
    "bayes_factor": 310.5,
}


def propose(engine: Engine) -> list[int]:
    """The graph's people, and two pending proposals: the Ada profiles, then p-00/q-00."""
    seed(engine)
    store = SqlIdentityMatches(engine)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    return [
        store.add(WORKSPACE, NewProposal("ada-1", "ada-2", 0.97, [EMAIL]), at),
        store.add(WORKSPACE, NewProposal("q-00", "p-00", 0.91, []), at),
    ]


def headers(running: Running, role: str, *, pii_access: bool = True) -> dict[str, str]:
    _, secret = create_token(
        running.app.tokens, "default", role, (Grant(role=role),), pii_access=pii_access
    )
    return {"Authorization": f"Bearer {secret}"}


async def test_a_reviewer_pages_accepts_and_rejects(running: Running) -> None:
    ada, other = propose(running.app.state)
    admin = headers(running, "identity-admin")
    first = (await running.client.get(PROPOSALS, params={"limit": 1}, headers=admin)).json()
    assert [p["id"] for p in first["data"]] == [ada]
    shown = first["data"][0]
    assert (shown["left_profile"], shown["right_profile"], shown["probability"]) == (
        "ada-1",
        "ada-2",
        0.97,
    )
    assert shown["comparisons"] == [EMAIL] and shown["status"] == "pending"
    assert first["cursor"] == {"has_more": True, "next": str(ada)}
    rest = await running.client.get(
        PROPOSALS, params={"limit": 1, "next": first["cursor"]["next"]}, headers=admin
    )
    assert [p["left_profile"] for p in rest.json()["data"]] == ["p-00"]  # stored in order
    assert rest.json()["cursor"] == {"has_more": False, "next": None}

    accepted = await running.client.post(f"{PROPOSALS}/{ada}/accept", headers=admin)
    assert accepted.status_code == 200, accepted.text
    merge_id = accepted.json()["merge_id"]
    assert accepted.json() == {"id": ada, "status": "merged", "merge_id": merge_id}
    history = await running.client.get(
        "/v1/spaces/default/collections/users/profiles/user_id:ada/merges", headers=admin
    )
    [merge] = history.json()["data"]
    assert (merge["merge_id"], merge["kind"], merge["score"]) == (merge_id, "manual", 0.97)
    assert (merge["from_profile"], merge["into_profile"]) == ("ada-2", "ada-1")
    assert merge["message_id"] == f"proposal:{ada}"

    rejected = await running.client.post(f"{PROPOSALS}/{other}/reject", headers=admin)
    assert rejected.json() == {"id": other, "status": "rejected"}
    listed = await running.client.get(PROPOSALS, params={"status": "rejected"}, headers=admin)
    [found] = listed.json()["data"]
    assert (found["id"], found["decided_by"]) == (other, "identity-admin")
    again = await running.client.post(f"{PROPOSALS}/{ada}/reject", headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "conflict"

    trail = await running.client.get(
        "/api/v1/audit-trail",
        params={"resource_type": "identity_proposal"},
        headers=headers(running, "workspace-owner"),
    )
    assert [(e["action"], e["resource"]["id"]) for e in trail.json()["data"]] == [
        ("proposal.reject", str(other)),
        ("proposal.accept", str(ada)),
    ]


async def test_reading_needs_profile_access_and_deciding_identity_write(running: Running) -> None:
    ada, other = propose(running.app.state)
    reader = headers(running, "unify-read-only")
    assert (await running.client.get(PROPOSALS, headers=reader)).status_code == 200
    for action in ("accept", "reject"):
        refused = await running.client.post(f"{PROPOSALS}/{ada}/{action}", headers=reader)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    run = await running.client.post("/api/v1/identity/matching/run", headers=reader)
    assert run.status_code == 403
    outsider = headers(running, "source-admin")
    assert (await running.client.get(PROPOSALS, headers=outsider)).status_code == 403
    # Unify admins hold identity:write too.
    unify_admin = headers(running, "unify-engage-admin")
    done = await running.client.post(f"{PROPOSALS}/{other}/reject", headers=unify_admin)
    assert done.status_code == 200
    still = (await running.client.get(f"{PROPOSALS}/{ada}", headers=reader)).json()
    assert still["status"] == "pending"


async def test_without_pii_access_the_evidence_is_masked(running: Running) -> None:
    propose(running.app.state)
    masked = headers(running, "unify-read-only", pii_access=False)
    [shown, _] = (await running.client.get(PROPOSALS, headers=masked)).json()["data"]
    email = shown["comparisons"][0]
    assert email["left"] != EMAIL["left"] and email["right"] != EMAIL["right"]
    assert "ada.lovelace" not in str(shown)


async def test_bad_ids_and_parameters_get_json_errors(running: Running) -> None:
    propose(running.app.state)
    admin = headers(running, "identity-admin")
    for path in (
        f"{PROPOSALS}/abc/accept",
        f"{PROPOSALS}/999999/reject",
        f"{PROPOSALS}/-1/accept",
        f"{PROPOSALS}/{'9' * 40}/accept",
    ):
        answer = await running.client.post(path, headers=admin)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "not_found"
    missing = await running.client.get(f"{PROPOSALS}/12345", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    for params in ({"status": "maybe"}, {"next": "abc"}, {"limit": 0}, {"limit": 1000}):
        answer = await running.client.get(PROPOSALS, params=params, headers=admin)
        assert answer.status_code == 400, params
        assert answer.json()["code"] == "invalid_input"


async def test_running_matching_now(running: Running) -> None:
    admin = headers(running, "identity-admin")
    off = await running.client.post("/api/v1/identity/matching/run", headers=admin)
    assert off.status_code == 409 and off.json()["code"] == "matching_disabled"
    enable(running.app.state)
    started = await running.client.post("/api/v1/identity/matching/run", headers=admin)
    assert started.status_code == 202 and started.json() == {"status": "started"}
    status: dict[str, Any] = {}
    for _ in range(200):  # the run is in the background (no people: it finishes at once)
        status = (await running.client.get("/api/v1/identity/matching", headers=admin)).json()
        if status["last_run"] is not None and not status["last_run"]["running"]:
            break
        await asyncio.sleep(0.05)
    assert status["last_run"]["status"] == "FINISHED"
    assert status["last_run"]["counts"]["people"] == 0
    # The deliver role's loop runs the same job over every workspace.
    assert running.app.matching.run_once() == {
        "default": {
            "status": "FINISHED",
            "people": 0,
            "changed": 0,
            "proposed": 0,
            "merged": 0,
            "superseded": 0,
            "restored": 0,
        }
    }
    assert status["proposals"] == {"pending": 0, "merged": 0, "rejected": 0, "superseded": 0}

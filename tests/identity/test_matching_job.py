"""The matching job over the identity graph, on SQLite and PostgreSQL: proposals with their
evidence, automatic merges recorded as `probabilistic`, and pairs kept apart for good once a
person rejected or unmerged them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, update

from seamline.errors import Conflict
from seamline.identity.rules import IdentityRules
from seamline.ops import identity_proposals
from seamline.ops.identity_matching import MatchingJob, workspace_matching
from seamline.store.identity_matches_sql import (
    MERGED,
    PENDING,
    REJECTED,
    Proposal,
    SqlIdentityMatches,
)
from seamline.store.identity_matching_runs_sql import SqlMatchingRuns
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import merges, profiles
from tests.identity.matching_data import (
    MODELS,
    START,
    TWINS,
    WORKSPACE,
    enable,
    seed,
    set_traits,
)


def job(engine: Engine) -> MatchingJob:
    return MatchingJob(engine, workspace_matching(engine, IdentityRules()), MODELS)


def replayed(engine: Engine) -> None:
    """The graph as a replay of the log leaves it: no merge that no message made (Hedy's, made
    by the resolver, is made again)."""
    with engine.begin() as conn:
        conn.execute(delete(merges).where(merges.c.message_id.like("proposal:%")))
        conn.execute(
            update(profiles)
            .where(profiles.c.id != "hedy-2")
            .values(canonical_id=profiles.c.id, merged_into=None)
        )


def twins_proposal(engine: Engine) -> list[Proposal]:
    found, _ = SqlIdentityMatches(engine).page(WORKSPACE, None, 100, None)
    return [p for p in found if (p.left_profile, p.right_profile) == TWINS]


def test_a_typo_pair_waits_for_review_with_its_comparisons(engine: Engine) -> None:
    seed(engine, twins_dob=False)
    enable(engine, threshold=1.0, review_threshold=0.5)
    matching = job(engine)
    outcome = matching.run_once(WORKSPACE)
    assert outcome["status"] == "FINISHED", outcome
    assert outcome["people"] == 48 and outcome["changed"] == 48
    # Trained without labels, checked on the people the resolver merged: it finds Hedy's link.
    assert (outcome["known_links"], outcome["known_links_found"]) == (1, 1)
    [proposal] = twins_proposal(engine)
    assert proposal.status == PENDING and 0.5 <= proposal.probability < 1.0
    email = next(c for c in proposal.comparisons if c["field"] == "email")
    assert (email["left"], email["right"]) == (
        "ada.lovelace@example.org",
        "ada.lovelac@example.org",
    )
    assert {"level", "bayes_factor"} <= set(email)
    # Nothing changed: the next run proposes nothing and leaves the graph alone.
    again = matching.run_once(WORKSPACE)
    assert (again["changed"], again["proposed"]) == (0, 0)
    graph = SqlIdentityGraph(engine)
    assert graph.canonical_of_profile("ada-2") == "ada-2"

    # A reviewer accepts: one person, merged as `manual` with the proposal's score.
    done = identity_proposals.accept(engine, IdentityRules(), WORKSPACE, proposal.id, "reviewer")
    assert done["status"] == MERGED
    assert graph.canonical_of_profile("ada-2") == "ada-1"  # the older profile survives
    [merge] = graph.merges_of(WORKSPACE, "ada-1")
    assert (merge.id, merge.kind, merge.score) == (
        done["merge_id"],
        "manual",
        proposal.probability,
    )
    with pytest.raises(Conflict):  # decided once
        identity_proposals.reject(engine, WORKSPACE, proposal.id, "reviewer")


def test_a_rejected_pair_is_never_proposed_again(engine: Engine) -> None:
    seed(engine, twins_dob=False)
    enable(engine, threshold=1.0, review_threshold=0.5)
    matching = job(engine)
    matching.run_once(WORKSPACE)
    [proposal] = twins_proposal(engine)
    identity_proposals.reject(engine, WORKSPACE, proposal.id, "reviewer")
    # The model is kept in the state store: another process (here a job of its own, with no
    # model in memory) scores with it.
    saved = SqlMatchingRuns(engine).model(WORKSPACE)
    assert saved is not None and saved["records"] == 48 and saved["model"]["splink_settings"]
    elsewhere = MatchingJob(engine, workspace_matching(engine, IdentityRules()))
    # New evidence on one of them: it is looked at again, but the pair stays rejected.
    set_traits(engine, "ada-2", {"phone": "+44 20 7946 0958"}, START + timedelta(days=1))
    again = elsewhere.run_once(WORKSPACE)
    assert again["changed"] == 1 and again["proposed"] == 0
    [still] = twins_proposal(engine)
    assert (still.status, still.decided_by) == (REJECTED, "reviewer")
    assert SqlIdentityGraph(engine).canonical_of_profile("ada-2") == "ada-2"


def test_above_the_threshold_it_merges_and_an_unmerge_holds(engine: Engine) -> None:
    seed(engine)
    enable(engine, threshold=0.6, review_threshold=0.5)
    matching = job(engine)
    outcome = matching.run_once(WORKSPACE)
    assert outcome["merged"] >= 1, outcome
    [proposal] = twins_proposal(engine)
    assert proposal.status == MERGED and proposal.decided_by == "matching"
    graph = SqlIdentityGraph(engine)
    assert graph.canonical_of_profile("ada-2") == "ada-1"
    [merge] = graph.merges_of(WORKSPACE, "ada-1")
    assert merge.kind == "probabilistic"
    assert merge.score == proposal.probability
    assert merge.message_id == f"proposal:{proposal.id}"
    assert merge.id == proposal.merge_id

    # A rebuild (or a re-resolution under new rules) replays the log, which holds no merge made
    # on evidence: the next run makes it again, as it was.
    replayed(engine)
    assert graph.canonical_of_profile("ada-2") == "ada-2"
    after = matching.run_once(WORKSPACE)
    assert after["restored"] == outcome["merged"] and after["merged"] == 0
    [merge] = graph.merges_of(WORKSPACE, "ada-1")
    assert (merge.kind, merge.score, merge.message_id) == (
        "probabilistic",
        proposal.probability,
        f"proposal:{proposal.id}",
    )
    assert twins_proposal(engine)[0].merge_id == merge.id

    # An operator unmerges them: a separation, as for any merge; matching never joins them again.
    assert merge.id is not None
    graph.unmerge(WORKSPACE, merge.id)
    set_traits(engine, "ada-2", {"phone": "+44 20 7946 0958"}, START + timedelta(days=1))
    again = matching.run_once(WORKSPACE)
    assert again["status"] == "FINISHED" and again["merged"] == 0
    assert graph.canonical_of_profile("ada-2") == "ada-2"
    assert graph.merges_of(WORKSPACE, "ada-1") == []


@pytest.mark.parametrize("document", [None, {"enabled": False}])
def test_without_matching_enabled_a_run_does_nothing(
    engine: Engine, document: dict[str, object] | None
) -> None:
    seed(engine)
    if document is not None:
        enable(engine, **document)
    assert job(engine).run_once(WORKSPACE) == {"status": "disabled"}
    assert SqlIdentityMatches(engine).counts(WORKSPACE) == dict.fromkeys(
        ("pending", "merged", "rejected", "superseded"), 0
    )
    runs = SqlMatchingRuns(engine)
    assert runs.digests(WORKSPACE) == {}
    assert runs.last_run(WORKSPACE) is None


def test_a_workspace_is_matched_by_one_run_at_a_time(engine: Engine) -> None:
    enable(engine)
    store = SqlMatchingRuns(engine)
    now = datetime.now(UTC)
    assert store.claim(WORKSPACE, now, now + timedelta(minutes=30))  # another process runs
    assert job(engine).run_once(WORKSPACE) == {"status": "running elsewhere"}
    assert store.last_run(WORKSPACE)["running"] is True  # type: ignore[index]
    # A claim left by a process that died expires.
    later = now + timedelta(hours=1)
    assert store.claim(WORKSPACE, later, later + timedelta(minutes=30))

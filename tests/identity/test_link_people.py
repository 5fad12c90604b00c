"""Merging two people on evidence (`identity_link_sql.link_people`), on SQLite and PostgreSQL:
never across an unmerge, never past the identity rules' limits (windows counted as the
resolver counts them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, update

from seamline.errors import NotFound
from seamline.identity.rules import DEFAULT_RULES, IdentifierRule, IdentityRules
from seamline.store.identity_link_sql import KeptApart, Linked, link_people
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import identities, merges, profiles

WS = "default"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def person(engine: Engine, pid: str, minute: int, *ids: tuple[str, str, datetime]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(profiles).values(
                id=pid,
                workspace_id=WS,
                canonical_id=pid,
                created_at=NOW + timedelta(minutes=minute),
            )
        )
        for id_type, value, seen in ids:
            conn.execute(
                insert(identities).values(
                    workspace_id=WS,
                    type=id_type,
                    value=value,
                    profile_id=pid,
                    first_seen=seen,
                    last_seen=seen,
                )
            )


def link(
    engine: Engine, pair: tuple[str, str], rules: IdentityRules | None = None
) -> Linked | None:
    return link_people(
        engine,
        WS,
        pair,
        rules or IdentityRules(),
        kind="probabilistic",
        score=0.995,
        cause="proposal:1",
        at=NOW,
    )


def test_the_older_person_survives_and_linking_twice_is_once(engine: Engine) -> None:
    person(engine, "young", 5, ("email", "a@example.org", NOW))
    person(engine, "old", 1, ("user_id", "u1", NOW))
    linked = link(engine, ("young", "old"))
    assert linked is not None and (linked.from_profile, linked.into_profile) == ("young", "old")
    graph = SqlIdentityGraph(engine)
    assert graph.canonical_of_profile("young") == "old"
    [merge] = graph.merges_of(WS, "old")
    assert (merge.kind, merge.score, merge.message_id, merge.identifiers) == (
        "probabilistic",
        0.995,
        "proposal:1",
        (),
    )
    assert link(engine, ("old", "young")) is None  # one person already
    with pytest.raises(NotFound):
        link(engine, ("old", "nobody"))


def test_two_user_ids_are_never_one_person(engine: Engine) -> None:
    person(engine, "a", 1, ("user_id", "u1", NOW))
    person(engine, "b", 2, ("user_id", "u2", NOW))
    with pytest.raises(KeptApart, match="2 user_id values; the identity rules allow 1"):
        link(engine, ("a", "b"))
    assert SqlIdentityGraph(engine).canonical_of_profile("b") == "b"


def test_a_windowed_limit_counts_only_recent_values(engine: Engine) -> None:
    rules = IdentityRules(
        {**DEFAULT_RULES, "anonymous_id": IdentifierRule(6, limit=1, window_seconds=86400)}
    )
    person(engine, "a", 1, ("anonymous_id", "x", NOW - timedelta(days=3)))
    person(engine, "b", 2, ("anonymous_id", "y", NOW))
    person(engine, "c", 3, ("anonymous_id", "z", NOW))
    assert link(engine, ("a", "b"), rules) is not None  # x is older than the window
    with pytest.raises(KeptApart):
        link(engine, ("b", "c"), rules)


def test_an_unmerged_pair_stays_apart(engine: Engine) -> None:
    person(engine, "a", 1, ("email", "a@example.org", NOW))
    person(engine, "b", 2, ("email", "b@example.org", NOW))
    linked = link(engine, ("a", "b"))
    assert linked is not None
    SqlIdentityGraph(engine).unmerge(WS, linked.merge_id)
    with pytest.raises(KeptApart, match="separated by an unmerge"):
        link(engine, ("b", "a"))


def test_a_merge_the_resolver_writes_is_deterministic_without_a_score(engine: Engine) -> None:
    person(engine, "a", 1, ("user_id", "u1", NOW))
    person(engine, "b", 2, ("anonymous_id", "x", NOW))
    with engine.begin() as conn:  # as identity_sql writes a merge: no kind, no score
        conn.execute(
            insert(merges).values(
                workspace_id=WS,
                from_profile="b",
                into_profile="a",
                message_id="m1",
                identifiers=["user_id:u1", "anonymous_id:x"],
                merged_at=NOW,
            )
        )
        conn.execute(update(profiles).where(profiles.c.id == "b").values(canonical_id="a"))
    [merge] = SqlIdentityGraph(engine).merges_of(WS, "a")
    assert (merge.kind, merge.score) == ("deterministic", None)

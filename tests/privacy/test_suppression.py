"""Suppression: a suppressed person's events are dropped by any identifier of theirs."""

from __future__ import annotations

from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.ops.regulations import person_digests, resolve_person
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.privacy.suppression import DropSuppressed, SuppressedAtCollect
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.suppressions_sql import SqlSuppressionList
from tests.identity.test_resolution import items_of

SALT = b"salt-of-the-workspace"


def test_suppressed_people_are_dropped_by_any_of_their_identifiers(engine: Engine) -> None:
    graph = SqlIdentityGraph(engine)
    rules = IdentityRules()
    suppressions = SqlSuppressionList(engine)
    resolve = ResolveIdentities(graph, rules)
    drop = DropSuppressed(suppressions, lambda _: SALT, rules)
    history = items_of(
        [
            {
                "id": "h1",
                "type": "identify",
                "userId": "sue",
                "anonymousId": "sue-anon",
                "traits": {"email": "sue@x.io"},
            },
            {"id": "h2", "type": "identify", "userId": "tom", "anonymousId": "tom-anon"},
        ]
    )
    assert len(drop(resolve(history))) == 2  # nobody suppressed yet
    # As a regulation does: the whole person, every identifier and profile id of theirs.
    sue = resolve_person(graph, "default", [Identifier("email", "sue@x.io")])
    assert Identifier("anonymous_id", "sue-anon") in sue.identifiers
    suppressions.suppress("default", person_digests(sue, SALT))
    suppressions.suppress("default", person_digests(sue, SALT))  # twice is once
    later = items_of(
        [
            {"id": "l1", "type": "page", "anonymousId": "sue-anon"},  # by her anonymous id
            {"id": "l2", "type": "track", "userId": "sue", "event": "E"},  # by her user id
            {
                "id": "l3",
                "type": "page",
                "anonymousId": "new",
                "context": {"traits": {"email": "SUE@x.io"}},
            },
            {"id": "l4", "type": "page", "anonymousId": "tom-anon"},
        ],
        first_offset=10,
    )
    kept = drop(resolve(later))
    assert [item.envelope.message.message_id for item in kept] == ["l4"]
    assert drop.dropped == 3
    stored = suppressions.digests("default")[""]
    assert len(stored) == len(sue.identifiers) + len(sue.profile_ids)
    # Digests, keyed by the workspace's salt: the list names nobody in plain text.
    assert not any("sue" in digest for digest in stored)


def test_collect_drops_by_any_listed_identifier_and_rereads_the_list(engine: Engine) -> None:
    suppressions = SqlSuppressionList(engine)
    clock = [0.0]
    drop = SuppressedAtCollect(
        suppressions.everywhere, lambda _: SALT, IdentityRules(), clock=lambda: clock[0]
    )
    messages = [
        item.envelope.message
        for item in items_of(
            [
                {"id": "a", "type": "track", "userId": "sue", "event": "E"},
                {"id": "b", "type": "track", "userId": "tom", "event": "E"},
            ]
        )
    ]
    assert drop("default", "web", messages) == messages  # nobody suppressed
    sue = resolve_person(SqlIdentityGraph(engine), "default", [Identifier("user_id", "sue")])
    suppressions.suppress("default", person_digests(sue, SALT), source_id="app")
    clock[0] = 0.5
    assert drop("default", "app", messages) == messages  # not read again yet
    clock[0] = 1.0
    assert drop("default", "web", messages) == messages  # suppressed at another source only
    assert drop("default", "app", messages) == messages[1:]
    assert drop("other", "app", messages) == messages  # another workspace
    suppressions.suppress("default", person_digests(sue, SALT))
    clock[0] = 2.0
    assert drop("default", "web", messages) == messages[1:]
    assert drop.dropped == 2

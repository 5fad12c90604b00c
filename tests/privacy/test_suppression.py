"""Suppression: a suppressed person's events are dropped by any identifier of theirs."""

from __future__ import annotations

from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.privacy.suppression import DropSuppressed
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.suppressions_sql import SqlSuppressionList
from tests.identity.test_resolution import items_of


def test_suppressed_people_are_dropped_by_any_of_their_identifiers(engine: Engine) -> None:
    graph = SqlIdentityGraph(engine)
    rules = IdentityRules()
    suppressions = SqlSuppressionList(engine)
    resolve = ResolveIdentities(graph, rules)
    drop = DropSuppressed(suppressions, graph, rules)
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
    suppressions.add("default", Identifier("email", "sue@x.io"))
    suppressions.add("default", Identifier("email", "sue@x.io"))  # twice is once
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
    assert suppressions.listed("default") == {Identifier("email", "sue@x.io")}

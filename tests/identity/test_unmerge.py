"""Unmerge: split a profile along a recorded merge, and keep it split."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from seamline.errors import Conflict, NotFound
from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.store.identity_sql import SqlIdentityGraph
from tests.identity.test_resolution import items_of

WEB = Identifier("anonymous_id", "shared-web")
APP = Identifier("anonymous_id", "app-1")
USER = Identifier("user_id", "wes")

# A web visitor and an app user, wrongly merged by an identify that named both.
HISTORY: list[dict[str, Any]] = [
    {
        "id": "web",
        "type": "page",
        "anonymousId": "shared-web",
        "context": {"traits": {"email": "wes@x.io"}},
    },
    {"id": "app", "type": "identify", "anonymousId": "app-1", "userId": "wes"},
    {"id": "bad-join", "type": "identify", "anonymousId": "app-1", "traits": {"email": "wes@x.io"}},
]


def resolve(engine: Engine, messages: list[dict[str, Any]], first_offset: int = 0) -> list[str]:
    stage = ResolveIdentities(SqlIdentityGraph(engine), IdentityRules())
    return [item.profile_id or "" for item in stage(items_of(messages, first_offset))]


def test_unmerge_splits_along_the_merge_and_it_stays_split(engine: Engine) -> None:
    resolve(engine, HISTORY)
    graph = SqlIdentityGraph(engine)
    merged = graph.canonical("default", WEB)
    assert merged == graph.canonical("default", APP) == graph.canonical("default", USER)
    [merge] = graph.merges_of("default", merged or "")
    assert merge.message_id == "bad-join" and merge.id is not None

    split, kept = graph.unmerge("default", merge.id)
    assert {split, kept} == {merge.from_id, merge.into_id}
    web_owner = graph.canonical("default", WEB)
    app_owner = graph.canonical("default", APP)
    assert web_owner != app_owner
    assert graph.canonical("default", USER) == app_owner
    assert graph.merges_of("default", kept) == []

    # The same linking message again must not merge them a second time.
    [again] = resolve(engine, [{**HISTORY[2], "id": "bad-join-2"}], first_offset=10)
    assert graph.canonical("default", WEB) != graph.canonical("default", APP)
    assert graph.canonical_of_profile(again) in (web_owner, app_owner)

    with pytest.raises(Conflict):
        graph.unmerge("default", merge.id)
    with pytest.raises(NotFound):
        graph.unmerge("default", 999_999)


def test_a_separation_survives_later_merges_of_either_side(engine: Engine) -> None:
    resolve(engine, HISTORY)
    graph = SqlIdentityGraph(engine)
    [merge] = graph.merges_of("default", graph.canonical("default", WEB) or "")
    assert merge.id is not None
    graph.unmerge("default", merge.id)
    # The app side merges with a third profile; the web side must still stay apart from it.
    resolve(engine, [{"id": "tablet", "type": "page", "anonymousId": "tablet-1"}], first_offset=20)
    resolve(
        engine,
        [{"id": "tablet-login", "type": "identify", "userId": "wes", "anonymousId": "tablet-1"}],
        first_offset=21,
    )
    resolve(
        engine,
        [
            {
                "id": "join-3",
                "type": "identify",
                "anonymousId": "tablet-1",
                "context": {"traits": {"email": "wes@x.io"}},
            }
        ],
        first_offset=22,
    )
    assert graph.canonical("default", WEB) != graph.canonical(
        "default", Identifier("anonymous_id", "tablet-1")
    )

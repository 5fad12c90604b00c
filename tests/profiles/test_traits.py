"""Traits merge per trait by the latest event timestamp, across merged profiles."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.profiles_stage import UpdateTraits
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.traits_sql import SqlTraitStore
from tests.identity.test_resolution import items_of


def traits_after(
    engine: Engine, messages: list[dict[str, Any]], who: Identifier, batch_size: int = 1
) -> dict[str, Any]:
    graph = SqlIdentityGraph(engine)
    store = SqlTraitStore(engine)
    stages = (ResolveIdentities(graph, IdentityRules()), UpdateTraits(store))
    items = items_of(messages)
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        for stage in stages:
            batch = stage(batch)
    canonical = graph.canonical("default", who)
    assert canonical is not None
    return store.traits_of(canonical)


ANN = Identifier("user_id", "ann")

CASES = [
    (
        "identify sets traits",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"name": "Ann", "plan": "free"},
            }
        ],
        {"name": "Ann", "plan": "free"},
    ),
    (
        "a newer identify overwrites one trait and keeps the rest",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"name": "Ann", "plan": "free"},
                "timestamp": "2026-01-01T00:00:00Z",
            },
            {
                "id": "2",
                "type": "identify",
                "userId": "ann",
                "traits": {"plan": "pro"},
                "timestamp": "2026-01-02T00:00:00Z",
            },
        ],
        {"name": "Ann", "plan": "pro"},
    ),
    (
        "an older event arriving late does not overwrite a newer value",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"plan": "pro"},
                "timestamp": "2026-01-02T00:00:00Z",
            },
            {
                "id": "2",
                "type": "identify",
                "userId": "ann",
                "traits": {"plan": "free", "city": "Delft"},
                "timestamp": "2026-01-01T00:00:00Z",
            },
        ],
        {"plan": "pro", "city": "Delft"},
    ),
    (
        "null removes a trait",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"plan": "pro", "coupon": "X"},
                "timestamp": "2026-01-01T00:00:00Z",
            },
            {
                "id": "2",
                "type": "identify",
                "userId": "ann",
                "traits": {"coupon": None},
                "timestamp": "2026-01-02T00:00:00Z",
            },
        ],
        {"plan": "pro"},
    ),
    (
        "a removal older than the value does not remove it",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"coupon": "X"},
                "timestamp": "2026-01-02T00:00:00Z",
            },
            {
                "id": "2",
                "type": "identify",
                "userId": "ann",
                "traits": {"coupon": None},
                "timestamp": "2026-01-01T00:00:00Z",
            },
        ],
        {"coupon": "X"},
    ),
    (
        "context.traits on a track call set traits",
        [
            {
                "id": "1",
                "type": "track",
                "userId": "ann",
                "event": "E",
                "context": {"traits": {"locale": "nl"}},
            },
        ],
        {"locale": "nl"},
    ),
    (
        "traits of profiles merged later are combined, newest wins",
        [
            {
                "id": "1",
                "type": "identify",
                "anonymousId": "a1",
                "traits": {"cart": 3, "plan": "free"},
                "timestamp": "2026-01-01T00:00:00Z",
            },
            {
                "id": "2",
                "type": "identify",
                "userId": "ann",
                "traits": {"plan": "pro"},
                "timestamp": "2026-01-02T00:00:00Z",
            },
            {
                "id": "3",
                "type": "identify",
                "userId": "ann",
                "anonymousId": "a1",
                "timestamp": "2026-01-03T00:00:00Z",
            },
        ],
        {"cart": 3, "plan": "pro"},
    ),
    (
        "nested objects are stored as sent",
        [
            {
                "id": "1",
                "type": "identify",
                "userId": "ann",
                "traits": {"address": {"city": "Delft", "zip": "2611"}},
            },
        ],
        {"address": {"city": "Delft", "zip": "2611"}},
    ),
]


@pytest.mark.parametrize("batch_size", [1, 50], ids=["one-per-batch", "one-batch"])
@pytest.mark.parametrize(("_story", "messages", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trait_merging(
    engine: Engine,
    batch_size: int,
    _story: str,
    messages: list[dict[str, Any]],
    expected: dict[str, Any],
) -> None:
    assert traits_after(engine, messages, ANN, batch_size) == expected

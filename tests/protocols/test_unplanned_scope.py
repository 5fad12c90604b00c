"""`unplanned_events` is about track calls only (Segment's "Unplanned Events" control): an
identify, group, page or screen call that the plan has no rule for is not an unplanned event,
so it is neither recorded as one nor held. Identity resolution depends on those calls."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.pipeline.protocols_stage import ApplyProtocols
from seamline.protocols.enforce import parse_controls
from seamline.protocols.plan import load_plan
from seamline.protocols.validate import CompiledPlan
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.workspace.compiled import SourceRules, WorkspaceRules
from tests.protocols.conftest import Workspace

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EVENTS_ONLY = {"events": {"Order Completed": {"properties": {"total": "number"}}}}
WITH_TRAITS = {**EVENTS_ONLY, "identify": {"traits": {"email": "string"}}}
_offsets = itertools.count()

CASES = [
    # (what happens, plan, message, held?, rules recorded)
    (
        "an identify with no identify rule is kept",
        EVENTS_ONLY,
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}},
        False,
        [],
    ),
    (
        "a page with no page rule is kept",
        EVENTS_ONLY,
        {"type": "page", "anonymousId": "a1", "name": "Home"},
        False,
        [],
    ),
    (
        "a screen with no screen rule is kept",
        EVENTS_ONLY,
        {"type": "screen", "userId": "u1"},
        False,
        [],
    ),
    (
        "a group with no group rule is kept",
        EVENTS_ONLY,
        {"type": "group", "userId": "u1", "groupId": "g1"},
        False,
        [],
    ),
    (
        "an alias is kept",
        EVENTS_ONLY,
        {"type": "alias", "userId": "u1", "previousId": "a1"},
        False,
        [],
    ),
    (
        "a track event the plan lacks is quarantined as unplanned",
        EVENTS_ONLY,
        {"type": "track", "userId": "u1", "event": "Wishlist Opened"},
        True,
        ["unplanned_event"],
    ),
    (
        "a planned track event is kept",
        EVENTS_ONLY,
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"total": 1}},
        False,
        [],
    ),
    (
        "an identify that breaks its rule is still checked, not held by unplanned_events",
        WITH_TRAITS,
        {"type": "identify", "userId": "u1", "traits": {"email": 5}},
        False,
        ["type"],
    ),
]


def item(document: dict[str, Any]) -> Item:
    offset = next(_offsets)
    raw = {"messageId": f"m{offset}", "receivedAt": NOW.isoformat(), **document}
    message = msgspec.json.decode(msgspec.json.encode(raw), type=Message)
    return Item(offset, Envelope(workspace_id="default", source_id="src", message=message))


@pytest.mark.parametrize(("case", "plan", "message", "is_held", "rules"), CASES)
def test_unplanned_events_control_applies_to_track_calls_only(
    engine: Engine,
    case: str,
    plan: dict[str, Any],
    message: dict[str, Any],
    is_held: bool,
    rules: list[str],
) -> None:
    store = SqlProtocolsStore(engine)
    compiled = WorkspaceRules(revision=1)
    compiled.sources["src"] = SourceRules(
        plan=CompiledPlan(load_plan({**plan, "name": "Shop"})),
        controls=parse_controls({"unplanned_events": "quarantine"}),
        naming=None,
    )
    stage = ApplyProtocols(lambda _: compiled, store, now=lambda: NOW)
    out = stage([item(message)])
    assert (out == []) is is_held, case
    assert stage.held == int(is_held)
    recorded = store.violations("default", limit=10)
    assert [v.rule for _, v in recorded] == rules


@pytest.mark.anyio
async def test_a_login_on_a_second_device_merges_under_a_track_only_plan(
    workspace: Workspace,
) -> None:
    await workspace.put("tracking-plans", "Shop", EVENTS_ONLY)
    await workspace.put(
        "source-connections",
        workspace.source.id,
        {"tracking_plan": "Shop", "schema_controls": {"unplanned_events": "quarantine"}},
    )
    common = {"receivedAt": NOW.isoformat()}
    await workspace.send(
        [
            {"type": "page", "anonymousId": "phone", "name": "Home", "messageId": "p1", **common},
            {"type": "identify", "anonymousId": "phone", "userId": "ann", "messageId": "i1"},
            {"type": "screen", "anonymousId": "laptop", "name": "Cart", "messageId": "s1"},
            {"type": "track", "anonymousId": "laptop", "event": "Unplanned", "messageId": "t1"},
            {"type": "identify", "anonymousId": "laptop", "userId": "ann", "messageId": "i2"},
        ]
    )
    held = (await workspace.get("held"))["data"]
    assert [row["message_id"] for row in held] == ["t1"]
    violations = (await workspace.get("violations"))["data"]
    assert {(row["message_id"], row["rule"]) for row in violations} == {("t1", "unplanned_event")}
    graph = workspace.app.identity
    phone = graph.canonical("default", Identifier("anonymous_id", "phone"))
    laptop = graph.canonical("default", Identifier("anonymous_id", "laptop"))
    assert phone is not None and phone == laptop == graph.canonical(
        "default", Identifier("user_id", "ann")
    )
    assert set(workspace.stored()) == {"p1", "i1", "s1", "i2"}

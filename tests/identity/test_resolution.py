"""Identity resolution scenarios through the pipeline stage and the SQL identity graph."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.spec import Envelope, Limits, parse_request
from seamline.spec.envelope import Item
from seamline.store.identity_sql import SqlIdentityGraph
from tests.identity.scenarios import SCENARIOS

START = datetime(2026, 5, 1, tzinfo=UTC)


def items_of(messages: list[dict[str, Any]], first_offset: int = 0) -> list[Item]:
    out = []
    for n, raw in enumerate(messages):
        body = {k: v for k, v in raw.items() if k != "id"} | {"messageId": raw["id"]}
        parsed = parse_request(
            msgspec.json.encode({"batch": [body]}),
            message_type=None,
            received_at=START + timedelta(seconds=n),
            client_ip=None,
            limits=Limits(),
        )
        assert not parsed.rejected, parsed.rejected
        envelope = Envelope(workspace_id="default", source_id="src", message=parsed.messages[0])
        out.append(Item(first_offset + n, envelope))
    return out


def run(
    engine: Engine,
    messages: list[dict[str, Any]],
    batch_size: int,
    rules: IdentityRules | None = None,
) -> dict[str, str]:
    graph = SqlIdentityGraph(engine)
    stage = ResolveIdentities(graph, rules or IdentityRules())
    items = items_of(messages)
    resolved: dict[str, str] = {}
    for start in range(0, len(items), batch_size):
        for item in stage(items[start : start + batch_size]):
            assert item.profile_id is not None
            resolved[item.envelope.message.message_id or ""] = item.profile_id
    # Every profile id handed out is canonical at the end, or follows merges to one.
    return {mid: graph.canonical_of_profile(pid) or pid for mid, pid in resolved.items()}


@pytest.mark.parametrize("batch_size", [1, 100], ids=["one-per-batch", "one-batch"])
@pytest.mark.parametrize(("_story", "messages", "same"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_identity_scenarios(
    engine: Engine,
    batch_size: int,
    _story: str,
    messages: list[dict[str, Any]],
    same: list[list[str]],
) -> None:
    profile_of = run(engine, messages, batch_size)
    groups = [{profile_of[mid] for mid in group} for group in same]
    for group, ids in zip(groups, same, strict=True):
        assert len(group) == 1, f"{ids} should share one profile, got {group}"
    distinct = [next(iter(group)) for group in groups]
    assert len(set(distinct)) == len(distinct), f"groups {same} should be different people"


def test_a_merge_is_recorded_with_its_cause(engine: Engine) -> None:
    messages = [
        {"id": "web", "type": "page", "anonymousId": "n-web"},
        {
            "id": "app",
            "type": "screen",
            "anonymousId": "n-app",
            "context": {"traits": {"email": "nia@x.io"}},
        },
        {
            "id": "join",
            "type": "identify",
            "userId": "nia",
            "anonymousId": "n-web",
            "traits": {"email": "nia@x.io"},
        },
    ]
    profile_of = run(engine, messages, 1)
    graph = SqlIdentityGraph(engine)
    canonical = profile_of["join"]
    [merge] = graph.merges_of("default", canonical)
    assert merge.message_id == "join"
    assert merge.into_id == canonical
    assert set(merge.identifiers) >= {Identifier("user_id", "nia"), Identifier("email", "nia@x.io")}
    assert {i["type"] + ":" + i["value"] for i in graph.identifiers_of(canonical)} == {
        "anonymous_id:n-web",
        "anonymous_id:n-app",
        "email:nia@x.io",
        "user_id:nia",
    }
    assert graph.canonical("default", Identifier("anonymous_id", "n-app")) == canonical
    assert len(graph.members(canonical)) == 2


def test_the_dropped_identifier_is_not_attached(engine: Engine) -> None:
    messages = [
        {"id": "jon", "type": "identify", "userId": "jon", "traits": {"email": "family@x.io"}},
        {"id": "kim", "type": "identify", "userId": "kim", "traits": {"email": "family@x.io"}},
    ]
    profile_of = run(engine, messages, 1)
    graph = SqlIdentityGraph(engine)
    assert graph.canonical("default", Identifier("email", "family@x.io")) == profile_of["jon"]
    assert {i["value"] for i in graph.identifiers_of(profile_of["kim"])} == {"kim"}


def test_a_configured_blocked_email_never_merges(engine: Engine) -> None:
    rules = IdentityRules(blocked_values=["test@test.com"])
    messages = [
        {
            "id": "o",
            "type": "identify",
            "anonymousId": "o-anon",
            "traits": {"email": "test@test.com"},
        },
        {
            "id": "p",
            "type": "identify",
            "anonymousId": "p-anon",
            "traits": {"email": "test@test.com"},
        },
    ]
    profile_of = run(engine, messages, 1, rules)
    assert profile_of["o"] != profile_of["p"]


def test_a_windowed_limit_counts_only_recent_values(engine: Engine) -> None:
    from seamline.identity.rules import DEFAULT_RULES, IdentifierRule

    rules = IdentityRules(
        {**DEFAULT_RULES, "email": IdentifierRule(priority=2, limit=1, window_seconds=60)}
    )
    messages = [
        {"id": "first", "type": "identify", "userId": "quin", "traits": {"email": "q1@x.io"}},
        {"id": "second", "type": "identify", "userId": "quin", "traits": {"email": "q2@x.io"}},
    ]
    # The second email arrives one second later: inside the window, so it is dropped.
    graph = SqlIdentityGraph(engine)
    stage = ResolveIdentities(graph, rules)
    items = stage(items_of(messages))
    assert items[0].profile_id == items[1].profile_id
    assert stage.dropped_identifiers == 1
    assert graph.canonical("default", Identifier("email", "q2@x.io")) is None


def test_a_sixth_anonymous_id_in_a_week_is_not_attached(engine: Engine) -> None:
    messages = [
        {"id": f"m{n}", "type": "identify", "userId": "sam", "anonymousId": f"sam-anon-{n}"}
        for n in range(6)
    ]
    profile_of = run(engine, messages, 1)
    assert len(set(profile_of.values())) == 1  # every message is still Sam's
    graph = SqlIdentityGraph(engine)
    attached = {
        i["value"] for i in graph.identifiers_of(profile_of["m0"]) if i["type"] == "anonymous_id"
    }
    assert attached == {f"sam-anon-{n}" for n in range(5)}


def test_anonymous_ids_older_than_a_week_stop_counting(engine: Engine) -> None:
    graph = SqlIdentityGraph(engine)
    stage = ResolveIdentities(graph, IdentityRules())
    early = items_of(
        [
            {"id": f"e{n}", "type": "identify", "userId": "tia", "anonymousId": f"tia-old-{n}"}
            for n in range(5)
        ]
    )
    stage(early)
    later = items_of(
        [{"id": "late", "type": "identify", "userId": "tia", "anonymousId": "tia-new"}]
    )
    later = [
        item._replace(
            envelope=type(item.envelope)(
                workspace_id="default",
                source_id="src",
                message=_shifted(item.envelope.message, days=8),
            )
        )
        for item in later
    ]
    [resolved] = stage(later)
    assert graph.canonical("default", Identifier("anonymous_id", "tia-new")) == resolved.profile_id


def _shifted(message: Any, days: int) -> Any:
    import msgspec

    return msgspec.structs.replace(message, received_at=message.received_at + timedelta(days=days))

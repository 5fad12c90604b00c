"""Engage changes only the traits it owns. The identify it emits for an audience or computed
trait carries the person's email (as Segment's does, for destinations), normalised as the
identity graph keeps it; applied as a trait, it rewrote `Ann@Example.com` to `ann@example.com`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine, insert

from seamline.engage.realtime import ENGAGE_SOURCE
from seamline.identity.identifiers import Identifier
from seamline.pipeline.profiles_stage import UpdateTraits
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.state import profiles
from seamline.store.traits_sql import SqlTraitStore
from tests.protocols.conftest import Workspace

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def item(offset: int, source: str, body: dict[str, Any]) -> Item:
    raw = {"messageId": f"m{offset}", "receivedAt": NOW.isoformat(), "userId": "ann", **body}
    message = msgspec.json.decode(msgspec.json.encode(raw), type=Message)
    return Item(offset, Envelope(workspace_id="w", source_id=source, message=message), "p1")


def engage_identify(offset: int, at: datetime) -> Item:
    """The shape `engage.effects.messages_for` emits for an audience change."""
    return item(
        offset,
        ENGAGE_SOURCE,
        {
            "type": "identify",
            "timestamp": at.isoformat(),
            "traits": {"buyers": True, "email": "ann@example.com"},
            "context": {
                "personas": {"computation_class": "audience", "computation_key": "buyers"},
                "traits": {"email": "ann@example.com"},
            },
        },
    )


@pytest.mark.parametrize("same_batch", [True, False])
def test_engage_identify_sets_only_its_computed_key(engine: Engine, same_batch: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(profiles).values(id="p1", workspace_id="w", canonical_id="p1", created_at=NOW)
        )
    store = SqlTraitStore(engine)
    stage = UpdateTraits(store)
    own = item(
        0,
        "src",
        {
            "type": "identify",
            "timestamp": (NOW - timedelta(days=1)).isoformat(),
            "traits": {"email": "Ann@Example.com", "plan": "pro"},
        },
    )
    later = engage_identify(1, NOW)
    if same_batch:
        stage([own, later])
    else:
        stage([own])
        stage([later])
    traits = store.traits_of("p1", verbose=True)
    assert traits["email"]["value"] == "Ann@Example.com"
    assert traits["email"]["source_id"] == "src"
    assert traits["buyers"] == {
        "value": True,
        "source_id": ENGAGE_SOURCE,
        "updated_at": "2026-06-01T12:00:00Z",
    }
    assert traits["plan"]["value"] == "pro"


@pytest.mark.anyio
async def test_computing_an_audience_keeps_the_users_email_as_they_wrote_it(
    workspace: Workspace,
) -> None:
    day = datetime.now(UTC) - timedelta(days=1)
    await workspace.send(
        [
            {
                "type": "identify",
                "userId": "ann",
                "traits": {"email": "Ann@Example.com", "name": "Ann"},
                "messageId": "i1",
                "timestamp": (day - timedelta(hours=1)).isoformat(),
            },
            {
                "type": "track",
                "userId": "ann",
                "event": "Order Completed",
                "messageId": "o1",
                "timestamp": day.isoformat(),
            },
        ]
    )
    definition = {"condition": {"performed": {"event": "Order Completed"}}}
    answer = await workspace.client.post(
        "/api/v1/audiences",
        json={"key": "buyers", "definition": definition},
        headers=workspace.headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["changed"] == 1
    await workspace.settle()
    # The announcing identify went through the pipeline: resolved to Ann, not to a new person.
    engage = workspace.app.event_store.query(
        "SELECT profile_id FROM events WHERE source_id = 'engage' AND type = 'identify'"
    )
    graph = workspace.app.identity
    ann = graph.canonical("default", Identifier("user_id", "ann"))
    assert [row[0] for row in engage] and {row[0] for row in engage} <= set(
        workspace.app.engage_store.people_of([ann or ""])
    )
    assert graph.canonical("default", Identifier("email", "ann@example.com")) == ann
    basic = {"Authorization": "Basic " + base64.b64encode(f"{workspace.token}:".encode()).decode()}
    answer = await workspace.client.get(
        "/v1/spaces/default/collections/users/profiles/user_id:ann/traits",
        params={"verbose": "true"},
        headers=basic,
    )
    traits = answer.json()["traits"]
    assert traits["email"]["value"] == "Ann@Example.com"
    assert traits["email"]["source_id"] == workspace.source.id
    assert traits["name"]["value"] == "Ann"
    assert traits["buyers"]["value"] is True
    stored = workspace.app.traits.traits_of(ann or "", verbose=True)
    assert stored["email"] == traits["email"]
    assert stored["buyers"]["source_id"] == ENGAGE_SOURCE

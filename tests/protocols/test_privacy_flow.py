"""PII controls, the data inventory and consent through the Tracking API, down to what the
destination stubs receive."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


def order(message_id: str, consent: dict[str, bool] | None = None, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if consent is not None:
        context["consent"] = {"categoryPreferences": consent}
    return {
        "type": "track",
        "userId": "ada",
        "event": "Order Completed",
        "properties": {
            "email": "Ada@Example.com",
            "phone": "+44 20 7946 0958",
            "card": "4111 1111 1111 1111",
            "total": 30,
            **extra,
        },
        "context": context,
        "messageId": message_id,
        "timestamp": f"2026-11-0{message_id[-1]}T10:00:00Z",
    }


async def test_pii_controls_shape_what_reaches_each_destination(workspace: Workspace) -> None:
    await workspace.put(
        "pii-controls", "never-store-cards", {"classification": "red", "control": "drop"}
    )
    await workspace.put(
        "pii-controls",
        "ads-want-sha256",
        {"kind": "email", "control": "hash_plain", "destinations": ["meta"]},
    )
    await workspace.put(
        "pii-controls", "mask-phones", {"kind": "phone", "control": "mask", "destinations": ["*"]}
    )
    await workspace.put(
        "pii-controls",
        "hash-emails-webhook",
        {"kind": "email", "control": "hash", "destinations": ["webhook"]},
    )
    await workspace.send([order("m1")])
    stored = workspace.stored()["m1"]["properties"]
    assert "card" not in stored  # red: dropped before storage
    assert stored["email"] == "Ada@Example.com"  # stored as sent; destinations get their own view
    meta = workspace.destinations["meta"].received[0]["properties"]
    webhook = workspace.destinations["webhook"].received[0]["properties"]
    mixpanel = workspace.destinations["mixpanel"].received[0]["properties"]
    assert meta["email"] == hashlib.sha256(b"ada@example.com").hexdigest()
    assert len(webhook["email"]) == 64 and webhook["email"] != meta["email"]  # salted HMAC
    assert mixpanel["email"] == "Ada@Example.com"
    for received in (meta, webhook, mixpanel):
        assert received["phone"] == "********0958"
        assert "card" not in received
        assert received["total"] == 30


async def test_a_block_control_holds_the_event(workspace: Workspace) -> None:
    await workspace.put(
        "pii-matchers",
        "passport-no",
        {"kind": "passport", "classification": "red", "value_regex": "P[0-9]{8}"},
    )
    await workspace.put("pii-controls", "block-red", {"classification": "red", "control": "block"})
    await workspace.send(
        [
            {
                "type": "track",
                "userId": "u",
                "event": "A",
                "properties": {"doc": "P12345678"},
                "messageId": "b1",
            },
            {
                "type": "track",
                "userId": "u",
                "event": "A",
                "properties": {"doc": "none"},
                "messageId": "b2",
            },
        ]
    )
    assert set(workspace.stored()) == {"b2"}
    held = (await workspace.get("held"))["data"]
    assert [(h["message_id"], h["disposition"]) for h in held] == [("b1", "block")]
    assert "passport" in held[0]["reason"]


async def test_the_inventory_lists_fields_and_classes_never_values(workspace: Workspace) -> None:
    await workspace.send([order("m1"), order("m2", coupon="SPRING")])
    inventory = (await workspace.get("inventory", source=workspace.source.id))["data"]
    by_path = {row["path"]: row for row in inventory}
    assert by_path["properties.email"]["classification"] == "yellow"
    assert by_path["properties.email"]["kind"] == "email"
    assert by_path["properties.card"]["classification"] == "red"
    assert by_path["properties.total"]["classification"] == "green"
    assert by_path["properties.email"]["count"] == 2
    assert by_path["properties.coupon"]["count"] == 1
    assert by_path["context.ip"]["kind"] == "ip_address"
    # Source ids and timestamps are left out: a random id can contain "4111" (it did in CI).
    shown = ("path", "classification", "kind", "count")
    text = str([[row[k] for k in shown] for row in inventory])
    assert "4111" not in text and "Ada@" not in text


async def test_consent_routes_events_and_is_kept_on_the_profile(workspace: Workspace) -> None:
    await workspace.put("consent-categories", "Advertising", {"destinations": ["meta"]})
    await workspace.put("consent-categories", "Analytics", {"destinations": ["mixpanel", "meta"]})
    await workspace.send(
        [
            order("m1", {"Advertising": True, "Analytics": True}),
            order("m2", {"Advertising": False, "Analytics": True}),
            order("m3", {"Advertising": False, "Analytics": False}),
            order("m4"),  # no consent object: not enforced
        ]
    )

    def got(slug: str) -> list[str]:
        return sorted(m["messageId"] for m in workspace.destinations[slug].received)

    assert got("meta") == ["m1", "m4"]
    assert got("mixpanel") == ["m1", "m2", "m4"]
    assert got("webhook") == ["m1", "m2", "m3", "m4"]
    assert workspace.app.route.counts["meta", "consent"] == 2
    answer = await workspace.client.get(
        "/v1/spaces/default/collections/users/profiles/user_id:ada/consent",
        auth=(workspace.token, ""),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The newest message carrying consent (m3, by timestamp) wins; m4 carried none.
    assert body["consent"] == {"categoryPreferences": {"Advertising": False, "Analytics": False}}
    assert body["message_id"] == "m3"

"""A 20-event tracking plan on a source, fed good and bad events through the Tracking API:
each schema-control setting does what it says, violations carry paths, nothing is lost."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from tests.protocols.conftest import FIXTURES, Workspace

pytestmark = pytest.mark.anyio
PLAN = yaml.safe_load((FIXTURES / "shop_20.yaml").read_text())
GOOD_PROPERTIES: dict[str, dict[str, Any]] = {
    "Products Searched": {"query": "shoes"},
    "Product List Viewed": {"list_id": "l1"},
    "Product List Filtered": {"list_id": "l1", "filters": []},
    "Promotion Viewed": {"promotion_id": "p1"},
    "Promotion Clicked": {"promotion_id": "p1"},
    "Product Clicked": {"product_id": "sku-1"},
    "Product Viewed": {"product_id": "sku-1", "price": 10},
    "Product Added": {"product_id": "sku-1", "quantity": 2},
    "Product Removed": {"product_id": "sku-1"},
    "Cart Viewed": {"cart_id": "c1"},
    "Checkout Started": {"order_id": "o1", "value": 20},
    "Checkout Step Viewed": {"step": 1},
    "Checkout Step Completed": {"step": 1},
    "Payment Info Entered": {"payment_method": "card"},
    "Order Completed": {
        "order_id": "o1",
        "total": 20,
        "currency": "EUR",
        "products": [{"sku": "a"}],
    },
    "Order Updated": {"order_id": "o1"},
    "Order Refunded": {"order_id": "o1", "total": 20},
    "Order Cancelled": {"order_id": "o1"},
    "Coupon Applied": {"coupon_id": "SPRING"},
    "Signed Up": {"method": "email"},
}
_ids = itertools.count()


def track(event: str, properties: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "u1",
        "event": event,
        "properties": properties,
        "messageId": f"{kind}-{next(_ids)}",
    }


def stream() -> list[dict[str, Any]]:
    """20 good events, 3 unplanned, 4 with violations, 2 with an unplanned property."""
    good = [track(name, props, "good") for name, props in GOOD_PROPERTIES.items()]
    unplanned = [
        track(name, {}, "unplanned") for name in ("Wishlist Opened", "order completed", "Foo")
    ]
    violating = [
        track("Order Completed", {"order_id": "o2", "total": "20", "currency": "EUR"}, "bad"),
        track("Order Completed", {"order_id": "o3", "total": 5, "currency": "GBP"}, "bad"),
        track(
            "Order Completed", {"total": 5, "currency": "USD", "products": [{"price": 1}]}, "bad"
        ),
        track("Product Added", {"product_id": "sku-1", "quantity": 0}, "bad"),
    ]
    extra = [
        track("Coupon Applied", {"coupon_id": "X", "discount": 5}, "extra"),
        track("Signed Up", {"method": "google", "referrer": "ad"}, "extra"),
    ]
    return good + unplanned + violating + extra


async def connect(workspace: Workspace, **controls: str) -> None:
    await workspace.put("tracking-plans", "Shop", PLAN)
    await workspace.put(
        "source-connections",
        workspace.source.id,
        {"tracking_plan": "Shop", "schema_controls": controls},
    )


async def held(workspace: Workspace) -> dict[str, dict[str, Any]]:
    body = await workspace.get("held")
    return {row["message_id"]: row for row in body["data"]}


def ids(messages: list[dict[str, Any]], kind: str) -> set[str]:
    return {m["messageId"] for m in messages if m["messageId"].startswith(kind)}


async def test_allow_everything_stores_everything_and_flags_violations(
    workspace: Workspace,
) -> None:
    await connect(workspace)
    sent = stream()
    await workspace.send(sent)
    stored = workspace.stored()
    assert set(stored) == {m["messageId"] for m in sent}
    assert await held(workspace) == {}
    summary = await workspace.get("violations/summary")
    rules = {(row["event_name"], row["rule"]): row["count"] for row in summary["data"]}
    assert rules[("Order Completed", "type")] == 1
    assert rules[("Order Completed", "enum")] == 1
    assert rules[("Order Completed", "required")] == 2  # order_id, products.0.sku
    assert rules[("Product Added", "minimum")] == 1
    assert sum(count for (_, rule), count in rules.items() if rule == "unplanned_event") == 3
    found = await workspace.get("violations", rule="required")
    paths = {row["path"] for row in found["data"]}
    assert paths == {"properties.order_id", "properties.products.0.sku"}
    typed = (await workspace.get("violations", rule="type"))["data"][0]
    assert (typed["path"], typed["expected"]) == ("properties.total", "number")
    assert "12" not in typed["actual"] and "string" in typed["actual"]


async def test_block_and_quarantine_hold_messages_and_lose_none(workspace: Workspace) -> None:
    await connect(workspace, unplanned_events="quarantine", violations="block")
    sent = stream()
    await workspace.send(sent)
    stored, kept = workspace.stored(), await held(workspace)
    assert set(stored) == ids(sent, "good") | ids(sent, "extra")
    assert {m for m, row in kept.items() if row["disposition"] == "quarantine"} == ids(
        sent, "unplanned"
    )
    assert {m for m, row in kept.items() if row["disposition"] == "block"} == ids(sent, "bad")
    assert set(stored) | set(kept) == {m["messageId"] for m in sent}
    assert not set(stored) & set(kept)
    blocked = next(row for row in kept.values() if row["disposition"] == "block")
    assert blocked["message"]["type"] == "track"  # kept as it arrived, ready to re-run


async def test_block_unplanned_events(workspace: Workspace) -> None:
    await connect(workspace, unplanned_events="block")
    sent = stream()
    await workspace.send(sent)
    kept = await held(workspace)
    assert set(kept) == ids(sent, "unplanned")
    assert {row["disposition"] for row in kept.values()} == {"block"}


async def test_omit_removes_bad_and_unplanned_properties_and_says_so(workspace: Workspace) -> None:
    await connect(workspace, violations="omit", unplanned_properties="omit")
    sent = stream()
    await workspace.send(sent)
    stored = workspace.stored()
    assert set(stored) == {m["messageId"] for m in sent}
    by_event = {(row["event"], tuple(sorted(row["properties"]))): row for row in stored.values()}
    wrong_total = next(row for row in stored.values() if row["properties"].get("order_id") == "o2")
    assert "total" not in wrong_total["properties"]
    assert wrong_total["context"]["protocols"]["omitted"] == ["properties.total"]
    wrong_currency = next(
        row for row in stored.values() if row["properties"].get("order_id") == "o3"
    )
    assert "currency" not in wrong_currency["properties"]
    extra = [row for row in stored.values() if row["event"] in ("Coupon Applied", "Signed Up")]
    assert {"discount", "referrer"}.isdisjoint(k for row in extra for k in row["properties"])
    assert ("Coupon Applied", ("coupon_id",)) in by_event
    assert any(
        row["context"].get("protocols", {}).get("omitted") == ["properties.discount"]
        for row in extra
    )
    unplanned = await workspace.get("violations", rule="unplanned_property")
    assert {row["path"] for row in unplanned["data"]} == {
        "properties.discount",
        "properties.referrer",
    }


async def test_held_messages_rerun_once_the_plan_is_fixed(workspace: Workspace) -> None:
    await connect(workspace, unplanned_events="quarantine")
    sent = stream()
    await workspace.send(sent)
    assert set(await held(workspace)) == ids(sent, "unplanned")
    fixed = {**PLAN, "events": {**PLAN["events"], "Wishlist Opened": {}, "Foo": {}}}
    await workspace.put("tracking-plans", "Shop", fixed)
    answer = await workspace.client.post("/api/v1/held/rerun", json={}, headers=workspace.headers)
    assert answer.json() == {"rerun": 3}
    await workspace.settle()
    stored = workspace.stored()
    assert ids(sent, "unplanned") - {m for m in stored} == {
        m["messageId"] for m in sent if m["event"] == "order completed"
    }
    kept = await held(workspace)
    assert set(kept) == {m["messageId"] for m in sent if m["event"] == "order completed"}
    again = await workspace.client.post(
        "/api/v1/held/rerun", json={"ids": []}, headers=workspace.headers
    )
    assert again.json() == {"rerun": 0}
    versions = await workspace.get("tracking-plans/Shop/versions")
    assert [v["version"] for v in versions["data"]] == [1, 2]

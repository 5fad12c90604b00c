"""The Stripe and Shopify templates, run in the functions sandbox on the tools' documented
example bodies (tests/sources/fixtures), signed as each tool documents its signature."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from seamline.protocols.source_functions import SourceFunctionRunner, SourceOutcome
from seamline.sources.stage import RECEIVED_AT_HEADER
from seamline.sources.templates import TEMPLATES
from tests.sources.conftest import fixture, shopify_hmac, stripe_signature

SECRET = "whsec_test"
SHOP_SECRET = "shpss_test"


@pytest.fixture(scope="module")
def stripe() -> Iterator[SourceFunctionRunner]:
    code = TEMPLATES["stripe"].code
    with SourceFunctionRunner("stripe", code, {"signing_secret": SECRET}) as runner:
        yield runner


@pytest.fixture(scope="module")
def shopify() -> Iterator[SourceFunctionRunner]:
    code = TEMPLATES["shopify"].code
    with SourceFunctionRunner("shopify", code, {"client_secret": SHOP_SECRET}) as runner:
        yield runner


def request(body: str, headers: dict[str, str]) -> dict[str, Any]:
    received = {RECEIVED_AT_HEADER: f"{time.time():.3f}"}
    return {
        "method": "POST",
        "url": "https://seamline.example/v1/webhooks/[token]",
        "headers": {**received, **{k.lower(): v for k, v in headers.items()}},
        "query": {},
        "body": body,
    }


def signed(name: str, at: int | None = None) -> dict[str, Any]:
    body = fixture(f"stripe/{name}.json")
    return request(body, {"Stripe-Signature": stripe_signature(body, SECRET, at)})


def ok(outcome: SourceOutcome) -> list[dict[str, Any]]:
    assert outcome.status == "ok", outcome.error
    return outcome.messages


def test_stripe_events_become_spec_messages(stripe: SourceFunctionRunner) -> None:
    names = ("customer.created", "charge.succeeded", "invoice.paid", "checkout.session.completed")
    customer, charge, invoice, checkout = stripe.run([signed(name) for name in names])
    [identify] = ok(customer)
    assert identify["type"] == "identify"
    assert identify["userId"] == "cus_NffrFeUfNV2Hib"
    assert identify["messageId"] == "stripe-evt_1NG8Du2eZvKYlo2CUI79vXWy-0"
    assert identify["traits"]["email"] == "jennyrosen@example.com"
    assert identify["traits"]["created_at"].startswith("2023-04-07T")
    assert identify["timestamp"].startswith("2023-03-29T")  # the event's `created`
    [payment] = ok(charge)
    assert payment["event"] == "Payment Succeeded"
    assert payment["anonymousId"] == "stripe-ch_3MmlLrLkdIwHu7ix0snN0B15"  # no customer
    assert payment["properties"]["revenue"] == 10.99
    assert payment["properties"]["currency"] == "USD"
    [paid] = ok(invoice)
    assert paid["event"] == "Invoice Paid"
    assert paid["userId"] == "cus_NeZwdNtLEOXuvB"
    assert paid["properties"]["revenue"] == 20.0
    assert paid["properties"]["subscription_id"] == "sub_1MtHbELkdIwHu7ixl4OzzPMa"
    who, order = ok(checkout)
    assert who["type"] == "identify"
    assert who["traits"] == {"email": "jennyrosen@example.com", "name": "Jenny Rosen"}
    assert order["event"] == "Order Completed"
    assert order["userId"] == "user_42"
    assert order["properties"]["checkout_id"].startswith("cs_test_")
    assert order["properties"]["total"] == 21.98
    assert order["properties"]["tax"] == 0


def test_stripe_signatures_are_checked(stripe: SourceFunctionRunner) -> None:
    body = fixture("stripe/charge.succeeded.json")
    wrong = request(body, {"Stripe-Signature": stripe_signature(body, "whsec_other")})
    stale = signed("charge.succeeded", at=int(time.time()) - 1000)
    missing = request(body, {})
    tampered = signed("charge.succeeded")
    tampered["body"] = body.replace("1099", "1")
    outcomes = stripe.run([wrong, stale, missing, tampered])
    assert [o.status for o in outcomes] == ["error"] * 4
    assert "does not match" in str(outcomes[0].error)
    assert "outside the tolerance" in str(outcomes[1].error)
    assert "no Stripe-Signature" in str(outcomes[2].error)
    assert "does not match" in str(outcomes[3].error)


def test_other_stripe_events_emit_nothing(stripe: SourceFunctionRunner) -> None:
    body = json.dumps({"id": "evt_1", "type": "setup_intent.created", "created": 1, "data": {}})
    [outcome] = stripe.run([request(body, {"Stripe-Signature": stripe_signature(body, SECRET)})])
    assert ok(outcome) == []


def shop(topic: str, name: str, secret: str = SHOP_SECRET) -> dict[str, Any]:
    body = fixture(f"shopify/{name}.json")
    return request(
        body,
        {
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": shopify_hmac(body, secret),
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Shop-Domain": "example.myshopify.com",
        },
    )


def test_shopify_webhooks_become_spec_messages(shopify: SourceFunctionRunner) -> None:
    orders, customers, checkouts = shopify.run(
        [
            shop("orders/create", "orders-create"),
            shop("customers/create", "customers-create"),
            shop("checkouts/create", "checkouts-create"),
        ]
    )
    who, order = ok(orders)
    assert who["type"] == "identify"
    assert who["userId"] == "115310627314723954"
    assert who["traits"]["address"]["city"] == "Ottawa"
    assert order["event"] == "Order Completed"
    assert order["messageId"] == "shopify-b54557e4-bdd9-4b37-8a5f-bf7d70bcd043-1"
    properties = order["properties"]
    assert (properties["order_id"], properties["total"]) == ("820982911946154508", 403.0)
    assert (properties["subtotal"], properties["discount"], properties["shipping"]) == (
        388.0,
        20.0,
        10.0,
    )
    assert properties["currency"] == "USD"
    assert [p["sku"] for p in properties["products"]] == ["IPOD2008PINK", "IPOD2008PINK"]
    assert properties["products"][0]["price"] == 199.0
    [customer] = ok(customers)
    assert customer["userId"] == "706405506930370084"
    assert customer["traits"]["first_name"] == "Bob"
    assert customer["traits"]["email"] == "bob@biller.com"
    [started] = ok(checkouts)
    assert started["event"] == "Checkout Started"
    assert started["userId"] == "603851970716743426"
    assert started["properties"]["value"] == 398.0
    assert started["properties"]["products"][0]["quantity"] == 2


def test_a_wrong_shopify_hmac_is_refused(shopify: SourceFunctionRunner) -> None:
    [outcome] = shopify.run([shop("orders/create", "orders-create", secret="other")])
    assert outcome.status == "error"
    assert "X-Shopify-Hmac-Sha256 does not match" in str(outcome.error)

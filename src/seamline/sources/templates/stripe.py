"""Stripe webhooks → Segment messages.

Stripe posts an Event object (`id`, `type`, `created`, `data.object`) as JSON, signed in the
`Stripe-Signature` header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the
endpoint's signing secret>` (there may be several v1 values while a secret rolls). With the
`signing_secret` setting the function refuses a request whose signature does not match or
whose `t` is more than `tolerance_seconds` (default 300, Stripe's own) from when Seamline
received it; the request is then held with the reason, not lost.

Mapping (amounts in the currency's major unit; zero-decimal currencies as they are):
- `customer.created`, `customer.updated` → identify with the customer's traits;
- `charge.succeeded` → track "Payment Succeeded" (`revenue`, `currency`);
- `invoice.paid` → track "Invoice Paid" (`revenue`, `subscription_id`);
- `checkout.session.completed` → identify (email, name) and track "Order Completed" as in
  Segment's e-commerce spec (`order_id`, `checkout_id`, `total`, `subtotal`, `tax`,
  `discount`, `currency`);
- other event types emit nothing.

The person is the `user_id` found in the Stripe object's metadata (setting
`user_id_metadata_key`, default `user_id`), else the Stripe customer id. MessageIds come from
the Stripe event id, so Stripe's retries of one event are dropped as duplicates.
"""

from __future__ import annotations

from seamline.sources.templates import Template

CODE = r"""
import hashlib
import hmac
import time
from datetime import datetime, timezone

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
                "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}


class SignatureError(Exception):
    pass


def verify(request, secret, tolerance):
    header = request.headers.get("stripe-signature")
    if not header:
        raise SignatureError("no Stripe-Signature header")
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if not stamps or not signatures:
        raise SignatureError("Stripe-Signature has no t= or v1=")
    signed = (stamps[0] + "." + request.text).encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise SignatureError("Stripe-Signature does not match the signing secret")
    received = float(request.headers.get("x-seamline-received-at") or time.time())
    if abs(received - int(stamps[0])) > tolerance:
        raise SignatureError("Stripe-Signature timestamp is outside the tolerance")


def money(amount, currency):
    if amount is None:
        return None
    return amount if (currency or "").lower() in ZERO_DECIMAL else amount / 100


def when(created):
    return datetime.fromtimestamp(created, tz=timezone.utc) if created else None


def person(obj, customer_id, settings):
    metadata = obj.get("metadata") or {}
    user_id = metadata.get(settings.get("user_id_metadata_key") or "user_id")
    if user_id:
        return {"user_id": str(user_id)}
    if customer_id:
        return {"user_id": customer_id}
    return {"anonymous_id": "stripe-" + obj["id"]}


def on_request(request, settings):
    if settings.get("signing_secret"):
        verify(request, settings["signing_secret"], float(settings.get("tolerance_seconds") or 300))
    event = request.json()
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    common = {"timestamp": when(event.get("created")),
              "context": {"integration": {"name": "stripe"}}}
    ids = iter(range(100))

    def emitted_id():
        return "stripe-" + event["id"] + "-" + str(next(ids))

    if kind in ("customer.created", "customer.updated"):
        traits = {
            "email": obj.get("email"),
            "name": obj.get("name"),
            "phone": obj.get("phone"),
            "description": obj.get("description"),
            "stripe_customer_id": obj.get("id"),
            "created_at": when(obj.get("created")).isoformat() if obj.get("created") else None,
        }
        if obj.get("address"):
            traits["address"] = obj["address"]
        identify(traits={k: v for k, v in traits.items() if v is not None},
                 message_id=emitted_id(), **person(obj, obj.get("id"), settings), **common)
    elif kind == "charge.succeeded":
        currency = obj.get("currency")
        track(event="Payment Succeeded", message_id=emitted_id(),
              properties={"charge_id": obj.get("id"),
                          "payment_intent_id": obj.get("payment_intent"),
                          "revenue": money(obj.get("amount_captured", obj.get("amount")), currency),
                          "currency": (currency or "").upper(),
                          "description": obj.get("description"),
                          "receipt_url": obj.get("receipt_url")},
              **person(obj, obj.get("customer"), settings), **common)
    elif kind == "invoice.paid":
        currency = obj.get("currency")
        track(event="Invoice Paid", message_id=emitted_id(),
              properties={"invoice_id": obj.get("id"), "subscription_id": obj.get("subscription"),
                          "revenue": money(obj.get("amount_paid"), currency),
                          "total": money(obj.get("total"), currency),
                          "currency": (currency or "").upper(),
                          "invoice_number": obj.get("number")},
              **person(obj, obj.get("customer"), settings), **common)
    elif kind == "checkout.session.completed":
        currency = obj.get("currency")
        details = obj.get("customer_details") or {}
        who = person(obj, obj.get("customer"), settings)
        if details.get("email"):
            traits = {"email": details.get("email"), "name": details.get("name")}
            identify(traits={k: v for k, v in traits.items() if v}, message_id=emitted_id(),
                     **who, **common)
        totals = obj.get("total_details") or {}
        track(event="Order Completed", message_id=emitted_id(),
              properties={"order_id": obj.get("payment_intent") or obj.get("id"),
                          "checkout_id": obj.get("id"),
                          "total": money(obj.get("amount_total"), currency),
                          "subtotal": money(obj.get("amount_subtotal"), currency),
                          "tax": money(totals.get("amount_tax"), currency),
                          "discount": money(totals.get("amount_discount"), currency),
                          "shipping": money(totals.get("amount_shipping"), currency),
                          "currency": (currency or "").upper()},
              **who, **common)
"""

TEMPLATE = Template(
    name="stripe",
    description="Stripe webhooks: customers (identify), payments, invoices, checkouts (track)",
    function_name="stripe-webhook",
    code=CODE.lstrip(),
    settings=("signing_secret", "tolerance_seconds", "user_id_metadata_key"),
    secret_settings=("signing_secret",),
)

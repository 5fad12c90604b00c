"""Shopify webhooks → Segment messages.

Shopify posts the resource as JSON and names it in headers: `X-Shopify-Topic` (`orders/create`
…), `X-Shopify-Webhook-Id` (the same on retries of one delivery) and `X-Shopify-Hmac-Sha256`,
the base64 HMAC-SHA256 of the raw body keyed with the app's client secret. With the
`client_secret` setting the function refuses a request whose HMAC does not match (it is held
with the reason, not lost).

Mapping, as in Segment's e-commerce spec (prices are Shopify's decimal strings, as numbers):
- `customers/create`, `customers/update` → identify (email, names, phone, …);
- `orders/create` → identify the customer and track "Order Completed" (`order_id`, `total`,
  `subtotal`, `tax`, `discount`, `shipping`, `coupon`, `currency`, `products`);
- `orders/cancelled` → track "Order Cancelled";
- `checkouts/create` → track "Checkout Started" (`checkout_id`, `value`, `currency`,
  `products`);
- other topics emit nothing.

The person is the Shopify customer id (as text), else an anonymous id from the order or
checkout. MessageIds come from `X-Shopify-Webhook-Id`, so Shopify's retries are duplicates.
"""

from __future__ import annotations

from seamline.sources.templates import Template

CODE = r"""
import base64
import hashlib
import hmac


class SignatureError(Exception):
    pass


def verify(request, secret):
    given = request.headers.get("x-shopify-hmac-sha256")
    if not given:
        raise SignatureError("no X-Shopify-Hmac-Sha256 header")
    digest = hmac.new(secret.encode(), request.text.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), given.strip()):
        raise SignatureError("X-Shopify-Hmac-Sha256 does not match the client secret")


def number(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def products(items):
    return [
        {"product_id": str(item.get("product_id") or ""), "sku": item.get("sku"),
         "name": item.get("title") or item.get("name"), "variant": item.get("variant_title"),
         "price": number(item.get("price")), "quantity": item.get("quantity"),
         "brand": item.get("vendor")}
        for item in (items or [])
    ]


def traits_of(customer):
    traits = {
        "email": customer.get("email"),
        "first_name": customer.get("first_name"),
        "last_name": customer.get("last_name"),
        "phone": customer.get("phone"),
        "created_at": customer.get("created_at"),
        "shopify_customer_id": str(customer["id"]) if customer.get("id") else None,
    }
    address = customer.get("default_address")
    if address:
        traits["address"] = {"street": address.get("address1"), "city": address.get("city"),
                             "postal_code": address.get("zip"), "country": address.get("country"),
                             "state": address.get("province")}
    return {k: v for k, v in traits.items() if v is not None}


def on_request(request, settings):
    if settings.get("client_secret"):
        verify(request, settings["client_secret"])
    topic = request.headers.get("x-shopify-topic", "")
    body = request.json()
    delivery = request.headers.get("x-shopify-webhook-id")
    counter = iter(range(100))

    def ids():
        if not delivery:
            return {}
        return {"message_id": "shopify-" + delivery + "-" + str(next(counter))}

    context = {"integration": {"name": "shopify"}}
    shop = request.headers.get("x-shopify-shop-domain")
    if shop:
        context["shop"] = shop

    if topic in ("customers/create", "customers/update"):
        identify(user_id=str(body["id"]), traits=traits_of(body), context=context,
                 timestamp=body.get("updated_at") or body.get("created_at"), **ids())
        return
    customer = body.get("customer") or {}
    who = ({"user_id": str(customer["id"])} if customer.get("id")
           else {"anonymous_id": "shopify-" + str(body.get("token") or body.get("id"))})
    when = body.get("processed_at") or body.get("created_at")
    if topic == "orders/create":
        if customer.get("id"):
            identify(traits=traits_of(customer), timestamp=when, context=context, **who, **ids())
        shipping_set = (body.get("total_shipping_price_set") or {}).get("shop_money") or {}
        shipping = shipping_set.get("amount")
        codes = body.get("discount_codes") or []
        track(event="Order Completed", timestamp=when, context=context, **who, **ids(),
              properties={"order_id": str(body["id"]), "checkout_id": body.get("checkout_token"),
                          "total": number(body.get("total_price")),
                          "subtotal": number(body.get("subtotal_price")),
                          "tax": number(body.get("total_tax")),
                          "discount": number(body.get("total_discounts")),
                          "shipping": number(shipping),
                          "coupon": codes[0].get("code") if codes else None,
                          "currency": body.get("currency"),
                          "products": products(body.get("line_items"))})
    elif topic == "orders/cancelled":
        track(event="Order Cancelled", timestamp=body.get("cancelled_at") or when, context=context,
              **who, **ids(),
              properties={"order_id": str(body["id"]), "total": number(body.get("total_price")),
                          "currency": body.get("currency"), "reason": body.get("cancel_reason")})
    elif topic == "checkouts/create":
        track(event="Checkout Started", timestamp=when, context=context, **who, **ids(),
              properties={"checkout_id": str(body.get("token") or body.get("id")),
                          "value": number(body.get("total_price")),
                          "currency": body.get("currency"),
                          "products": products(body.get("line_items"))})
"""

TEMPLATE = Template(
    name="shopify",
    description="Shopify webhooks: customers (identify), orders and checkouts (track)",
    function_name="shopify-webhook",
    code=CODE.lstrip(),
    settings=("client_secret",),
    secret_settings=("client_secret",),
)

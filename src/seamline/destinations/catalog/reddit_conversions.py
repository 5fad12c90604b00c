"""Reddit Conversions API (v2.0): conversion events for an ad account's pixel.

`POST {endpoint}/api/v2.0/conversions/events/{account_id}` with `Authorization: Bearer
{conversion access token}` and `{test_mode, events: [event, …]}`, at most 1,000 events per
request. Each event: `event_at` (ISO 8601; Reddit refuses events older than 7 days),
`event_type: {tracking_type, custom_event_name?}` (PageVisit, ViewContent, Search, AddToCart,
AddToWishlist, Purchase, Lead, SignUp, or Custom with a name), `click_id` (the rdt_cid of the
ad click), `event_metadata` (`conversion_id` deduplicates with the same event from the Pixel,
`currency`, `value_decimal`, `item_count`, `products`) and `user`.

In `user`, the email, external id, IP address, phone number and mobile advertising id are
SHA-256 hashed as Reddit documents: the email canonicalised (lowercased, the `+alias` and every
non-alphanumeric character of the local part removed), the phone as E.164, ids trimmed; a value
that already is a SHA-256 is sent as it is. `uuid` (the `_rdt_uuid` cookie) and the user agent
are sent in the clear. `test_mode` events show in Events Manager and count for nothing.

Answers: 200 accepted; 400 an invalid event (the request is refused whole, which is why events
are checked here first and a bad one is refused alone); 401 a bad token; 403 an ad account the
token may not use; 429 throttled, 5xx outages (both retried). Reddit has no API to delete a
person's conversions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from seamline.destinations.catalog._ad_events import (
    SEGMENT_EVENT,
    Outcome,
    event_name,
    event_time,
    path_segment,
    raise_outcome,
    send_each,
    standard_presets,
    standard_trigger,
)
from seamline.destinations.definition import Action, Context, Destination, Field, Setting
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.hashing import hashed, phone_e164, reddit_email, trimmed
from seamline.destinations.shaping import first_of, path

API_HOST = "https://ads-api.reddit.com"
API_VERSION = "v2.0"
MAX_EVENTS = 1_000  # per request
MAX_AGE = dt.timedelta(days=7)
TRACKING_TYPES = (
    "PageVisit",
    "ViewContent",
    "Search",
    "AddToCart",
    "AddToWishlist",
    "Purchase",
    "Lead",
    "SignUp",
)
STANDARD = {
    "page": "PageVisit",
    "Product Viewed": "ViewContent",
    "Products Searched": "Search",
    "Product Added": "AddToCart",
    "Product Added to Wishlist": "AddToWishlist",
    "Order Completed": "Purchase",
    "Lead Generated": "Lead",
    "Signed Up": "SignUp",
}


def _user(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, Mapping) else {}
    user: dict[str, Any] = {
        "email": hashed(raw.get("email"), reddit_email),
        "external_id": hashed(raw.get("external_id"), trimmed),
        "ip_address": hashed(raw.get("ip_address"), trimmed),
        "phone_number": hashed(raw.get("phone_number"), phone_e164),
        "user_agent": raw.get("user_agent"),
        "uuid": raw.get("uuid"),
    }
    advertising_id = hashed(raw.get("advertising_id"), trimmed)
    if advertising_id:
        ios = str(raw.get("device_type") or "").strip().lower() == "ios"
        user["idfa" if ios else "aaid"] = advertising_id
    return {key: value for key, value in user.items() if value not in (None, "")}


def _metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    raw = payload.get("event_metadata")
    metadata = dict(raw) if isinstance(raw, Mapping) else {}
    if payload.get("conversion_id") not in (None, ""):
        metadata["conversion_id"] = str(payload["conversion_id"]).strip()
    products = payload.get("products")
    if isinstance(products, list) and products:
        metadata["products"] = [
            {k: v for k, v in item.items() if v not in (None, "")}
            for item in products
            if isinstance(item, Mapping)
        ]
    return {key: value for key, value in metadata.items() if value not in (None, "", [])}


def reddit_event(payload: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """One Reddit conversion event from a payload, or InvalidPayload naming the broken rule."""
    custom = payload.get("custom_event_name")
    if isinstance(custom, str) and custom.strip():
        event_type = {"tracking_type": "Custom", "custom_event_name": custom.strip()}
    else:
        tracking_type = event_name(payload, "tracking_type", STANDARD, where)
        if tracking_type not in TRACKING_TYPES:
            raise InvalidPayload(f"tracking_type must be one of {', '.join(TRACKING_TYPES)}{where}")
        event_type = {"tracking_type": tracking_type}
    user = _user(payload.get("user"))
    if not ({"email", "external_id", "ip_address", "phone_number", "uuid"} & user.keys()) and not (
        {"idfa", "aaid"} & user.keys()
    ):
        raise InvalidPayload(f"a Reddit event needs an identifier of the person{where}")
    when = event_time(payload.get("event_at"), where, MAX_AGE)
    event: dict[str, Any] = {
        "event_at": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "event_type": event_type,
        "click_id": payload.get("click_id") or None,
        "event_metadata": _metadata(payload) or None,
        "user": user,
    }
    return {key: value for key, value in event.items() if value is not None}


def _url(ctx: Context) -> str:
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    account = path_segment(ctx.settings.get("ad_account_id"), "ad_account_id")
    return f"{host}/api/{API_VERSION}/conversions/events/{account}"


def _post(ctx: Context, events: list[dict[str, Any]]) -> None:
    body = {"test_mode": bool(ctx.settings.get("test_mode")), "events": events}
    ctx.http.post(
        _url(ctx),
        json=body,
        headers={"Authorization": f"Bearer {ctx.settings['conversion_token']}"},
    )


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Send events, 1,000 per request; each payload's outcome (None: sent)."""

    def send(events: list[dict[str, Any]]) -> Sequence[Outcome] | None:
        _post(ctx, events)
        return None

    return send_each(payloads, reddit_event, send, MAX_EVENTS)


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    raise_outcome(send_events(ctx, [payload]))


def test_authentication(ctx: Context) -> None:
    """Reddit offers no read with a conversion token: one test-mode PageVisit is sent, which
    Reddit checks (token, account) and then counts for nothing."""
    event = {
        "event_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "event_type": {"tracking_type": "PageVisit"},
        "user": {"external_id": hashed("seamline-connection-test", trimmed)},
    }
    ctx.http.post(
        _url(ctx),
        json={"test_mode": True, "events": [event]},
        headers={"Authorization": f"Bearer {ctx.settings['conversion_token']}"},
    )


_USER = Field(
    "User",
    "Who converted. Email, external id, IP address, phone and advertising id are SHA-256 "
    "hashed as Reddit documents (values already hashed are sent as they are).",
    "object",
    properties={
        "email": Field("Email", "Canonicalised, then hashed.", "string"),
        "external_id": Field("External ID", "Your id for the person, hashed.", "string"),
        "ip_address": Field("IP address", "Hashed.", "string"),
        "phone_number": Field("Phone", "With country code; E.164, then hashed.", "string"),
        "user_agent": Field("User agent", "The browser's user agent.", "string"),
        "uuid": Field("UUID", "The _rdt_uuid cookie set by the Reddit Pixel.", "string"),
        "advertising_id": Field("Advertising ID", "The IDFA or AAID, hashed.", "string"),
        "device_type": Field("Device type", "ios sends the id as idfa, else aaid.", "string"),
    },
    default={
        "email": first_of("$.context.traits.email", "$.properties.email"),
        "external_id": first_of("$.userId", "$.anonymousId"),
        "ip_address": path("$.context.ip"),
        "phone_number": first_of("$.context.traits.phone", "$.properties.phone"),
        "user_agent": path("$.context.userAgent"),
        "uuid": first_of("$.integrations.Reddit Conversions Api.uuid", "$.properties.uuid"),
        "advertising_id": path("$.context.device.advertisingId"),
        "device_type": path("$.context.device.type"),
    },
)
_COMMON = {
    "event_at": Field(
        "Event time",
        "When it happened, at most 7 days ago.",
        "datetime",
        default=path("$.timestamp"),
    ),
    "segment_event": Field(
        "Segment event",
        "The Segment event (or page), to pick the standard Reddit event when none is mapped.",
        "string",
        default=SEGMENT_EVENT,
    ),
    "click_id": Field(
        "Click ID",
        "The rdt_cid of the ad click.",
        "string",
        default=first_of("$.integrations.Reddit Conversions Api.click_id", "$.properties.click_id"),
    ),
    "conversion_id": Field(
        "Conversion ID",
        "Deduplicates with the same event from the Reddit Pixel.",
        "string",
        default=path("$.messageId"),
    ),
    "event_metadata": Field(
        "Event metadata",
        "currency, value_decimal and item_count, for revenue events.",
        "object",
        properties={
            "currency": Field("Currency", "ISO 4217 code, like USD.", "string"),
            "value_decimal": Field("Value", "In the currency's base unit.", "number"),
            "item_count": Field("Item count", "How many items.", "integer"),
        },
        default={
            "currency": path("$.properties.currency"),
            "value_decimal": first_of("$.properties.revenue", "$.properties.total"),
            "item_count": path("$.properties.quantity"),
        },
    ),
    "products": Field(
        "Products",
        "id, name and category of each product.",
        "object",
        multiple=True,
        default={
            "@arrayPath": [
                "$.properties.products",
                {
                    "id": path("$.product_id"),
                    "name": path("$.name"),
                    "category": path("$.category"),
                },
            ]
        },
    ),
    "user": _USER,
}

DESTINATION = Destination(
    slug="reddit-conversions",
    name="Reddit Conversions API",
    description="Send conversions to Reddit Ads for attribution and optimisation.",
    settings={
        "ad_account_id": Setting(
            "Ad account ID",
            "The ad account (pixel) id, like a2_abc123, from Events Manager.",
            required=True,
        ),
        "conversion_token": Setting(
            "Conversion access token",
            "Generated in Events Manager > Conversions API; it does not expire.",
            required=True,
            secret=True,
        ),
        "test_mode": Setting(
            "Test mode",
            "Send events as test events, which count for nothing.",
            "boolean",
            default=False,
        ),
        "endpoint": Setting("API host", "Reddit's Ads API host.", default=API_HOST, target=True),
    },
    actions={
        "standard_event": Action(
            title="Standard Event",
            description="Send a Reddit standard event (Purchase, AddToCart …).",
            fields={
                "tracking_type": Field(
                    "Tracking type",
                    "Reddit's standard event; unmapped, it follows the Segment event (Order "
                    "Completed is Purchase, Product Added is AddToCart, a page is PageVisit …).",
                    "string",
                    choices=TRACKING_TYPES,
                ),
                **_COMMON,
            },
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger=standard_trigger(STANDARD),
        ),
        "custom_event": Action(
            title="Custom Event",
            description="Send a custom event, named after the track call.",
            fields={
                "custom_event_name": Field(
                    "Custom event name",
                    "The event's name.",
                    "string",
                    required=True,
                    default=path("$.event"),
                ),
                **_COMMON,
            },
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "track"',
        ),
    },
    test_authentication=test_authentication,
    delete=None,  # Reddit has no API to delete a person's conversions
    presets=standard_presets(STANDARD, "standard_event"),
)

"""TikTok Events API 2.0: web events for a TikTok Pixel, server to server.

`POST {endpoint}/open_api/v1.3/event/track/` with the header `Access-Token: {token}` and
`{event_source: "web", event_source_id: {pixel code}, test_event_code?, data: [event, …]}`, at
most 1,000 events per request. Each event: `event` (ViewContent, AddToCart, CompletePayment,
Search, CompleteRegistration … or your own name), `event_time` (Unix seconds), `event_id`
(deduplicates with the same event from the Pixel, which must send the same id), `user`,
`properties` (`contents`, `content_type`, `currency`, `value`, `query`, `order_id` …), `page`
(`url`, `referrer`) and `limited_data_use`.

In `user`, email, phone and external id are SHA-256 hashed as TikTok documents: the email
trimmed and lowercased, the phone as E.164 (`+` and the digits, country code included), the
external id trimmed and lowercased; each is sent as a list. A value that already is a SHA-256
is sent as it is. `ttclid` (the ad click id; read from the page URL's `ttclid` parameter when
not mapped), `ttp` (the _ttp cookie), `ip`, `user_agent` and `locale` are sent in the clear.

TikTok answers HTTP 200 even when it refuses a request: the body's `code` tells (0 is OK).
40100 (too many requests) and codes from 50000 (TikTok's own errors) are retried; 40001 (no
permission), 40002 (invalid parameters), 40104/40105 (a missing or invalid token) and any other
code are permanent. HTTP 401, 429 and 5xx are handled as everywhere. TikTok has no API to delete
a person's events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from seamline.destinations.catalog._ad_events import (
    SEGMENT_EVENT,
    Outcome,
    event_name,
    event_time,
    raise_outcome,
    send_each,
    standard_presets,
    standard_trigger,
    unix_seconds,
)
from seamline.destinations.definition import Action, Context, Destination, Field, Setting
from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from seamline.destinations.hashing import hashed, lowercase, phone_e164
from seamline.destinations.shaping import first_of, path

API_HOST = "https://business-api.tiktok.com"
MAX_EVENTS = 1_000  # per request
STANDARD = {
    "page": "Pageview",
    "Product Viewed": "ViewContent",
    "Product Clicked": "ClickButton",
    "Products Searched": "Search",
    "Product Added to Wishlist": "AddToWishlist",
    "Product Added": "AddToCart",
    "Checkout Started": "InitiateCheckout",
    "Payment Info Entered": "AddPaymentInfo",
    "Order Placed": "PlaceAnOrder",
    "Order Completed": "CompletePayment",
    "Signed Up": "CompleteRegistration",
    "Subscription Created": "Subscribe",
    "Form Submitted": "SubmitForm",
    "Callback Started": "Contact",
    "Download Link Clicked": "Download",
}
_THROTTLED = frozenset({40100})
_OK = 0


def _hashed_list(value: Any, normalise: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [digest for item in values if (digest := hashed(item, normalise))]


def _ttclid(raw: Mapping[str, Any], page_url: Any) -> Any:
    if raw.get("ttclid"):
        return raw["ttclid"]
    if isinstance(page_url, str) and "ttclid=" in page_url:
        found = parse_qs(urlsplit(page_url).query).get("ttclid")
        return found[0] if found else None
    return None


def tiktok_user(raw: Any, page_url: Any = None) -> dict[str, Any]:
    """TikTok's `user` object: email, phone and external id hashed, the rest in the clear."""
    raw = raw if isinstance(raw, Mapping) else {}
    user = {
        "email": _hashed_list(raw.get("email"), lowercase),
        "phone": _hashed_list(raw.get("phone"), phone_e164),
        "external_id": _hashed_list(raw.get("external_id"), lowercase),
        "ttclid": _ttclid(raw, page_url),
        "ttp": raw.get("ttp"),
        "ip": raw.get("ip"),
        "user_agent": raw.get("user_agent"),
        "locale": raw.get("locale"),
    }
    return {key: value for key, value in user.items() if value not in (None, "", [])}


def tiktok_event(payload: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """One Events API event from a payload, or InvalidPayload naming the broken rule."""
    name = event_name(payload, "event", STANDARD, where)
    raw_properties = payload.get("properties")
    properties = (
        {k: v for k, v in raw_properties.items() if v not in (None, "", [])}
        if isinstance(raw_properties, Mapping)
        else {}
    )
    if isinstance(properties.get("contents"), list):
        properties["contents"] = [
            {k: v for k, v in item.items() if v not in (None, "")}
            for item in properties["contents"]
            if isinstance(item, Mapping)
        ]
    page = {key: payload[key] for key in ("url", "referrer") if payload.get(key) not in (None, "")}
    event = {
        "event": name,
        "event_time": unix_seconds(event_time(payload.get("event_time"), where, None)),
        "event_id": str(payload["event_id"]) if payload.get("event_id") else None,
        "user": tiktok_user(payload.get("user"), payload.get("url")),
        "properties": properties or None,
        "page": page or None,
        "limited_data_use": bool(payload.get("limited_data_use")),
    }
    return {key: value for key, value in event.items() if value is not None}


def _refusal(answer: Any) -> DeliveryError | None:
    """What TikTok's 200 answer means when its `code` is not 0."""
    if not isinstance(answer, dict) or answer.get("code", _OK) == _OK:
        return None
    code, message = answer.get("code"), answer.get("message") or "no message"
    text = f"TikTok refused the events: code {code}, {message}"
    if code in _THROTTLED or (isinstance(code, int) and code >= 50_000):
        return RetryableError(text, status=200, response=str(answer)[:2_000])
    return PermanentError(text, status=200, response=str(answer)[:2_000])


def _post(ctx: Context, events: list[dict[str, Any]]) -> None:
    body: dict[str, Any] = {
        "event_source": "web",
        "event_source_id": str(ctx.settings["pixel_code"]).strip(),
        "data": events,
    }
    if ctx.settings.get("test_event_code"):
        body["test_event_code"] = ctx.settings["test_event_code"]
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    response = ctx.http.post(
        f"{host}/open_api/v1.3/event/track/",
        json=body,
        headers={"Access-Token": str(ctx.settings["access_token"])},
    )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    refusal = _refusal(answer)
    if refusal is not None:
        raise refusal


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Send events, 1,000 per request; each payload's outcome (None: sent)."""

    def send(events: list[dict[str, Any]]) -> Sequence[Outcome] | None:
        _post(ctx, events)
        return None

    return send_each(payloads, tiktok_event, send, MAX_EVENTS)


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    raise_outcome(send_events(ctx, [payload]))


_USER = Field(
    "User",
    "Who did it. Email, phone and external id are SHA-256 hashed as TikTok documents (values "
    "already hashed are kept); the others are sent as they are.",
    "object",
    properties={
        "email": Field("Email", "Trimmed, lowercased, hashed.", "string", multiple=True),
        "phone": Field("Phone", "With country code; E.164, hashed.", "string", multiple=True),
        "external_id": Field("External ID", "Lowercased, hashed.", "string", multiple=True),
        "ttclid": Field("TikTok click ID", "From the ad click's ttclid parameter.", "string"),
        "ttp": Field("TikTok cookie ID", "The _ttp cookie set by the Pixel.", "string"),
        "ip": Field("IP address", "The browser's IP address.", "string"),
        "user_agent": Field("User agent", "The browser's user agent.", "string"),
        "locale": Field("Locale", "Like en-US.", "string"),
    },
    default={
        "email": first_of("$.properties.email", "$.context.traits.email"),
        "phone": first_of("$.properties.phone", "$.context.traits.phone"),
        "external_id": first_of("$.userId", "$.anonymousId"),
        "ttclid": first_of("$.properties.ttclid", "$.integrations.TikTok Conversions.ttclid"),
        "ttp": first_of("$.properties.ttp", "$.integrations.TikTok Conversions.ttp"),
        "ip": path("$.context.ip"),
        "user_agent": path("$.context.userAgent"),
        "locale": path("$.context.locale"),
    },
)
_PRODUCT = {
    "content_id": path("$.product_id"),
    "content_name": path("$.name"),
    "content_category": path("$.category"),
    "brand": path("$.brand"),
    "price": path("$.price"),
    "quantity": path("$.quantity"),
}
_PROPERTIES = Field(
    "Properties",
    "contents (content_id, price, quantity …), content_type, currency, value, query, order_id, "
    "description …",
    "object",
    default={
        "contents": {"@arrayPath": ["$.properties.products", _PRODUCT]},
        "content_type": "product",
        "currency": path("$.properties.currency"),
        "value": first_of("$.properties.value", "$.properties.revenue", "$.properties.price"),
        "query": path("$.properties.query"),
        "order_id": path("$.properties.order_id"),
    },
)
_FIELDS = {
    "event": Field(
        "Event",
        "TikTok's event (CompletePayment, AddToCart …) or your own name; unmapped, it follows "
        "the Segment event (Order Completed is CompletePayment, a page is Pageview …).",
        "string",
    ),
    "segment_event": Field(
        "Segment event",
        "The Segment event (or page), to pick TikTok's event when none is mapped.",
        "string",
        default=SEGMENT_EVENT,
    ),
    "event_time": Field("Event time", "When it happened.", "datetime", default=path("$.timestamp")),
    "event_id": Field(
        "Event ID",
        "Deduplicates with the same event from the Pixel.",
        "string",
        default=path("$.messageId"),
    ),
    "user": _USER,
    "properties": _PROPERTIES,
    "url": Field("Page URL", "The page's URL.", "string", default=path("$.context.page.url")),
    "referrer": Field(
        "Page referrer", "The page's referrer.", "string", default=path("$.context.page.referrer")
    ),
    "limited_data_use": Field(
        "Limited data use", "Process the event under limited data use.", "boolean"
    ),
}

DESTINATION = Destination(
    slug="tiktok-events",
    name="TikTok Events API",
    description="Send web conversions to TikTok Ads through the Events API 2.0.",
    settings={
        "pixel_code": Setting(
            "Pixel code", "The TikTok Pixel's code (Events Manager > Web Events).", required=True
        ),
        "access_token": Setting(
            "Access token",
            "An Events API access token, generated in the Pixel's settings.",
            required=True,
            secret=True,
        ),
        "test_event_code": Setting(
            "Test event code", "Marks events as test events (Events Manager > Test Events)."
        ),
        "endpoint": Setting(
            "API host", "TikTok's Business API host.", default=API_HOST, target=True
        ),
    },
    actions={
        "report_web_event": Action(
            title="Report Web Event",
            description="Send a web event, named after the Segment event by default.",
            fields=_FIELDS,
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger=standard_trigger(STANDARD),
        ),
    },
    # The Events API has no read for a pixel with its access token, and a probe would be an
    # event in the pixel's data.
    test_authentication=None,
    delete=None,  # TikTok has no API to delete a person's events
    presets=standard_presets(STANDARD, "report_web_event"),
)

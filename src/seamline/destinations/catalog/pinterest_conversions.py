"""Pinterest Conversions API (v5): conversion events for an ad account.

`POST {endpoint}/v5/ad_accounts/{ad_account_id}/events` with `Authorization: Bearer
{conversion token}` and `{data: [event, …]}`, at most 1,000 events per request; `?test=true`
checks the events without recording them. Each event: `event_name` (add_to_cart, checkout,
lead, page_visit, search, signup, view_category, custom …), `action_source` (web, app_android,
app_ios, offline), `event_time` (Unix seconds; Pinterest drops events older than 7 days),
`event_id` (required: deduplicates with the same event from the Pinterest Tag),
`event_source_url`, `opt_out`, `user_data` and `custom_data` (`value` and each item's
`item_price` as strings, as the reference types them).

`user_data` must hold an email (`em`), a mobile ad id (`hashed_maids`) or both the client IP
address and user agent. Every personal key is sent as a list of SHA-256 hashes, normalised as
Pinterest documents: whitespace removed and lowercased; phones reduced to digits (with their
country code); gender as f, m or n. A value that already is a SHA-256 is sent as it is.

Answers: 200 with one status per event (`processed`, or `failed` with an `error_message`,
which fails that event alone); 400 and 422 an invalid request; 401 a bad token; 403 an ad
account the token may not use; 429 throttled and 5xx (both retried). Pinterest has no API to
delete a person's conversions.
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
    unix_seconds,
)
from seamline.destinations.definition import Action, Context, Destination, Field, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.hashing import Normaliser, hashed, no_spaces_lowercase, phone_digits
from seamline.destinations.shaping import first_of, path

API_HOST = "https://api.pinterest.com"
MAX_EVENTS = 1_000  # per request
MAX_AGE = dt.timedelta(days=7)
ACTION_SOURCES = ("web", "app_android", "app_ios", "offline")
STANDARD = {
    "page": "page_visit",
    "Products Searched": "search",
    "Product Viewed": "view_content",
    "Product List Viewed": "view_category",
    "Product Added": "add_to_cart",
    "Product Added to Wishlist": "add_to_wishlist",
    "Checkout Started": "initiate_checkout",
    "Payment Info Entered": "add_payment_info",
    "Order Completed": "checkout",
    "Signed Up": "signup",
    "Lead Generated": "lead",
    "Trial Started": "start_trial",
    "Subscription Created": "subscribe",
    "Application Installed": "app_install",
    "Application Opened": "app_open",
}


def _gender(text: str) -> str:
    value = no_spaces_lowercase(text)
    return {"male": "m", "female": "f", "non-binary": "n", "nonbinary": "n"}.get(value, value)


def _birth_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()[:10]).strftime("%Y%m%d")
    except ValueError:
        return no_spaces_lowercase(text)


# Our user_data key -> Pinterest's key and the normalisation before hashing.
HASHED: dict[str, tuple[str, Normaliser]] = {
    "email": ("em", no_spaces_lowercase),
    "phone": ("ph", phone_digits),
    "gender": ("ge", _gender),
    "date_of_birth": ("db", _birth_date),
    "last_name": ("ln", no_spaces_lowercase),
    "first_name": ("fn", no_spaces_lowercase),
    "city": ("ct", no_spaces_lowercase),
    "state": ("st", no_spaces_lowercase),
    "zip": ("zp", no_spaces_lowercase),
    "country": ("country", no_spaces_lowercase),
    "external_id": ("external_id", no_spaces_lowercase),
    "mobile_ad_id": ("hashed_maids", no_spaces_lowercase),
}
_CLEAR = ("client_ip_address", "client_user_agent", "click_id", "partner_id")


def user_data(raw: Any) -> dict[str, Any]:
    """Pinterest's `user_data`: personal keys as lists of hashes, the others as they are."""
    raw = raw if isinstance(raw, Mapping) else {}
    data: dict[str, Any] = {}
    for key, (pinterest_key, normalise) in HASHED.items():
        values = raw.get(key)
        values = values if isinstance(values, list) else [values]
        digests = [digest for value in values if (digest := hashed(value, normalise))]
        if digests:
            data[pinterest_key] = digests
    data.update({key: raw[key] for key in _CLEAR if raw.get(key) not in (None, "")})
    return data


def _custom_data(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    data = {key: value for key, value in raw.items() if value not in (None, "", [])}
    if isinstance(data.get("value"), int | float):
        data["value"] = str(data["value"])
    if isinstance(data.get("contents"), list):
        data["contents"] = [
            {
                k: str(v) if k == "item_price" and isinstance(v, int | float) else v
                for k, v in item.items()
                if v not in (None, "")
            }
            for item in data["contents"]
            if isinstance(item, Mapping)
        ]
    return data or None


def pinterest_event(payload: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """One Pinterest conversion event from a payload, or InvalidPayload naming the broken rule."""
    name = event_name(payload, "event_name", STANDARD, where)
    source = payload.get("action_source") or "web"
    if source not in ACTION_SOURCES:
        raise InvalidPayload(f"action_source must be one of {', '.join(ACTION_SOURCES)}{where}")
    event_id = payload.get("event_id")
    if event_id in (None, ""):
        raise InvalidPayload(f"a Pinterest event needs an event_id{where}")
    users = user_data(payload.get("user_data"))
    if not (
        users.get("em")
        or users.get("hashed_maids")
        or (users.get("client_ip_address") and users.get("client_user_agent"))
    ):
        raise InvalidPayload(
            f"user_data needs an email, a mobile ad id, or both IP address and user agent{where}"
        )
    event = {
        "event_name": name,
        "action_source": source,
        "event_time": unix_seconds(event_time(payload.get("event_time"), where, MAX_AGE)),
        "event_id": str(event_id),
        "event_source_url": payload.get("event_source_url"),
        "opt_out": payload.get("opt_out"),
        "user_data": users,
        "custom_data": _custom_data(payload.get("custom_data")),
        "language": payload.get("language"),
    }
    return {key: value for key, value in event.items() if value not in (None, "")}


def _url(ctx: Context) -> str:
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    account = path_segment(ctx.settings.get("ad_account_id"), "ad_account_id")
    return f"{host}/v5/ad_accounts/{account}/events"


def _post(ctx: Context, events: list[dict[str, Any]], test: bool) -> Any:
    response = ctx.http.post(
        _url(ctx),
        json={"data": events},
        params={"test": "true"} if test else None,
        headers={"Authorization": f"Bearer {ctx.settings['conversion_token']}"},
    )
    try:
        return response.json()
    except ValueError:  # a 2xx without a body says nothing per event
        return {}


def _per_event(answer: Any, count: int) -> list[Outcome] | None:
    """The outcome of each event from Pinterest's `events` list (None when it gives none)."""
    statuses = answer.get("events") if isinstance(answer, dict) else None
    if not isinstance(statuses, list) or len(statuses) != count:
        return None
    return [
        PermanentError(f"Pinterest refused the event: {status.get('error_message') or 'failed'}")
        if isinstance(status, dict) and status.get("status") == "failed"
        else None
        for status in statuses
    ]


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Send events, 1,000 per request; each payload's outcome (None: sent)."""

    def send(events: list[dict[str, Any]]) -> Sequence[Outcome] | None:
        answer = _post(ctx, events, bool(ctx.settings.get("test")))
        return _per_event(answer, len(events))

    return send_each(payloads, pinterest_event, send, MAX_EVENTS)


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    raise_outcome(send_events(ctx, [payload]))


def test_authentication(ctx: Context) -> None:
    """One page_visit sent with `test=true`: Pinterest checks the token and the ad account
    and records nothing."""
    event = {
        "event_name": "page_visit",
        "action_source": "web",
        "event_time": int(dt.datetime.now(dt.UTC).timestamp()),
        "event_id": "seamline-connection-test",
        "user_data": {"client_ip_address": "192.0.2.1", "client_user_agent": "Seamline"},
    }
    _post(ctx, [event], test=True)


def _hashed_field(label: str, description: str) -> Field:
    return Field(label, description, "string", multiple=True)


_USER_DATA = Field(
    "User data",
    "Who converted: an email, a mobile ad id, or both IP address and user agent are needed. "
    "Personal keys are normalised and SHA-256 hashed (values already hashed are kept).",
    "object",
    required=True,
    properties={
        "email": _hashed_field("Email", "Whitespace removed, lowercased, hashed."),
        "phone": _hashed_field("Phone", "With country code; digits kept, hashed."),
        "gender": _hashed_field("Gender", "f, m or n, hashed."),
        "date_of_birth": _hashed_field("Date of birth", "YYYYMMDD, hashed."),
        "first_name": _hashed_field("First name", "Lowercased, hashed."),
        "last_name": _hashed_field("Last name", "Lowercased, hashed."),
        "city": _hashed_field("City", "Lowercased, hashed."),
        "state": _hashed_field("State", "Two-letter code, lowercased, hashed."),
        "zip": _hashed_field("Zip code", "Lowercased, hashed."),
        "country": _hashed_field("Country", "Two-letter ISO code, lowercased, hashed."),
        "external_id": _hashed_field("External ID", "Your id for the person, hashed."),
        "mobile_ad_id": _hashed_field("Mobile ad ID", "The IDFA or AAID, hashed."),
        "client_ip_address": Field("Client IP address", "Not hashed.", "string"),
        "client_user_agent": Field("Client user agent", "Not hashed.", "string"),
        "click_id": Field("Click ID", "The epik parameter of the ad click.", "string"),
        "partner_id": Field("Partner ID", "A third party's id for the person.", "string"),
    },
    default={
        "email": first_of("$.context.traits.email", "$.properties.email", "$.traits.email"),
        "phone": first_of("$.context.traits.phone", "$.properties.phone"),
        "first_name": path("$.context.traits.firstName"),
        "last_name": path("$.context.traits.lastName"),
        "external_id": first_of("$.userId", "$.anonymousId"),
        "mobile_ad_id": path("$.context.device.advertisingId"),
        "client_ip_address": path("$.context.ip"),
        "client_user_agent": path("$.context.userAgent"),
        "click_id": path("$.properties.epik"),
    },
)
_CUSTOM_DATA = Field(
    "Custom data",
    "currency, value, content_ids, contents (id, item_price, quantity), num_items, order_id, "
    "search_string …",
    "object",
    default={
        "currency": path("$.properties.currency"),
        "value": first_of(
            "$.properties.revenue", "$.properties.total", "$.properties.value", "$.properties.price"
        ),
        "order_id": path("$.properties.order_id"),
        "search_string": path("$.properties.query"),
        "num_items": path("$.properties.quantity"),
        "contents": {
            "@arrayPath": [
                "$.properties.products",
                {
                    "id": path("$.product_id"),
                    "item_price": path("$.price"),
                    "quantity": path("$.quantity"),
                    "item_name": path("$.name"),
                },
            ]
        },
    },
)
_FIELDS = {
    "event_name": Field(
        "Event name",
        "Pinterest's event (checkout, add_to_cart, custom …); unmapped, it follows the "
        "Segment event (Order Completed is checkout, a page is page_visit …).",
        "string",
    ),
    "segment_event": Field(
        "Segment event",
        "The Segment event (or page), to pick Pinterest's event when none is mapped.",
        "string",
        default=SEGMENT_EVENT,
    ),
    "action_source": Field(
        "Action source",
        "Where it happened.",
        "string",
        required=True,
        default="web",
        choices=ACTION_SOURCES,
    ),
    "event_time": Field(
        "Event time", "At most 7 days ago.", "datetime", default=path("$.timestamp")
    ),
    "event_id": Field(
        "Event ID",
        "Deduplicates with the same event from the Pinterest Tag.",
        "string",
        required=True,
        default=path("$.messageId"),
    ),
    "event_source_url": Field(
        "Event source URL", "The page's URL.", "string", default=path("$.context.page.url")
    ),
    "opt_out": Field(
        "Opt out", "The person opted out of ads personalisation.", "boolean", default=False
    ),
    "language": Field("Language", "Two-letter ISO 639-1 code.", "string"),
    "user_data": _USER_DATA,
    "custom_data": _CUSTOM_DATA,
}

DESTINATION = Destination(
    slug="pinterest-conversions",
    name="Pinterest Conversions API",
    description="Send conversions to Pinterest Ads for attribution and optimisation.",
    settings={
        "ad_account_id": Setting("Ad account ID", "The Pinterest ad account's id.", required=True),
        "conversion_token": Setting(
            "Conversion token",
            "Generated in Ads Manager > Conversions > Conversion access token.",
            required=True,
            secret=True,
        ),
        "test": Setting(
            "Test",
            "Ask Pinterest to check events without recording them (?test=true).",
            "boolean",
            default=False,
        ),
        "endpoint": Setting("API host", "Pinterest's API host.", default=API_HOST, target=True),
    },
    actions={
        "report_conversion_event": Action(
            title="Report Conversion Event",
            description="Send a conversion event, named after the Segment event by default.",
            fields=_FIELDS,
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger=standard_trigger(STANDARD),
        ),
    },
    test_authentication=test_authentication,
    delete=None,  # Pinterest has no API to delete a person's conversions
    presets=standard_presets(STANDARD, "report_conversion_event"),
)

"""Snap Conversions API (v3): web, app and offline conversions for a Snap Pixel or app.

`POST {endpoint}/v3/{pixel_id or snap_app_id}/events?access_token={token}` with `{data:
[event, …]}`, at most 2,000 events per request (`/events/validate` checks events without
recording them, which `validate_only` and the connection test use). The token is the
long-lived Conversions API token from Ads Manager; Snap documents it as the `access_token`
parameter, and Seamline hides it wherever a request is recorded.

Each event: `event_name` (PURCHASE, ADD_CART, PAGE_VIEW, SIGN_UP, VIEW_CONTENT, SEARCH,
START_CHECKOUT, ADD_BILLING, ADD_TO_WISHLIST, LIST_VIEW, APP_INSTALL, APP_OPEN, SUBSCRIBE,
START_TRIAL, LOGIN, SHARE, CUSTOM_EVENT_1…5 …), `event_time` (Unix seconds; Snap reports events
at most 37 days old), `event_id` (deduplicates with the same event from the Pixel),
`action_source` (WEB, MOBILE_APP or OFFLINE; web and offline events go to the pixel, app events
to the Snap app id), `event_source_url`, `user_data`, `custom_data` and, for app events,
`app_data`. An event needs an email, a phone, a mobile ad id, or both IP address and user agent.

`user_data`'s personal keys are SHA-256 hashed as Snap documents: email trimmed and lowercased;
phone reduced to digits without leading zeros (with its country code); names, city, state, zip
and country without whitespace, lowercased (a US state by name becomes its code); gender f or m;
birth date YYYYMMDD; external id lowercased. The mobile ad id (`madid`) is sent lowercased, not
hashed, as Snap asks. A value that already is a SHA-256 is sent as it is.

Answers: 200 accepted; 400 an invalid request; 401 a bad token; 403 a pixel the token may not
use; 429 throttled and 5xx (both retried). Snap has no API to delete a person's conversions.
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
from seamline.destinations.errors import DeliveryError, InvalidPayload
from seamline.destinations.hashing import (
    Normaliser,
    hashed,
    lowercase,
    no_spaces_lowercase,
    phone_digits_no_leading_zeros,
)
from seamline.destinations.shaping import first_of, optional_field, path

API_HOST = "https://tr.snapchat.com"
MAX_EVENTS = 2_000  # per request
MAX_AGE = dt.timedelta(days=37)
ACTION_SOURCES = ("WEB", "MOBILE_APP", "OFFLINE")
STANDARD = {
    "page": "PAGE_VIEW",
    "Products Searched": "SEARCH",
    "Product Viewed": "VIEW_CONTENT",
    "Product List Viewed": "LIST_VIEW",
    "Product Added": "ADD_CART",
    "Product Added to Wishlist": "ADD_TO_WISHLIST",
    "Checkout Started": "START_CHECKOUT",
    "Payment Info Entered": "ADD_BILLING",
    "Order Completed": "PURCHASE",
    "Signed Up": "SIGN_UP",
    "Signed In": "LOGIN",
    "Product Shared": "SHARE",
    "Subscription Created": "SUBSCRIBE",
    "Trial Started": "START_TRIAL",
    "Application Installed": "APP_INSTALL",
    "Application Opened": "APP_OPEN",
}
_US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
    "colorado": "co", "connecticut": "ct", "delaware": "de", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia",
    "kansas": "ks", "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md",
    "massachusetts": "ma", "michigan": "mi", "minnesota": "mn", "mississippi": "ms",
    "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv", "newhampshire": "nh",
    "newjersey": "nj", "newmexico": "nm", "newyork": "ny", "northcarolina": "nc",
    "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa",
    "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd", "tennessee": "tn",
    "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
}  # fmt: skip


def _gender(text: str) -> str:
    value = no_spaces_lowercase(text)
    return {"male": "m", "female": "f"}.get(value, value)


def _state(text: str) -> str:
    value = no_spaces_lowercase(text)
    return _US_STATES.get(value, value)


def _birth_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()[:10]).strftime("%Y%m%d")
    except ValueError:
        return no_spaces_lowercase(text)


# Our user_data key -> Snap's key, its normalisation, and whether Snap takes a list.
HASHED: dict[str, tuple[str, Normaliser, bool]] = {
    "email": ("em", lowercase, True),
    "phone": ("ph", phone_digits_no_leading_zeros, True),
    "external_id": ("external_id", lowercase, True),
    "first_name": ("fn", no_spaces_lowercase, False),
    "last_name": ("ln", no_spaces_lowercase, False),
    "gender": ("ge", _gender, False),
    "date_of_birth": ("db", _birth_date, False),
    "city": ("ct", no_spaces_lowercase, False),
    "state": ("st", _state, False),
    "zip": ("zp", no_spaces_lowercase, False),
    "country": ("country", no_spaces_lowercase, False),
}
_CLEAR = ("client_ip_address", "client_user_agent", "sc_click_id", "sc_cookie1", "idfv")


def user_data(raw: Any) -> dict[str, Any]:
    """Snap's `user_data`: personal keys hashed, the mobile ad id lowercased, the rest as is."""
    raw = raw if isinstance(raw, Mapping) else {}
    data: dict[str, Any] = {}
    for key, (snap_key, normalise, listed) in HASHED.items():
        digest = hashed(raw.get(key), normalise)
        if digest:
            data[snap_key] = [digest] if listed else digest
    if raw.get("madid") not in (None, ""):
        data["madid"] = str(raw["madid"]).strip().lower()
    data.update({key: raw[key] for key in _CLEAR if raw.get(key) not in (None, "")})
    return data


def snap_event(payload: Mapping[str, Any], where: str = "") -> tuple[str, dict[str, Any]]:
    """(`pixel` or `app`, one Snap event) from a payload, or InvalidPayload naming the rule."""
    name = event_name(payload, "event_name", STANDARD, where)
    source = str(payload.get("action_source") or "WEB").upper()
    if source not in ACTION_SOURCES:
        raise InvalidPayload(f"action_source must be one of {', '.join(ACTION_SOURCES)}{where}")
    users = user_data(payload.get("user_data"))
    if not (
        users.get("em")
        or users.get("ph")
        or users.get("madid")
        or (users.get("client_ip_address") and users.get("client_user_agent"))
    ):
        raise InvalidPayload(
            f"user_data needs an email, a phone, a mobile ad id, or IP address and user agent"
            f"{where}"
        )
    custom = payload.get("custom_data")
    custom = {k: v for k, v in custom.items() if v not in (None, "", [])} if custom else {}
    if isinstance(custom.get("currency"), str):
        custom["currency"] = custom["currency"].upper()
    event = {
        "event_name": name,
        "event_time": unix_seconds(event_time(payload.get("event_time"), where, MAX_AGE)),
        "event_id": payload.get("event_id"),
        "action_source": source,
        "event_source_url": payload.get("event_source_url"),
        "user_data": users,
        "custom_data": custom or None,
        "app_data": payload.get("app_data") if source == "MOBILE_APP" else None,
    }
    return ("app" if source == "MOBILE_APP" else "pixel"), {
        key: value for key, value in event.items() if value not in (None, "", {})
    }


def _url(ctx: Context, asset: str, validate: bool) -> str:
    setting = "snap_app_id" if asset == "app" else "pixel_id"
    if not str(ctx.settings.get(setting) or "").strip():
        raise InvalidPayload(f"{asset} events need the {setting} setting")
    asset_id = path_segment(ctx.settings.get(setting), setting)
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    return f"{host}/v3/{asset_id}/events" + ("/validate" if validate else "")


def _post(ctx: Context, asset: str, events: list[dict[str, Any]], validate: bool) -> None:
    ctx.http.post(
        _url(ctx, asset, validate),
        json={"data": events},
        params={"access_token": ctx.settings["access_token"]},
    )


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Send events, 2,000 per request and one request per pixel or app; each payload's
    outcome (None: sent)."""
    validate = bool(ctx.settings.get("validate_only"))

    def send(built: list[tuple[str, dict[str, Any]]]) -> Sequence[Outcome]:
        outcomes: list[Outcome] = [None] * len(built)
        for asset in ("pixel", "app"):
            indexes = [i for i, (kind, _) in enumerate(built) if kind == asset]
            if not indexes:
                continue
            try:
                _post(ctx, asset, [built[i][1] for i in indexes], validate)
            except DeliveryError as error:
                for i in indexes:
                    outcomes[i] = error
        return outcomes

    return send_each(payloads, snap_event, send, MAX_EVENTS)


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    raise_outcome(send_events(ctx, [payload]))


def test_authentication(ctx: Context) -> None:
    """One PAGE_VIEW sent to the test endpoint (`/events/validate`), which checks the token
    and the pixel and records nothing."""
    event = {
        "event_name": "PAGE_VIEW",
        "event_time": int(dt.datetime.now(dt.UTC).timestamp()),
        "action_source": "WEB",
        "user_data": {"client_ip_address": "192.0.2.1", "client_user_agent": "Seamline"},
    }
    _post(ctx, "pixel", [event], validate=True)


_USER_DATA = Field(
    "User data",
    "Who converted: an email, a phone, a mobile ad id, or both IP address and user agent "
    "are needed. Personal keys are normalised and SHA-256 hashed (values already hashed are "
    "kept).",
    "object",
    required=True,
    properties={
        "email": optional_field("Email", "Trimmed, lowercased, hashed."),
        "phone": optional_field("Phone", "With country code; digits kept, hashed."),
        "external_id": optional_field("External ID", "Your id for the person, hashed."),
        "first_name": optional_field("First name", "Lowercased, hashed."),
        "last_name": optional_field("Last name", "Lowercased, hashed."),
        "gender": optional_field("Gender", "f or m, hashed."),
        "date_of_birth": optional_field("Date of birth", "YYYYMMDD, hashed."),
        "city": optional_field("City", "Lowercased, hashed."),
        "state": optional_field("State", "Two-letter code, hashed."),
        "zip": optional_field("Zip code", "Lowercased, hashed."),
        "country": optional_field("Country", "Two-letter ISO code, hashed."),
        "madid": optional_field("Mobile ad ID", "IDFA or AAID, lowercased, not hashed."),
        "idfv": optional_field("IDFV", "The iOS identifier for vendors."),
        "client_ip_address": optional_field("Client IP address", "Not hashed."),
        "client_user_agent": optional_field("Client user agent", "Not hashed."),
        "sc_click_id": optional_field("Click ID", "The ScCid of the ad click."),
        "sc_cookie1": optional_field("Cookie", "The _scid cookie set by the Snap Pixel."),
    },
    default={
        "email": first_of("$.context.traits.email", "$.properties.email"),
        "phone": first_of("$.context.traits.phone", "$.properties.phone"),
        "external_id": first_of("$.userId", "$.anonymousId"),
        "first_name": path("$.context.traits.firstName"),
        "last_name": path("$.context.traits.lastName"),
        "madid": path("$.context.device.advertisingId"),
        "client_ip_address": path("$.context.ip"),
        "client_user_agent": path("$.context.userAgent"),
        "sc_click_id": first_of(
            "$.integrations.Snap Conversions Api.click_id", "$.properties.click_id"
        ),
        "sc_cookie1": first_of(
            "$.integrations.Snap Conversions Api.uuid_c1", "$.properties.uuid_c1"
        ),
    },
)
_CUSTOM_DATA = Field(
    "Custom data",
    "currency (ISO 4217), value, order_id, content_ids, num_items, search_string …",
    "object",
    default={
        "currency": path("$.properties.currency"),
        "value": first_of("$.properties.revenue", "$.properties.total", "$.properties.price"),
        "order_id": path("$.properties.order_id"),
        "num_items": path("$.properties.quantity"),
        "search_string": path("$.properties.query"),
        "content_ids": {"@arrayPath": ["$.properties.products", path("$.product_id")]},
    },
)
_FIELDS = {
    "event_name": Field(
        "Event name",
        "Snap's event (PURCHASE, ADD_CART …); unmapped, it follows the Segment event (Order "
        "Completed is PURCHASE, a page is PAGE_VIEW …).",
        "string",
    ),
    "segment_event": Field(
        "Segment event",
        "The Segment event (or page), to pick Snap's event when none is mapped.",
        "string",
        default=SEGMENT_EVENT,
    ),
    "action_source": Field(
        "Action source",
        "WEB and OFFLINE events go to the pixel, MOBILE_APP events to the Snap app id.",
        "string",
        required=True,
        default="WEB",
        choices=ACTION_SOURCES,
    ),
    "event_time": Field(
        "Event time", "At most 37 days ago.", "datetime", default=path("$.timestamp")
    ),
    "event_id": Field(
        "Event ID",
        "Deduplicates with the same event from the Snap Pixel.",
        "string",
        default=path("$.messageId"),
    ),
    "event_source_url": Field(
        "Event source URL", "The page's URL.", "string", default=path("$.context.page.url")
    ),
    "user_data": _USER_DATA,
    "custom_data": _CUSTOM_DATA,
    "app_data": Field(
        "App data",
        "For MOBILE_APP events: app_id, advertiser_tracking_enabled and extinfo, as Snap "
        "documents them.",
        "object",
    ),
}

DESTINATION = Destination(
    slug="snap-conversions",
    name="Snap Conversions API",
    description="Send web, app and offline conversions to Snapchat Ads.",
    settings={
        "pixel_id": Setting(
            "Pixel ID", "The Snap Pixel's id (web and offline events).", required=True
        ),
        "snap_app_id": Setting("Snap app ID", "The Snap app id (app events)."),
        "access_token": Setting(
            "Access token",
            "A Conversions API token (Ads Manager > Business Details > Conversions API Tokens).",
            required=True,
            secret=True,
        ),
        "validate_only": Setting(
            "Validate only",
            "Send events to Snap's test endpoint, which checks them and records nothing.",
            "boolean",
            default=False,
        ),
        "endpoint": Setting(
            "API host", "Snap's Conversions API host.", default=API_HOST, target=True
        ),
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
    delete=None,  # Snap has no API to delete a person's conversions
    presets=standard_presets(STANDARD, "report_conversion_event"),
)

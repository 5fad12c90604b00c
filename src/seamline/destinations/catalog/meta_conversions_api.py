"""Meta Conversions API: server events for a pixel (or dataset).

`POST https://graph.facebook.com/v{version}/{pixel_id}/events` with `{data: [event, …],
test_event_code?}`, at most 1,000 events per request. Meta documents the access token as the
`access_token` parameter; the Graph API also takes it as `Authorization: Bearer`, which is how
Segment's destination sends it and how it stays out of recorded URLs and dead letters.

Each event: `event_name`, `event_time` (Unix seconds; one event older than 7 days fails the whole
request), `action_source`, `event_id` (deduplicates with the Pixel), `event_source_url` and
`user_data.client_user_agent` (both required for website events), `user_data` and
`custom_data` (`value` and `currency` required for Purchase). Since one bad event fails the
request, these rules are checked before sending. Contact information in `user_data` is
normalised and SHA-256 hashed as Meta documents (and its Business SDK does); a value that
already is a SHA-256 (64 hex digits) is sent as is, never hashed twice.

The Graph API reports throttling and outages as 400s with error codes (1, 2, 4, 17, 32, 341,
613, or `is_transient`); those are retried rather than dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.shaping import path

API_HOST = "https://graph.facebook.com"
API_VERSION = "26.0"
MAX_EVENTS = 1_000  # per request
MAX_AGE = dt.timedelta(days=7)
ACTION_SOURCES = (
    "website",
    "app",
    "email",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
)
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_US_STATES = dict(
    zip(
        """alabama alaska arizona arkansas california colorado connecticut delaware florida georgia
        hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts
        michigan minnesota mississippi missouri montana nebraska nevada newhampshire newjersey
        newmexico newyork northcarolina northdakota ohio oklahoma oregon pennsylvania rhodeisland
        southcarolina southdakota tennessee texas utah vermont virginia washington westvirginia
        wisconsin wyoming districtofcolumbia""".split(),  # noqa: SIM905 -- a word list reads best
        """al ak az ar ca co ct de fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh
        nj nm ny nc nd oh ok or pa ri sc sd tn tx ut vt va wa wv wi wy dc""".split(),  # noqa: SIM905
        strict=True,
    )
)


def _letters(text: str) -> str:
    return "".join(char for char in text if char.isalpha())


def _phone(text: str) -> str:
    # Digits only, without leading zeros (an international 00 prefix included); the country
    # code must already be there, Meta cannot match a number without it.
    return re.sub(r"\D", "", text).lstrip("0")


def _gender(text: str) -> str:
    return text[0] if text[:1] in ("f", "m") else ""


def _birth_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text[:10]).strftime("%Y%m%d")
    except ValueError:
        digits = re.sub(r"\D", "", text)
        return digits if len(digits) == 8 else ""


def _zip(text: str) -> str:
    return re.sub(r"\s", "", text).split("-")[0]  # 94025-1234 -> 94025, "SW1A 1AA" -> sw1a1aa


# Our user_data keys (Segment's) -> Meta's key and the normalisation before hashing; every value
# is first trimmed and lowercased.
NORMALISE: dict[str, tuple[str, Callable[[str], str]]] = {
    "email": ("em", str),
    "phone": ("ph", _phone),
    "gender": ("ge", _gender),
    "dateOfBirth": ("db", _birth_date),
    "lastName": ("ln", _letters),
    "firstName": ("fn", _letters),
    "city": ("ct", _letters),
    "state": ("st", lambda text: _US_STATES.get(_letters(text), _letters(text))),
    "zip": ("zp", _zip),
    "country": ("country", _letters),
    "externalId": ("external_id", str),
}
_UNHASHED = {
    "client_ip_address": "client_ip_address",
    "client_user_agent": "client_user_agent",
    "fbc": "fbc",
    "fbp": "fbp",
    "subscriptionID": "subscription_id",
    "leadID": "lead_id",
    "fbLoginID": "fb_login_id",
}


def hash_identifier(key: str, raw: Any) -> str | None:
    """The SHA-256 hex of a normalised identifier (None when nothing is left to send); a value
    that already is a SHA-256 is returned lowercased, not hashed again."""
    text = str(raw).strip().lower()
    if _SHA256.fullmatch(text):
        return text
    normalised = NORMALISE[key][1](text) if text else ""
    return hashlib.sha256(normalised.encode()).hexdigest() if normalised else None


def user_data(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Meta's `user_data` from our fields: contact information normalised and hashed, the
    browser and click identifiers as they are."""
    data: dict[str, Any] = {}
    for key, (meta_key, _) in NORMALISE.items():
        value = raw.get(key)
        if isinstance(value, list):
            hashed = [digest for item in value if (digest := hash_identifier(key, item))]
            if hashed:
                data[meta_key] = hashed
        elif value not in (None, "") and (digest := hash_identifier(key, value)):
            data[meta_key] = digest
    data.update(
        {meta: raw[key] for key, meta in _UNHASHED.items() if raw.get(key) not in (None, "")}
    )
    return data


def _seconds(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidPayload(f"event_time {value!r} is not ISO 8601{where}") from None
    if value is None:
        return int(time.time())
    if not isinstance(value, dt.datetime):
        raise InvalidPayload(f"event_time must be a date-time, got {value!r}{where}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if dt.datetime.now(dt.UTC) - value > MAX_AGE:
        raise InvalidPayload(f"Meta refuses events older than 7 days; this one is {value}{where}")
    return int(value.timestamp())


def server_event(payload: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """One Conversions API event from a payload, or InvalidPayload naming the broken rule."""
    name = payload.get("event_name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidPayload(f"a Meta event needs an event_name{where}")
    source = payload.get("action_source")
    if source not in ACTION_SOURCES:
        raise InvalidPayload(f"action_source must be one of {', '.join(ACTION_SOURCES)}{where}")
    raw_users, raw_custom = payload.get("user_data") or {}, payload.get("custom_data") or {}
    if not isinstance(raw_users, Mapping) or not isinstance(raw_custom, Mapping):
        raise InvalidPayload(f"user_data and custom_data must be objects{where}")
    users = user_data(raw_users)
    if not users:
        raise InvalidPayload(f"user_data needs at least one customer identifier{where}")
    if source == "website" and not (
        payload.get("event_source_url") and users.get("client_user_agent")
    ):
        raise InvalidPayload(f"website events need event_source_url and client_user_agent{where}")
    custom = dict(raw_custom)
    for key in ("value", "currency", "order_id", "contents"):
        if payload.get(key) not in (None, "", []):
            custom[key] = payload[key]
    if name == "Purchase" and (custom.get("value") is None or not custom.get("currency")):
        raise InvalidPayload(f"Purchase events need value and currency{where}")
    event = {
        "event_name": name,
        "event_time": _seconds(payload.get("event_time"), where),
        "action_source": source,
        "event_id": payload.get("event_id"),
        "event_source_url": payload.get("event_source_url"),
        "user_data": users,
        "custom_data": custom or None,
    }
    return {key: value for key, value in event.items() if value not in (None, "")}


def _graph(ctx: Context, path: str) -> str:
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    return f"{host}/v{ctx.settings.get('api_version') or API_VERSION}/{path}"


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.settings['access_token']}"}


def _retry_if_transient(error: PermanentError) -> None:
    try:
        detail = json.loads(error.response or "")["error"]
    except (ValueError, KeyError, TypeError):
        return
    if isinstance(detail, dict) and (
        detail.get("is_transient") or detail.get("code") in _TRANSIENT_CODES
    ):
        raise RetryableError(
            f"Meta is throttling or unavailable: {detail.get('message')}",
            status=error.status,
            request=error.request,
            response=error.response,
        ) from None


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Send events, 1,000 per request. Every payload is checked before anything is sent, so
    InvalidPayload (naming the first bad one) means nothing went out."""
    many = len(payloads) > 1
    events = [
        server_event(payload, f" (payload {index} of the batch)" if many else "")
        for index, payload in enumerate(payloads)
    ]
    for start in range(0, len(events), MAX_EVENTS):
        body: dict[str, Any] = {"data": events[start : start + MAX_EVENTS]}
        if ctx.settings.get("test_event_code"):
            body["test_event_code"] = ctx.settings["test_event_code"]
        try:
            ctx.http.post(
                _graph(ctx, f"{ctx.settings['pixel_id']}/events"), json=body, headers=_headers(ctx)
            )
        except PermanentError as error:
            _retry_if_transient(error)
            raise


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    send_events(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """Reading the pixel's id succeeds only with a token that may use the pixel."""
    ctx.http.request(
        "GET",
        _graph(ctx, str(ctx.settings["pixel_id"])),
        params={"fields": "id"},
        headers=_headers(ctx),
    )


_USER_DATA_FIELD = Field(
    "User data",
    "Identifiers Meta matches people with; contact information is normalised and SHA-256 "
    "hashed before sending (values that already are SHA-256 hashes are sent as they are).",
    "object",
    required=True,
    properties={
        "externalId": Field("External ID", "Your id for the person.", "string", multiple=True),
        "email": Field("Email", "Trimmed and lowercased, then hashed.", "string"),
        "phone": Field("Phone", "With country code; digits kept, then hashed.", "string"),
        "gender": Field("Gender", "f or m (female, male), then hashed.", "string"),
        "dateOfBirth": Field("Date of birth", "A date, sent as YYYYMMDD, hashed.", "string"),
        "lastName": Field("Last name", "Letters only, lowercased, then hashed.", "string"),
        "firstName": Field("First name", "Letters only, lowercased, then hashed.", "string"),
        "city": Field("City", "Letters only, lowercased, then hashed.", "string"),
        "state": Field("State", "US states as two-letter codes, then hashed.", "string"),
        "zip": Field("Zip code", "Without spaces or the +4 part, then hashed.", "string"),
        "country": Field("Country", "Two-letter ISO 3166 code, then hashed.", "string"),
        "client_ip_address": Field("Client IP address", "Not hashed.", "string"),
        "client_user_agent": Field("Client user agent", "Required for website events.", "string"),
        "fbc": Field("Click ID", "The _fbc cookie.", "string"),
        "fbp": Field("Browser ID", "The _fbp cookie.", "string"),
    },
    default={
        "externalId": {
            "@if": {
                "exists": path("$.userId"),
                "then": path("$.userId"),
                "else": path("$.anonymousId"),
            }
        },
        "email": path("$.context.traits.email"),
        "phone": path("$.context.traits.phone"),
        "dateOfBirth": path("$.context.traits.birthday"),
        "lastName": path("$.context.traits.lastName"),
        "firstName": path("$.context.traits.firstName"),
        "city": path("$.context.traits.address.city"),
        "state": path("$.context.traits.address.state"),
        "zip": path("$.context.traits.address.postalCode"),
        "client_ip_address": path("$.context.ip"),
        "client_user_agent": path("$.context.userAgent"),
        "fbc": path("$.properties.fbc"),
        "fbp": path("$.properties.fbp"),
    },
)


def _fields(event_name: Any, **extra: Field) -> dict[str, Field]:
    return {
        "event_name": Field(
            "Event name",
            "A standard event (Purchase, Lead…) or your own.",
            "string",
            required=True,
            default=event_name,
        ),
        "event_time": Field(
            "Event time",
            "When it happened, at most 7 days ago.",
            "datetime",
            required=True,
            default=path("$.timestamp"),
        ),
        "action_source": Field(
            "Action source",
            "Where the conversion happened; website events need the page URL and user agent.",
            "string",
            required=True,
            default="website",
            choices=ACTION_SOURCES,
        ),
        "event_id": Field(
            "Event ID",
            "Deduplicates with the same event from the Pixel.",
            "string",
            default=path("$.messageId"),
        ),
        "event_source_url": Field(
            "Event source URL", "The page's URL.", "string", default=path("$.context.page.url")
        ),
        "user_data": _USER_DATA_FIELD,
        **extra,
    }


_CUSTOM_DATA = Field("Custom data", "Sent as custom_data.", "object", default=path("$.properties"))

DESTINATION = Destination(
    slug="meta-conversions-api",
    name="Meta Conversions API",
    description="Send conversions to Meta (Facebook) for ad attribution and optimisation.",
    settings={
        "pixel_id": Setting("Pixel ID", "Your Meta Pixel ID (or dataset ID).", required=True),
        "access_token": Setting(
            "Access token",
            "A Conversions API access token (Events Manager > Settings > Generate access token).",
            required=True,
            secret=True,
        ),
        "test_event_code": Setting(
            "Test event code", "Marks events as test events (Events Manager > Test events)."
        ),
        "api_version": Setting("Graph API version", "Like 26.0.", default=API_VERSION),
        "endpoint": Setting("API host", "The Graph API host.", default=API_HOST, target=True),
    },
    actions={
        "custom_event": Action(
            title="Custom Event",
            description="Send any event, named after the track call by default.",
            fields=_fields(path("$.event"), custom_data=_CUSTOM_DATA),
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "track" and event != "Order Completed"',
        ),
        "purchase": Action(
            title="Purchase",
            description="Send a Purchase event with its value and currency.",
            fields=_fields(
                "Purchase",
                value=Field(
                    "Value",
                    "The order's value.",
                    "number",
                    required=True,
                    default=path("$.properties.revenue"),
                ),
                currency=Field(
                    "Currency",
                    "ISO 4217 code, like USD.",
                    "string",
                    required=True,
                    default=path("$.properties.currency"),
                ),
                order_id=Field(
                    "Order ID", "The order's id.", "string", default=path("$.properties.order_id")
                ),
                contents=Field(
                    "Contents",
                    "The products: id and quantity, and their item_price.",
                    "object",
                    multiple=True,
                    default={
                        "@arrayPath": [
                            "$.properties.products",
                            {
                                "id": path("$.product_id"),
                                "quantity": path("$.quantity"),
                                "item_price": path("$.price"),
                            },
                        ]
                    },
                ),
                custom_data=Field("Custom data", "Other custom_data properties.", "object"),
            ),
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "track" and event = "Order Completed"',
        ),
        "page_view": Action(
            title="Page View",
            description="Send a PageView event for a page call.",
            fields=_fields("PageView"),
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "page"',
        ),
    },
    test_authentication=test_authentication,
    presets=(
        Preset("Order Completed Calls", "purchase", 'type = "track" and event = "Order Completed"'),
        Preset("Page Calls", "page_view", 'type = "page"'),
    ),
)

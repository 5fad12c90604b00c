"""Amplitude: events through the HTTP V2 API (`POST {api}/2/httpapi`, or the Batch Event Upload
API `POST {api}/batch` when `use_batch_endpoint` is set) and user properties through the
Identify API (`POST {api}/identify`, form-encoded `api_key` and `identification`), all
authenticated by the project's API key inside the body. EU-residency projects use
api.eu.amplitude.com; US ones api2.amplitude.com.

Every event names a `user_id` or a `device_id`; ids shorter than 5 characters are refused
unless `min_id_length` lowers that. Amplitude keeps one event per `insert_id` (per device or
user) for 7 days, so a retried delivery (insert_id = messageId) is recorded once. The HTTP API
takes 2,000 events and 1 MB per request (the Batch API 20 MB); 1,000 events are sent per
request here. Answers: 200 success; 400 an invalid body (`missing_field`,
`events_with_invalid_fields`, `silenced_events`: permanent); 413 too large (permanent);
429 one device or user sent more than its events-per-second threshold (retryable: Amplitude
sends no Retry-After and asks for a 30 s pause); 500, 502, 503, 504 retryable.

Deletion (a privacy regulation): the User Privacy API, `POST {privacy}/api/2/deletions/users`
(amplitude.com, EU analytics.eu.amplitude.com) with HTTP Basic api_key:secret_key and the
person's user ids, at most 100 per request; `ignore_invalid_id` makes an id Amplitude never saw
a success. Amplitude runs the deletion job about 3 days later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.shaping import (
    basic_auth,
    chunks,
    epoch_millis,
    first_of,
    optional_field,
    path,
    present,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

API_HOSTS = {"US": "https://api2.amplitude.com", "EU": "https://api.eu.amplitude.com"}
PRIVACY_HOSTS = {"US": "https://amplitude.com", "EU": "https://analytics.eu.amplitude.com"}
EVENT_LIMIT = 1_000  # events per request (the API takes 2,000)
HTTP_API_BYTES = 1_000_000
BATCH_API_BYTES = 20_000_000
DELETE_LIMIT = 100  # user ids per deletion request
THROTTLE_PAUSE = 30.0  # seconds Amplitude asks a throttled device or user to wait

_EVENT_KEYS = (
    "user_id", "device_id", "event_type", "session_id", "event_properties", "user_properties",
    "groups", "app_version", "platform", "os_name", "os_version", "device_brand",
    "device_manufacturer", "device_model", "carrier", "country", "region", "city", "language",
    "location_lat", "location_lng", "ip", "price", "quantity", "revenue", "productId",
    "revenueType", "insert_id", "library",
)  # fmt: skip
_IDENTIFY_KEYS = (
    "user_id", "device_id", "user_properties", "groups", "app_version", "platform", "os_name",
    "os_version", "device_brand", "device_manufacturer", "device_model", "carrier", "country",
    "region", "city", "language",
)  # fmt: skip


def _host(ctx: Context, setting: str, hosts: Mapping[str, str]) -> str:
    if ctx.settings.get(setting):
        return str(ctx.settings[setting]).rstrip("/")
    region = str(ctx.settings.get("region") or "US").upper()
    if region not in hosts:
        raise PermanentError(f"unknown Amplitude region {region!r}; one of {', '.join(hosts)}")
    return hosts[region]


def _min_id_length(ctx: Context) -> int | None:
    value = ctx.settings.get("min_id_length")
    return int(value) if value not in (None, "") else None


def _who(payload: Mapping[str, Any], ctx: Context, where: str) -> None:
    shortest = _min_id_length(ctx) or 5
    ids = [str(payload[k]) for k in ("user_id", "device_id") if payload.get(k) not in (None, "")]
    if not ids:
        raise InvalidPayload(f"an Amplitude event needs a user_id or a device_id{where}")
    if any(len(i) < shortest for i in ids):  # Amplitude checks each id it is given
        raise InvalidPayload(
            f"Amplitude refuses ids shorter than {shortest} characters{where} "
            "(lower the min_id_length setting to allow them)"
        )


def _event(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    _who(payload, ctx, where)
    if not payload.get("event_type"):
        raise InvalidPayload(f"an Amplitude event needs an event_type{where}")
    event = present({key: payload.get(key) for key in _EVENT_KEYS})
    for key in ("user_id", "device_id"):
        if key in event:
            event[key] = str(event[key])
    if payload.get("time") is not None:
        event["time"] = epoch_millis(payload["time"], "time")
    if payload.get("session_id") is not None:
        event["session_id"] = epoch_millis(payload["session_id"], "session_id")
    return event


def _options(ctx: Context) -> dict[str, Any]:
    shortest = _min_id_length(ctx)
    return {"options": {"min_id_length": shortest}} if shortest is not None else {}


def _throttled(error: RetryableError) -> RetryableError:
    if error.status == 429 and error.retry_after is None:
        error.retry_after = THROTTLE_PAUSE
    return error


def log_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record events; every payload is checked before anything is sent."""
    count = len(payloads)
    events = [
        _event(ctx, p, f" (payload {i} of the batch)" if count > 1 else "")
        for i, p in enumerate(payloads)
    ]
    batch = bool(ctx.settings.get("use_batch_endpoint"))
    url = _host(ctx, "endpoint", API_HOSTS) + ("/batch" if batch else "/2/httpapi")
    # The body also carries the key and options: a little room is kept for them.
    limit = (BATCH_API_BYTES if batch else HTTP_API_BYTES) - 1_000
    for chunk in chunks(events, EVENT_LIMIT, limit):
        body = {"api_key": ctx.settings["api_key"], "events": chunk, **_options(ctx)}
        try:
            ctx.http.post(url, json=body)
        except RetryableError as error:
            raise _throttled(error) from None


def log_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one event."""
    log_events(ctx, [payload])


def identify_user(ctx: Context, payload: dict[str, Any]) -> None:
    """Set one user's properties (and device details) without recording an event."""
    _who(payload, ctx, "")
    identification = present({key: payload.get(key) for key in _IDENTIFY_KEYS})
    form = {
        "api_key": str(ctx.settings["api_key"]),
        "identification": json.dumps([identification]),
    }
    try:
        ctx.http.post(_host(ctx, "endpoint", API_HOSTS) + "/identify", data=form)
    except RetryableError as error:
        raise _throttled(error) from None


def delete_person(ctx: Context, person: Person) -> None:
    """Ask the User Privacy API to delete the person's user ids, 100 per request."""
    secret = ctx.settings.get("secret_key")
    if not secret:
        raise PermanentError("deleting people needs the project's secret key (secret_key)")
    url = _host(ctx, "privacy_endpoint", PRIVACY_HOSTS) + "/api/2/deletions/users"
    auth = basic_auth(str(ctx.settings["api_key"]), str(secret))
    for chunk in chunks(person.user_ids, DELETE_LIMIT):
        body = {"user_ids": chunk, "requester": "seamline", "ignore_invalid_id": "True"}
        ctx.http.post(url, json=body, headers={"Authorization": auth})


_DEVICE_FIELDS = {
    "user_id": optional_field("User ID", "Your id for the user.", path("$.userId")),
    "device_id": optional_field(
        "Device ID",
        "The device's id; the anonymous id when the event has no device id.",
        first_of("$.context.device.id", "$.anonymousId"),
    ),
    "app_version": optional_field(
        "App Version", "The app's version.", path("$.context.app.version")
    ),
    "platform": optional_field(
        "Platform", "The platform (iOS, Android, Web…).", path("$.context.device.type")
    ),
    "os_name": optional_field("OS Name", "The operating system.", path("$.context.os.name")),
    "os_version": optional_field("OS Version", "Its version.", path("$.context.os.version")),
    "device_brand": optional_field(
        "Device Brand", "The device's brand.", path("$.context.device.brand")
    ),
    "device_manufacturer": optional_field(
        "Device Manufacturer", "The device's maker.", path("$.context.device.manufacturer")
    ),
    "device_model": optional_field(
        "Device Model", "The device's model.", path("$.context.device.model")
    ),
    "carrier": optional_field("Carrier", "The mobile carrier.", path("$.context.network.carrier")),
    "country": optional_field("Country", "The user's country.", path("$.context.location.country")),
    "region": optional_field("Region", "The user's region.", path("$.context.location.region")),
    "city": optional_field("City", "The user's city.", path("$.context.location.city")),
    "language": optional_field("Language", "The user's language.", path("$.context.locale")),
    "groups": optional_field("Groups", "Group types and names (Accounts add-on).", type_="object"),
}
_EVENT_FIELDS = {
    **_DEVICE_FIELDS,
    "event_type": Field(
        "Event Type",
        "The event's name; a page or screen call is named Viewed <name>.",
        "string",
        required=True,
        default={
            "@if": {
                "exists": path("$.event"),
                "then": path("$.event"),
                "else": {"@template": "Viewed {{name}}"},
            }
        },
    ),
    "time": optional_field("Timestamp", "When it happened.", path("$.timestamp"), "datetime"),
    "session_id": optional_field(
        "Session ID", "The session's start time (Amplitude's session id).", type_="datetime"
    ),
    "event_properties": optional_field(
        "Event Properties", "Properties of the event.", path("$.properties"), "object"
    ),
    "user_properties": optional_field(
        "User Properties", "Properties of the user.", path("$.context.traits"), "object"
    ),
    "insert_id": optional_field(
        "Insert ID", "Amplitude keeps one event per insert id for 7 days.", path("$.messageId")
    ),
    "ip": optional_field("IP Address", "Where the event came from.", path("$.context.ip")),
    "location_lat": optional_field(
        "Latitude", "Where the user was.", path("$.context.location.latitude"), "number"
    ),
    "location_lng": optional_field(
        "Longitude", "Where the user was.", path("$.context.location.longitude"), "number"
    ),
    "price": optional_field(
        "Price", "Unit price, for revenue.", path("$.properties.price"), "number"
    ),
    "quantity": optional_field("Quantity", "How many.", path("$.properties.quantity"), "integer"),
    "revenue": optional_field(
        "Revenue", "Revenue of the event.", path("$.properties.revenue"), "number"
    ),
    "productId": optional_field("Product ID", "The product.", path("$.properties.productId")),
    "revenueType": optional_field(
        "Revenue Type", "Like purchase or refund.", path("$.properties.revenueType")
    ),
}
_IDENTIFY_FIELDS = {
    **_DEVICE_FIELDS,
    "user_properties": optional_field(
        "User Properties",
        "The properties to set (or $set/$setOnce/$add… operations).",
        path("$.traits"),
        "object",
    ),
}

DESTINATION = Destination(
    slug="amplitude",
    name="Amplitude",
    description="Send events and user properties to Amplitude product analytics.",
    settings={
        "api_key": Setting("API key", "The project's API key.", required=True, secret=True),
        "secret_key": Setting(
            "Secret key", "The project's secret key; needed only to delete people.", secret=True
        ),
        "region": Setting("Data residency", "US or EU.", default="US"),
        "endpoint": Setting(
            "API endpoint",
            "Overrides the region's host (https://api2.amplitude.com, https://api.eu.amplitude.com).",
            target=True,
        ),
        "privacy_endpoint": Setting(
            "User Privacy API host",
            "Overrides the region's host for deletions (https://amplitude.com, "
            "https://analytics.eu.amplitude.com).",
            target=True,
        ),
        "min_id_length": Setting(
            "Minimum ID length",
            "The shortest user or device id Amplitude accepts (5 when unset).",
            "number",
        ),
        "use_batch_endpoint": Setting(
            "Use the Batch API",
            "Send events to /batch (higher limits per device, slower to appear) instead of "
            "/2/httpapi.",
            "boolean",
            default=False,
        ),
    },
    actions={
        "log_event": Action(
            title="Log Event",
            description="Record an event in Amplitude.",
            fields=_EVENT_FIELDS,
            perform=log_event,
            perform_batch=log_events,
            max_batch=EVENT_LIMIT,
            default_trigger='type = "track"',
        ),
        "identify_user": Action(
            title="Identify User",
            description="Set a user's properties in Amplitude without recording an event.",
            fields=_IDENTIFY_FIELDS,
            perform=identify_user,
            default_trigger='type = "identify"',
            ordered=True,
        ),
    },
    test_authentication=None,  # the only check with an API key alone is sending an event
    delete=delete_person,
    presets=(
        Preset("Track Calls", "log_event", 'type = "track"'),
        Preset("Page Calls", "log_event", 'type = "page" or type = "screen"'),
        Preset("Identify Calls", "identify_user", 'type = "identify"'),
    ),
    rate_limit=None,  # throttling is per device or user (a 429), not per account
)

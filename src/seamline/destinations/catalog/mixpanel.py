"""Mixpanel: events through the Import API, profile properties through the Engage API.

Events: `POST {api}/import?strict=1` with a JSON array of `{event, properties: {time (ms),
distinct_id, $insert_id, …}}`, authenticated by HTTP Basic with the project secret as user name
and an empty password (as Segment's Mixpanel (Actions) does). Mixpanel takes at most 2,000
events per request and each event under 1 MB; its current pages allow 10 MB of JSON per
request, older ones 2 MB, so requests are kept under 2 MB. `Content-Encoding: gzip` is
accepted. `$insert_id` (at most 36 letters, digits or `-`) makes retries safe: of events equal
in (event, time, distinct_id, $insert_id) Mixpanel keeps one. With strict=1 a 400 lists the
failed records and the valid ones are still ingested.

Profiles: `POST {api}/engage?verbose=1` with `[{$token, $distinct_id, $set, $ip}]` (2,000 per
request, no gzip). It answers 200 even when it refuses an update, so the verbose body is read.

Deletion (a privacy regulation): the GDPR API, `POST {app}/api/app/data-deletions/v3.0/?token=
<project token>` with `{distinct_ids, compliance_type: "GDPR"}` (at most 2,000 ids), authorised
by a GDPR OAuth token (`Authorization: Bearer`, the `gdpr_token` setting: an organisation or
project owner makes it in Mixpanel's Data & Privacy settings; it expires after a year). The
distinct ids are the person's user ids and anonymous ids, as events carry one or the other.
Mixpanel answers with a task id and carries the deletion out within about 30 days.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from seamline.destinations.definition import (
    Action,
    Context,
    Destination,
    Field,
    FieldType,
    Preset,
    Setting,
)
from seamline.destinations.errors import InvalidPayload, PermanentError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

REGIONS = {
    "US": "https://api.mixpanel.com",
    "EU": "https://api-eu.mixpanel.com",
    "IN": "https://api-in.mixpanel.com",
}
CREDENTIALS_CHECK = "https://mixpanel.com/api/app/validate-project-credentials/"
APP_HOSTS = {  # where the GDPR API is, per data residency
    "US": "https://mixpanel.com",
    "EU": "https://eu.mixpanel.com",
    "IN": "https://in.mixpanel.com",
}
MAX_DELETION_IDS = 2_000  # distinct ids per GDPR deletion request
MAX_EVENTS = 2_000  # per /import or /engage request
MAX_REQUEST_BYTES = 2_000_000
MAX_EVENT_BYTES = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
# distinct_id values Mixpanel refuses, to catch implementation mistakes.
_REFUSED_ID = re.compile(
    r"0{8}-0{4}-0{4}-0{4}-0{12}|anon|anonymous|nil|none|null|n/a|na|undefined|unknown|<nil>"
    r"|0|-1|true|false|\[\]|\{\}",
    re.IGNORECASE,
)
# Event fields sent as Mixpanel's own properties.
_CONTEXT = {
    "ip": "ip",
    "user_id": "$user_id",
    "device_id": "$device_id",
    "url": "$current_url",
    "referrer": "$referrer",
    "os_name": "$os",
    "app_version": "$app_version_string",
    "library_version": "$lib_version",
}
# Segment's traits that are Mixpanel reserved profile properties (as Segment maps them).
_RESERVED_TRAITS = {
    "created": "$created",
    "email": "$email",
    "firstName": "$first_name",
    "lastName": "$last_name",
    "name": "$name",
    "username": "$username",
    "phone": "$phone",
}


def _api(ctx: Context) -> str:
    if ctx.settings.get("endpoint"):
        return str(ctx.settings["endpoint"]).rstrip("/")
    region = str(ctx.settings.get("region") or "US").upper()
    if region not in REGIONS:
        raise PermanentError(f"unknown Mixpanel region {region!r}; one of {', '.join(REGIONS)}")
    return REGIONS[region]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _millis(value: Any, where: str) -> int:
    """Epoch milliseconds of a mapped time (datetime, ISO 8601 text or epoch number)."""
    if value is None or value == "":
        return int(time.time() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value if value > 1e11 else value * 1000)  # seconds or milliseconds
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidPayload(f"time {value!r} is not an ISO 8601 date-time{where}") from None
    if not isinstance(value, dt.datetime):
        raise InvalidPayload(f"time must be a date-time, got {value!r}{where}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    elapsed: dt.timedelta = value - _EPOCH
    return elapsed // dt.timedelta(milliseconds=1)


def insert_id(value: Any, fallback: str) -> str:
    """A valid `$insert_id`: the given one when it fits Mixpanel's rule, else the first 36 hex
    digits of its SHA-256 (what Mixpanel recommends), so a retry gets the same id."""
    raw = str(value) if value not in (None, "") else fallback
    return raw if _INSERT_ID.match(raw) else hashlib.sha256(raw.encode()).hexdigest()[:36]


def _event(payload: Mapping[str, Any], where: str) -> bytes:
    name = payload.get("event")
    if not isinstance(name, str) or not name.strip():
        raise InvalidPayload(f"a Mixpanel event needs a name{where}")
    distinct_id = payload.get("distinct_id")
    if distinct_id in (None, "") or _REFUSED_ID.fullmatch(str(distinct_id)):
        raise InvalidPayload(f"Mixpanel needs a distinct_id it accepts, got {distinct_id!r}{where}")
    millis = _millis(payload.get("time"), where)
    properties = {prop: payload[key] for key, prop in _CONTEXT.items() if payload.get(key)}
    utm = payload.get("utm_properties")
    if isinstance(utm, Mapping):
        properties.update({key: value for key, value in utm.items() if value})
    extra = payload.get("event_properties")
    if isinstance(extra, Mapping):
        properties.update(extra)
    properties.update(
        time=millis,
        distinct_id=str(distinct_id),
        **{"$insert_id": insert_id(payload.get("insert_id"), f"{name}|{distinct_id}|{millis}")},
    )
    event = _dumps({"event": name, "properties": properties})
    if len(event) >= MAX_EVENT_BYTES:
        raise InvalidPayload(f"a Mixpanel event must be under 1 MB of JSON{where}")
    return event


def _arrays(items: list[bytes]) -> Iterator[bytes]:
    """JSON arrays of the serialised items, each within Mixpanel's count and size limits."""
    chunk: list[bytes] = []
    size = 2
    for item in items:
        if chunk and (len(chunk) == MAX_EVENTS or size + len(item) + 1 > MAX_REQUEST_BYTES):
            yield b"[" + b",".join(chunk) + b"]"
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield b"[" + b",".join(chunk) + b"]"


def track_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Import events. Every payload is checked before anything is sent, so InvalidPayload
    (naming the first bad one) means nothing went out."""
    many = len(payloads) > 1
    events = [
        _event(payload, f" (payload {index} of the batch)" if many else "")
        for index, payload in enumerate(payloads)
    ]
    user = base64.b64encode(f"{ctx.settings['api_secret']}:".encode()).decode()
    headers = {"Authorization": f"Basic {user}", "Content-Type": "application/json"}
    if ctx.settings.get("gzip"):
        headers["Content-Encoding"] = "gzip"
    strict = "1" if ctx.settings.get("strict", True) else "0"
    for body in _arrays(events):
        ctx.http.post(
            f"{_api(ctx)}/import",
            content=gzip.compress(body) if ctx.settings.get("gzip") else body,
            headers=headers,
            params={"strict": strict},
        )


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Import one event."""
    track_events(ctx, [payload])


def _profile_update(ctx: Context, payload: Mapping[str, Any], where: str) -> bytes | None:
    user_id = payload.get("user_id")
    if user_id in (None, ""):
        raise InvalidPayload(f"a Mixpanel profile update needs a user id{where}")
    traits = payload.get("traits") or {}
    if not isinstance(traits, Mapping):
        raise InvalidPayload(f"traits must be an object{where}")
    if not traits:
        return None
    update: dict[str, Any] = {
        "$token": ctx.settings["project_token"],
        "$distinct_id": str(user_id),
        "$set": {_RESERVED_TRAITS.get(key, key): value for key, value in traits.items()},
    }
    if payload.get("ip"):
        update["$ip"] = payload["ip"]
    return _dumps(update)


def _check_engage(response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = None
    accepted = body.get("status") == 1 if isinstance(body, dict) else response.text.strip() == "1"
    if not accepted:
        error = body.get("error") if isinstance(body, dict) else response.text[:200]
        raise PermanentError(
            f"Mixpanel refused the profile update: {error}",
            status=response.status_code,
            response=response.text[:2_000],
        )


def identify_users(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Set profile properties (`$set`) from traits; payloads without traits send nothing."""
    many = len(payloads) > 1
    built = [
        _profile_update(ctx, payload, f" (payload {index} of the batch)" if many else "")
        for index, payload in enumerate(payloads)
    ]
    for body in _arrays([update for update in built if update is not None]):
        response = ctx.http.post(
            f"{_api(ctx)}/engage",
            content=body,
            headers={"Content-Type": "application/json"},
            params={"verbose": "1"},
        )
        _check_engage(response)


def identify_user(ctx: Context, payload: dict[str, Any]) -> None:
    """Set one profile's properties."""
    identify_users(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """Mixpanel's check of a project token and secret pair (what Segment's destination uses)."""
    endpoint = ctx.settings.get("endpoint")
    url = f"{str(endpoint).rstrip('/')}/api/app/validate-project-credentials/"
    ctx.http.post(
        url if endpoint else CREDENTIALS_CHECK,
        json={
            "api_secret": ctx.settings["api_secret"],
            "project_token": ctx.settings["project_token"],
        },
    )


def delete_person(ctx: Context, person: Person) -> None:
    """Ask Mixpanel's GDPR API to delete the events and profiles of the person's ids."""
    token = ctx.settings.get("gdpr_token")
    if not token:
        raise PermanentError("deleting people needs the GDPR OAuth token setting (gdpr_token)")
    endpoint = ctx.settings.get("endpoint")
    region = str(ctx.settings.get("region") or "US").upper()
    if not endpoint and region not in APP_HOSTS:
        raise PermanentError(f"unknown Mixpanel region {region!r}; one of {', '.join(APP_HOSTS)}")
    host = str(endpoint).rstrip("/") if endpoint else APP_HOSTS[region]
    ids = [*person.user_ids, *person.anonymous_ids]
    for start in range(0, len(ids), MAX_DELETION_IDS):
        ctx.http.post(
            f"{host}/api/app/data-deletions/v3.0/",
            params={"token": ctx.settings["project_token"]},
            json={"distinct_ids": ids[start : start + MAX_DELETION_IDS], "compliance_type": "GDPR"},
            headers={"Authorization": f"Bearer {token}"},
        )


def _path(path: str) -> dict[str, str]:
    return {"@path": path}


def _field(kind: FieldType, label: str, description: str, default: Any, **kw: Any) -> Field:
    return Field(
        label,
        description,
        kind,
        default=_path(default) if isinstance(default, str) else default,
        **kw,
    )


_IDENTIFIED = {
    "@if": {"exists": _path("$.userId"), "then": _path("$.userId"), "else": _path("$.anonymousId")}
}
_UTM = {
    "utm_source": _path("$.context.campaign.source"),
    "utm_medium": _path("$.context.campaign.medium"),
    "utm_campaign": _path("$.context.campaign.name"),
    "utm_term": _path("$.context.campaign.term"),
    "utm_content": _path("$.context.campaign.content"),
}
_IP = _field("string", "IP address", "Used by Mixpanel for geolocation only.", "$.context.ip")

DESTINATION = Destination(
    slug="mixpanel",
    name="Mixpanel",
    description="Send events to Mixpanel and set user profile properties.",
    settings={
        "project_token": Setting(
            "Project token", "The project's token (Project Settings).", required=True
        ),
        "api_secret": Setting(
            "Project secret",
            "The project's API secret, which authenticates imports.",
            required=True,
            secret=True,
        ),
        "region": Setting(
            "Data residency", "Where the project's data is stored: US, EU or IN.", default="US"
        ),
        "endpoint": Setting(
            "API endpoint",
            "Overrides the region's API host (https://api.mixpanel.com for US).",
            target=True,
        ),
        "strict": Setting(
            "Strict mode",
            "Mixpanel validates each event and reports those it refuses.",
            "boolean",
            default=True,
        ),
        "gzip": Setting("Compress", "Send events gzip-compressed.", "boolean", default=False),
        "gdpr_token": Setting(
            "GDPR API token",
            "The OAuth token for Mixpanel's GDPR API (Profile & Preferences, Data & Privacy), "
            "needed to delete people for privacy regulations.",
            secret=True,
        ),
    },
    actions={
        "track_event": Action(
            title="Track Event",
            description="Send an event to Mixpanel.",
            fields={
                "event": _field(
                    "string", "Event name", "The name of the action.", "$.event", required=True
                ),
                "distinct_id": _field(
                    "string",
                    "Distinct ID",
                    "The user id, else the anonymous id.",
                    _IDENTIFIED,
                    required=True,
                ),
                "user_id": _field("string", "User ID", "The user's id, once known.", "$.userId"),
                "insert_id": _field(
                    "string",
                    "Insert ID",
                    "Mixpanel keeps one event per id, so retries are safe.",
                    "$.messageId",
                ),
                "time": _field("datetime", "Timestamp", "When the event happened.", "$.timestamp"),
                "event_properties": _field(
                    "object", "Event properties", "Properties sent with the event.", "$.properties"
                ),
                "ip": _IP,
                "device_id": _field(
                    "string", "Device ID", "The device's id.", "$.context.device.id"
                ),
                "url": _field("string", "URL", "The page's URL.", "$.context.page.url"),
                "referrer": _field(
                    "string", "Referrer", "The referring URL.", "$.context.page.referrer"
                ),
                "os_name": _field(
                    "string", "OS name", "The operating system.", "$.context.os.name"
                ),
                "app_version": _field(
                    "string", "App version", "The app's version.", "$.context.app.version"
                ),
                "library_version": _field(
                    "string", "Library version", "The SDK's version.", "$.context.library.version"
                ),
                "utm_properties": _field("object", "UTM properties", "Campaign parameters.", _UTM),
            },
            perform=track_event,
            perform_batch=track_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "track"',
        ),
        "identify_user": Action(
            title="Identify User",
            description="Set properties on the user's Mixpanel profile.",
            fields={
                "user_id": _field(
                    "string", "User ID", "The profile's distinct id.", "$.userId", required=True
                ),
                "traits": _field(
                    "object", "User properties", "Properties set on the profile ($set).", "$.traits"
                ),
                "ip": _IP,
            },
            perform=identify_user,
            perform_batch=identify_users,
            max_batch=MAX_EVENTS,
            default_trigger='type = "identify"',
            ordered=True,  # a later $set must not be overtaken by an earlier one
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Track Calls", "track_event", 'type = "track"'),
        Preset("Identify Calls", "identify_user", 'type = "identify"'),
    ),
    rate_limit=None,  # documented as volume (2 GB of JSON a minute, ~30k events/s), not requests
)

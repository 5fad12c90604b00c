"""Google Analytics 4: events through the Measurement Protocol.

`POST {host}/mp/collect?measurement_id=…&api_secret=…` with `{client_id, user_id?,
user_properties?, events: [{name, params, timestamp_micros}]}`. Google's documented limits: at
most 25 events per request and a body under 130 kB; event names of at most 40 characters,
letters, digits and underscores, starting with a letter, and none of the reserved names or
prefixes; at most 25 user properties, named in 24 characters or fewer and not reserved; events
backdated by at most 72 hours. The endpoint answers 2xx even when it drops an event, so these
rules are checked here and a breach is an InvalidPayload rather than silent loss. Each event
carries its own `timestamp_micros`, which Google uses before the request's.

Deletion (a privacy regulation): the User Deletion API, `POST {deletion host}/analytics/v3/
userDeletion/userDeletionRequests:upsert` with `{kind: "analytics#userDeletionRequest", id:
{type, userId}, propertyId}`, one request per identifier: USER_ID for each user id and
CLIENT_ID for each user id and anonymous id (the client id is the user id, else the anonymous
id). It needs an OAuth access token with the `analytics.user.deletion` scope, fetched from
Google's token endpoint with the instance's OAuth client and refresh token. Google deletes the
data within about 72 hours. App instance ids (Firebase) are never sent here, so not deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

API_HOST = "https://www.google-analytics.com"  # EU collection: https://region1.google-analytics.com
DELETION_HOST = "https://www.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"
MAX_EVENTS = 25  # per request
MAX_BODY_BYTES = 130_000
MAX_AGE = dt.timedelta(hours=72)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAME = re.compile(r"[^\W\d_]\w{0,39}")  # a letter first, then letters, digits, _
_RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_")
_RESERVED_EVENTS = frozenset(
    """ad_activeview ad_click ad_exposure ad_impression ad_query ad_reward adunit_exposure
    app_background app_clear_data app_exception app_install app_remove app_store_refund
    app_update app_upgrade dynamic_link_app_open dynamic_link_app_update dynamic_link_first_open
    error firebase_campaign firebase_in_app_message_action firebase_in_app_message_dismiss
    firebase_in_app_message_impression first_open first_visit in_app_purchase notification_dismiss
    notification_foreground notification_open notification_receive notification_send os_update
    screen_view session_start user_engagement""".split()  # noqa: SIM905 -- a word list reads best
)
_RESERVED_USER_PROPERTIES = frozenset(
    """first_open_time first_visit_time last_deep_link_referrer user_id
    first_open_after_install""".split()  # noqa: SIM905 -- a word list reads best
)


def event_name(raw: Any, lowercase: bool = False, where: str = "") -> str:
    """The event name GA4 accepts, from a mapped one: trimmed, spaces as underscores (as
    Segment does), optionally lowercased; InvalidPayload says which rule it breaks."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPayload(f"a GA4 event needs a name{where}")
    name = re.sub(r"\s+", "_", raw.strip())
    name = name.lower() if lowercase else name
    if not _NAME.fullmatch(name):
        raise InvalidPayload(
            f"GA4 event name {name!r} must start with a letter, hold only letters, digits and "
            f"underscores, and be at most 40 characters{where}"
        )
    if name in _RESERVED_EVENTS or name.startswith(_RESERVED_PREFIXES):
        raise InvalidPayload(f"GA4 event name {name!r} is reserved by Google{where}")
    return name


def _micros(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidPayload(f"timestamp {value!r} is not ISO 8601{where}") from None
    if value is None:
        return time.time_ns() // 1000
    if not isinstance(value, dt.datetime):
        raise InvalidPayload(f"timestamp must be a date-time, got {value!r}{where}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if dt.datetime.now(dt.UTC) - value > MAX_AGE:
        raise InvalidPayload(f"GA4 takes events at most 72 hours old, this one is {value}{where}")
    elapsed: dt.timedelta = value - _EPOCH
    return elapsed // dt.timedelta(microseconds=1)  # exact, unlike float seconds


def _user_properties(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > 25:
        raise InvalidPayload(f"user_properties must be an object of at most 25{where}")
    for name in map(str, raw):
        if len(name) > 24 or name in _RESERVED_USER_PROPERTIES:
            raise InvalidPayload(f"GA4 user property {name!r} is too long or reserved{where}")
        if name.startswith(_RESERVED_PREFIXES):
            raise InvalidPayload(f"GA4 user property {name!r} has a reserved prefix{where}")
    return {str(name): {"value": value} for name, value in raw.items()}


def _prepare(payload: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request envelope (client, user, user properties) and the event of a payload."""
    client_id = payload.get("client_id")
    if client_id in (None, ""):
        raise InvalidPayload(f"GA4 needs a client_id{where}")
    params = dict(payload.get("params") or {})
    if payload.get("engagement_time_msec") is not None:
        params.setdefault("engagement_time_msec", payload["engagement_time_msec"])
    event = {
        "name": event_name(payload.get("name"), bool(payload.get("lowercase")), where),
        "params": params,
        "timestamp_micros": _micros(payload.get("timestamp_micros"), where),
    }
    envelope: dict[str, Any] = {"client_id": str(client_id)}
    if payload.get("user_id") not in (None, ""):
        envelope["user_id"] = str(payload["user_id"])
    properties = _user_properties(payload.get("user_properties"), where)
    if properties:
        envelope["user_properties"] = properties
    return envelope, event


def _requests(envelope: dict[str, Any], events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Request bodies for one envelope, each within 25 events and 130 kB."""
    base = len(json.dumps(envelope)) + len(', "events": []')
    chunk: list[dict[str, Any]] = []
    size = base
    for event in events:
        event_size = len(json.dumps(event)) + 2
        if base + event_size > MAX_BODY_BYTES:
            raise InvalidPayload(f"GA4 event {event['name']!r} does not fit in a 130 kB request")
        if chunk and (len(chunk) == MAX_EVENTS or size + event_size > MAX_BODY_BYTES):
            yield {**envelope, "events": chunk}
            chunk, size = [], base
        chunk.append(event)
        size += event_size
    if chunk:
        yield {**envelope, "events": chunk}


def send_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Send events, grouped by client, user and user properties (a request carries one of
    each). Every payload is checked before anything is sent, so InvalidPayload (naming the
    first bad one) means nothing went out."""
    many = len(payloads) > 1
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for index, payload in enumerate(payloads):
        envelope, event = _prepare(payload, f" (payload {index} of the batch)" if many else "")
        key = json.dumps(envelope, sort_keys=True)
        groups.setdefault(key, (envelope, []))[1].append(event)
    bodies = [body for envelope, events in groups.values() for body in _requests(envelope, events)]
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    query = {
        "measurement_id": ctx.settings["measurement_id"],
        "api_secret": ctx.settings["api_secret"],
    }
    for body in bodies:
        ctx.http.post(f"{host}/mp/collect", json=body, params=query)


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one event."""
    send_events(ctx, [payload])


def _access_token(ctx: Context) -> str:
    """An access token from the refresh token (Google's tokens last an hour: one per run)."""
    missing = [k for k in _OAUTH if not ctx.settings.get(k)]
    if missing or not ctx.settings.get("property_id"):
        needed = ", ".join(
            [*missing, *(["property_id"] if not ctx.settings.get("property_id") else [])]
        )
        raise PermanentError(f"deleting people from GA4 needs the settings {needed}")
    url = str(ctx.settings.get("token_url") or TOKEN_URL)
    form = {
        "grant_type": "refresh_token",
        "client_id": ctx.settings["oauth_client_id"],
        "client_secret": ctx.settings["oauth_client_secret"],
        "refresh_token": ctx.settings["oauth_refresh_token"],
    }
    try:
        response = ctx.http.post(url, data=form)
    except DeliveryError as error:
        # The form is URL-encoded, so Http's hiding of secret values can miss them in it.
        error.request = f"POST {url} (form hidden: it holds credentials)"
        raise
    finally:
        ctx.http.hide_exchanges(url)  # the form's credentials, the answer's access token
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError(f"{url} answered without an access_token")
    return token


def delete_person(ctx: Context, person: Person) -> None:
    """Ask the User Deletion API to delete the person's data from the GA4 property."""
    token = _access_token(ctx)
    host = str(ctx.settings.get("deletion_endpoint") or DELETION_HOST).rstrip("/")
    url = f"{host}/analytics/v3/userDeletion/userDeletionRequests:upsert"
    ids = [("USER_ID", i) for i in person.user_ids]
    ids += [("CLIENT_ID", i) for i in dict.fromkeys([*person.user_ids, *person.anonymous_ids])]
    for id_type, value in ids:
        body = {
            "kind": "analytics#userDeletionRequest",
            "id": {"type": id_type, "userId": value},
            "propertyId": str(ctx.settings["property_id"]),
        }
        ctx.http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})


_OAUTH = ("oauth_client_id", "oauth_client_secret", "oauth_refresh_token")


def _path(path: str) -> dict[str, str]:
    return {"@path": path}


def _fields(name: Any, params: Any, description: str) -> dict[str, Field]:
    return {
        "client_id": Field(
            "Client ID",
            "Identifies the client (browser or device); the user id, else the anonymous id.",
            "string",
            required=True,
            default={
                "@if": {
                    "exists": _path("$.userId"),
                    "then": _path("$.userId"),
                    "else": _path("$.anonymousId"),
                }
            },
        ),
        "user_id": Field(
            "User ID",
            "The user's id, for cross-device reports.",
            "string",
            default=_path("$.userId"),
        ),
        "name": Field(
            "Event name",
            "Letters, digits and underscores, starting with a letter, at most 40 characters; "
            "spaces become underscores. " + description,
            "string",
            required=True,
            default=name,
        ),
        "lowercase": Field(
            "Lowercase event name",
            "GA4 event names are case-sensitive; lowercase them to merge differently cased ones.",
            "boolean",
            default=False,
        ),
        "params": Field(
            "Event parameters", "Parameters sent with the event.", "object", default=params
        ),
        "user_properties": Field(
            "User properties",
            "At most 25, named in 24 characters or fewer; register them as custom dimensions.",
            "object",
        ),
        "timestamp_micros": Field(
            "Timestamp",
            "When the event happened, at most 72 hours ago.",
            "datetime",
            default=_path("$.timestamp"),
        ),
        "engagement_time_msec": Field(
            "Engagement time (ms)",
            "GA4 counts a user as active only with engagement time above zero.",
            "integer",
            default=1,
        ),
    }


_PAGE_PARAMS = {
    "page_location": _path("$.context.page.url"),
    "page_referrer": _path("$.context.page.referrer"),
    "page_title": _path("$.context.page.title"),
}

DESTINATION = Destination(
    slug="google-analytics-4",
    name="Google Analytics 4",
    description="Send events to Google Analytics 4 through the Measurement Protocol.",
    settings={
        "measurement_id": Setting(
            "Measurement ID",
            "The web stream's measurement ID, like G-XXXXXXX (Admin > Data streams).",
            required=True,
        ),
        "api_secret": Setting(
            "API secret",
            "A Measurement Protocol API secret of the stream (Admin > Data streams > "
            "Measurement Protocol API secrets).",
            required=True,
            secret=True,
        ),
        "endpoint": Setting(
            "Collection host",
            "Where events are sent; https://region1.google-analytics.com collects in the EU.",
            default=API_HOST,
        ),
        "property_id": Setting(
            "Property ID",
            "The GA4 property's numeric id (Admin > Property details), to delete people.",
        ),
        "oauth_client_id": Setting(
            "OAuth client ID", "A Google OAuth client allowed the analytics.user.deletion scope."
        ),
        "oauth_client_secret": Setting("OAuth client secret", "That client's secret.", secret=True),
        "oauth_refresh_token": Setting(
            "OAuth refresh token",
            "A refresh token for the analytics.user.deletion scope, from a user with the "
            "Editor role on the property.",
            secret=True,
        ),
        "deletion_endpoint": Setting(
            "User Deletion API host",
            "Where deletions are sent.",
            default=DELETION_HOST,
            target=True,
        ),
        "token_url": Setting(
            "OAuth token URL", "Google's token endpoint.", default=TOKEN_URL, target=True
        ),
    },
    actions={
        "custom_event": Action(
            title="Custom Event",
            description="Send any event to GA4.",
            fields=_fields(_path("$.event"), _path("$.properties"), "The event's name by default."),
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "track"',
        ),
        "page_view": Action(
            title="Page View",
            description="Send a page_view event for a page call.",
            fields=_fields("page_view", _PAGE_PARAMS, "page_view by default."),
            perform=send_event,
            perform_batch=send_events,
            max_batch=MAX_EVENTS,
            default_trigger='type = "page"',
        ),
    },
    # The Measurement Protocol checks nothing it answers for: any secret gets a 2xx.
    test_authentication=None,
    delete=delete_person,
    presets=(
        Preset("Track Calls", "custom_event", 'type = "track"'),
        Preset("Page Calls", "page_view", 'type = "page"'),
    ),
)

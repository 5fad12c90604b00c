"""Iterable: users, custom events and list subscriptions through Iterable's REST API
(`https://api.iterable.com/api/…`, EU projects `https://api.eu.iterable.com`), authenticated
by a server-side API key in the `Api-Key` header.

- Update User: `POST /api/users/update` (`email` and/or `userId`, `dataFields` merged into the
  profile); a batch is `POST /api/users/bulkUpdate` with `users: […]`.
- Track Event: `POST /api/events/track` (`eventName`, `createdAt` in Unix seconds, `id`: an
  event with an existing id is updated, so a retried delivery is recorded once); a batch is
  `POST /api/events/trackBulk` with `events: […]`.
- Subscribe to / Unsubscribe from List (Engage's `Audience Entered` / `Audience Exited`):
  `POST /api/lists/subscribe` and `/api/lists/unsubscribe` with `listId` and `subscribers`.

Batches are sent 1,000 items per request. Iterable parses dates in data fields only in its own
`yyyy-MM-dd HH:mm:ss +00:00` form, so ISO 8601 date-times are rewritten to it, as Segment's
Iterable destination does. Answers: 200 `{"code": "Success"}`; bulk answers count what failed
(`failCount`, `invalidEmails`, `invalidUserIds`), which is a permanent error naming them; 400
`BadParams`/`BadJsonBody`/`InvalidEmailAddressError` and 401 `BadApiKey` are permanent; 429
`RateLimitExceeded` (users/update 500/s, events/track 2,000/s, the bulk endpoints 5 to 10/s per
project) and 5xx are retried.

Deletion (a privacy regulation): `DELETE /api/users/{email}` for each email and
`DELETE /api/users/byUserId/{userId}` for each user id; a user Iterable does not have (404) is
already deleted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import (
    batch_place,
    chunks,
    epoch_seconds,
    first_of,
    optional_field,
    path,
    present,
    regional_url,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

REGIONS = {"US": "https://api.iterable.com", "EU": "https://api.eu.iterable.com"}
BULK_LIMIT = 1_000  # users, events or subscribers per request
ENTERED, EXITED = "Audience Entered", "Audience Exited"
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _url(ctx: Context, where: str) -> str:
    return regional_url(ctx, REGIONS, "Iterable", where)


def _headers(ctx: Context) -> dict[str, str]:
    return {"Api-Key": str(ctx.settings["api_key"])}


def _dates(value: Any) -> Any:
    """ISO 8601 date-times (at any depth) in Iterable's date form; date-only text is kept."""
    if isinstance(value, dict):
        return {key: _dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates(item) for item in value]
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S +00:00")
    return value


def _user(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    user = present({"email": payload.get("email"), "userId": payload.get("userId")})
    if not user:
        raise InvalidPayload(f"Iterable needs an email or a userId{where}")
    return {key: str(value) for key, value in user.items()}


def _post(ctx: Context, where: str, body: dict[str, Any], count: int) -> None:
    response = ctx.http.post(_url(ctx, where), json=body, headers=_headers(ctx))
    try:
        answer = response.json()
    except ValueError:
        return
    failed = answer.get("failCount") if isinstance(answer, dict) else None
    if failed:
        details = {k: answer[k] for k in ("invalidEmails", "invalidUserIds") if answer.get(k)}
        raise PermanentError(
            f"Iterable refused {failed} of {count}: {details or answer.get('failedUpdates')}",
            status=response.status_code,
            response=response.text[:2_000],
        )


# -- users and events -------------------------------------------------------------------------


def _user_update(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    fields = dict(payload.get("dataFields") or {})
    if payload.get("phoneNumber"):
        fields["phoneNumber"] = payload["phoneNumber"]
    update = _user(payload, where) | {"dataFields": _dates(fields)}
    if payload.get("mergeNestedObjects") is not None:
        update["mergeNestedObjects"] = bool(payload["mergeNestedObjects"])
    return update


def update_user(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one user; `dataFields` are merged into the profile."""
    _post(ctx, "/api/users/update", _user_update(payload, "") | {"preferUserId": True}, 1)


def update_users(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update users in bulk; every payload is checked before anything is sent."""
    count = len(payloads)
    users = [_user_update(p, batch_place(i, count)) for i, p in enumerate(payloads)]
    for chunk in chunks(users, BULK_LIMIT):
        _post(ctx, "/api/users/bulkUpdate", {"users": chunk}, len(chunk))


def _event(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not payload.get("eventName"):
        raise InvalidPayload(f"an Iterable event needs an eventName{where}")
    when = payload.get("createdAt")
    event = _user(payload, where) | present(
        {
            "eventName": payload["eventName"],
            "id": payload.get("id"),
            "createdAt": epoch_seconds(when, "createdAt") if when is not None else None,
            "dataFields": _dates(payload.get("dataFields") or {}),
            "campaignId": payload.get("campaignId"),
            "templateId": payload.get("templateId"),
        }
    )
    return event


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one custom event."""
    _post(ctx, "/api/events/track", _event(payload, ""), 1)


def track_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record events in bulk; every payload is checked before anything is sent."""
    events = [_event(p, batch_place(i, len(payloads))) for i, p in enumerate(payloads)]
    for chunk in chunks(events, BULK_LIMIT):
        _post(ctx, "/api/events/trackBulk", {"events": chunk}, len(chunk))


# -- lists ------------------------------------------------------------------------------------


def _list_id(payload: Mapping[str, Any], where: str) -> int:
    value = payload.get("listId")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidPayload(f"listId must be an Iterable list's number, got {value!r}{where}")
    return value


def _membership(ctx: Context, payloads: list[dict[str, Any]], subscribe: bool) -> None:
    by_list: dict[int, list[dict[str, Any]]] = {}
    for index, payload in enumerate(payloads):
        where = batch_place(index, len(payloads))
        subscriber = _user(payload, where)
        if subscribe and payload.get("dataFields"):
            subscriber["dataFields"] = _dates(payload["dataFields"])
        by_list.setdefault(_list_id(payload, where), []).append(subscriber)
    where = "/api/lists/subscribe" if subscribe else "/api/lists/unsubscribe"
    for list_id, subscribers in by_list.items():
        for chunk in chunks(subscribers, BULK_LIMIT):
            body: dict[str, Any] = {"listId": list_id, "subscribers": chunk}
            if not subscribe:
                body["channelUnsubscribe"] = False  # leave the list, keep the channel
            _post(ctx, where, body, len(chunk))


def subscribe_all(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Subscribe people to their lists (users are created if needed)."""
    _membership(ctx, payloads, subscribe=True)


def subscribe(ctx: Context, payload: dict[str, Any]) -> None:
    """Subscribe one person to a list."""
    subscribe_all(ctx, [payload])


def unsubscribe_all(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Unsubscribe people from their lists."""
    _membership(ctx, payloads, subscribe=False)


def unsubscribe(ctx: Context, payload: dict[str, Any]) -> None:
    """Unsubscribe one person from a list."""
    unsubscribe_all(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """Listing the project's channels is a cheap read any server-side key may make."""
    ctx.http.request("GET", _url(ctx, "/api/channels"), headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the user of each email and each user id; one Iterable lacks is already gone."""
    targets = [f"/api/users/{quote(e, safe='@')}" for e in person.emails]
    targets += [f"/api/users/byUserId/{quote(u, safe='')}" for u in person.user_ids]
    for where in targets:
        try:
            ctx.http.request("DELETE", _url(ctx, where), headers=_headers(ctx))
        except PermanentError as error:
            if error.status != 404:
                raise


_EMAIL = optional_field(
    "Email",
    "The user's email.",
    first_of("$.traits.email", "$.properties.email", "$.context.traits.email"),
)
_USER_ID = optional_field("User ID", "Your id for the user.", path("$.userId"))
_LIST_FIELDS = {
    "email": _EMAIL,
    "userId": _USER_ID,
    "listId": Field("List ID", "The Iterable list's number.", "integer", required=True),
}
_ENTERED = f'type = "track" and event = "{ENTERED}"'
_EXITED = f'type = "track" and event = "{EXITED}"'

DESTINATION = Destination(
    slug="iterable",
    name="Iterable",
    description="Update users, track events and manage list subscriptions in Iterable.",
    settings={
        "api_key": Setting(
            "API key", "A server-side API key of the Iterable project.", required=True, secret=True
        ),
        "region": Setting("Data center", "US or EU.", default="US"),
        "endpoint": Setting(
            "API host",
            "Overrides the data center's host (https://api.iterable.com, https://api.eu.iterable.com).",
            target=True,
        ),
    },
    actions={
        "update_user": Action(
            title="Update User",
            description="Create or update a user's profile fields.",
            fields={
                "email": _EMAIL,
                "userId": _USER_ID,
                "dataFields": optional_field(
                    "Data Fields", "Profile fields to set.", path("$.traits"), "object"
                ),
                "phoneNumber": optional_field(
                    "Phone Number", "In E.164 form, for SMS.", path("$.traits.phone")
                ),
                "mergeNestedObjects": optional_field(
                    "Merge Nested Objects",
                    "Merge objects into existing ones instead of replacing them.",
                    False,
                    "boolean",
                ),
            },
            perform=update_user,
            perform_batch=update_users,
            max_batch=BULK_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "track_event": Action(
            title="Track Event",
            description="Record a custom event on a user.",
            fields={
                "email": _EMAIL,
                "userId": _USER_ID,
                "eventName": Field(
                    "Event Name", "The event's name.", "string", True, default=path("$.event")
                ),
                "dataFields": optional_field(
                    "Data Fields", "Properties of the event.", path("$.properties"), "object"
                ),
                "id": optional_field(
                    "Event ID", "An event with an existing id is updated.", path("$.messageId")
                ),
                "createdAt": optional_field(
                    "Created At", "When it happened.", path("$.timestamp"), "datetime"
                ),
                "campaignId": optional_field(
                    "Campaign ID", "The campaign to attribute it to.", type_="integer"
                ),
                "templateId": optional_field(
                    "Template ID", "The template to attribute it to.", type_="integer"
                ),
            },
            perform=track_event,
            perform_batch=track_events,
            max_batch=BULK_LIMIT,
        ),
        "subscribe_to_list": Action(
            title="Subscribe to List",
            description="Add a person to a static list.",
            fields={
                **_LIST_FIELDS,
                "dataFields": optional_field(
                    "Data Fields", "Profile fields to set with it.", type_="object"
                ),
            },
            perform=subscribe,
            perform_batch=subscribe_all,
            max_batch=BULK_LIMIT,
            default_trigger=_ENTERED,
            ordered=True,
        ),
        "unsubscribe_from_list": Action(
            title="Unsubscribe from List",
            description="Remove a person from a static list.",
            fields=_LIST_FIELDS,
            perform=unsubscribe,
            perform_batch=unsubscribe_all,
            max_batch=BULK_LIMIT,
            default_trigger=_EXITED,
            ordered=True,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "update_user", 'type = "identify"'),
        Preset("Track Calls", "track_event", 'type = "track"'),
        Preset("Audience Entered", "subscribe_to_list", _ENTERED),
        Preset("Audience Exited", "unsubscribe_from_list", _EXITED),
    ),
    rate_limit=10.0,  # the bulk endpoints: 10 requests per second per project
)

"""Customer.io: people and their events through the Journeys Track API v2
(`POST https://track.customer.io/api/v2/entity`, a batch `POST …/api/v2/batch`; EU workspaces
use track-eu.customer.io), authenticated by HTTP Basic with the workspace's site id and Track
API key.

Each entity names a person by `identifiers`: `{"id": …}` (your user id; `cio_…` is
Customer.io's own id), else `{"email": …}`, else `{"anonymous_id": …}` for events of someone not
yet identified. `action` is `identify` (create or update, `attributes` merged), `event` (`name`,
`timestamp` in Unix seconds, `attributes` as the event's data) or `page` (`name` the URL). A batch
request holds at most 500 KB and each entity at most 32 KB; Customer.io then lists the entities
it refused as `errors: [{batch_index, reason, field, message}]`, which is a permanent error
naming them. Attribute values that are ISO 8601 dates become Unix seconds unless
`convert_timestamp` is off, since Customer.io's segments compare dates only as numbers.

Answers: 200 success; 400 an invalid entity and 401 a wrong site id or key are permanent; 429
(past about 100 requests per second per workspace) and 5xx are retried.

Deletion (a privacy regulation): `DELETE /api/v1/customers/{identifier}` for each user id and
each email (v1 of the same API takes either as the identifier); deleting someone Customer.io
does not have is a success.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import reported_errors
from seamline.destinations.shaping import (
    basic_auth,
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

REGIONS = {"US": "https://track.customer.io", "EU": "https://track-eu.customer.io"}
BATCH_LIMIT = 100  # entities per batch request
BATCH_BYTES = 500_000 - 1_000  # 500 KB per request, less the envelope
ENTITY_BYTES = 32_000  # per entity
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?)?"
)


def _url(ctx: Context, where: str) -> str:
    return regional_url(ctx, REGIONS, "Customer.io", where)


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": basic_auth(str(ctx.settings["site_id"]), str(ctx.settings["api_key"]))}


def _timestamps(values: Mapping[str, Any]) -> dict[str, Any]:
    """ISO 8601 dates (at any depth of objects) as Unix seconds."""
    converted: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            converted[key] = epoch_seconds(value, key)
        elif isinstance(value, Mapping):
            converted[key] = _timestamps(value)
        else:
            converted[key] = value
    return converted


def _identifiers(payload: Mapping[str, Any], where: str, *, anonymous: bool) -> dict[str, str]:
    person = payload.get("person_id")
    if person:
        text = str(person)
        return {"cio_id": text[4:]} if text.startswith("cio_") else {"id": text}
    if payload.get("email"):
        return {"email": str(payload["email"])}
    if anonymous and payload.get("anonymous_id"):
        return {"anonymous_id": str(payload["anonymous_id"])}
    allowed = "person_id, email" + (" or anonymous_id" if anonymous else "")
    raise InvalidPayload(f"a Customer.io person needs a {allowed}{where}")


def _attributes(ctx: Context, values: Mapping[str, Any] | None) -> dict[str, Any]:
    values = values or {}
    convert = ctx.settings.get("convert_timestamp")
    return _timestamps(values) if convert is None or convert else dict(values)


def _sized(entity: dict[str, Any], where: str) -> dict[str, Any]:
    size = len(json.dumps(entity, default=str))
    if size > ENTITY_BYTES:
        raise InvalidPayload(f"the entity is {size} bytes of JSON; Customer.io takes 32 KB{where}")
    return entity


def _person(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    attributes = _attributes(ctx, payload.get("attributes"))
    attributes.update(present({"email": payload.get("email")}))
    if payload.get("created_at") is not None:
        attributes["created_at"] = epoch_seconds(payload["created_at"], "created_at")
    if payload.get("anonymous_id") and payload.get("person_id"):
        attributes["anonymous_id"] = payload["anonymous_id"]  # merges their anonymous events
    entity = {
        "type": "person",
        "action": "identify",
        "identifiers": _identifiers(payload, where, anonymous=False),
        "attributes": attributes,
    }
    return _sized(entity, where)


def _event(ctx: Context, payload: Mapping[str, Any], where: str, action: str) -> dict[str, Any]:
    if not payload.get("name"):
        what = "URL" if action == "page" else "name"
        raise InvalidPayload(f"a Customer.io {action} needs a {what}{where}")
    entity: dict[str, Any] = {
        "type": "person",
        "action": action,
        "identifiers": _identifiers(payload, where, anonymous=True),
        "name": str(payload["name"]),
        "attributes": _attributes(ctx, payload.get("data")),
    }
    if payload.get("timestamp") is not None:
        entity["timestamp"] = epoch_seconds(payload["timestamp"], "timestamp")
    if payload.get("event_id"):
        entity["id"] = str(payload["event_id"])
    return _sized(entity, where)


def _send(ctx: Context, entities: list[dict[str, Any]]) -> None:
    if len(entities) == 1:
        ctx.http.post(_url(ctx, "/api/v2/entity"), json=entities[0], headers=_headers(ctx))
        return
    for chunk in chunks(entities, BATCH_LIMIT, BATCH_BYTES):
        response = ctx.http.post(
            _url(ctx, "/api/v2/batch"), json={"batch": chunk}, headers=_headers(ctx)
        )
        errors = reported_errors(response)
        if errors:
            listed = "; ".join(
                f"[{e.get('batch_index')}] {e.get('reason') or ''} {e.get('message') or ''}".strip()
                for e in errors
            )
            raise PermanentError(
                f"Customer.io refused {len(errors)} of {len(chunk)} entities: {listed}",
                status=response.status_code,
                response=response.text[:2_000],
            )


def identify_people(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update people; every payload is checked before anything is sent."""
    count = len(payloads)
    _send(ctx, [_person(ctx, p, batch_place(i, count)) for i, p in enumerate(payloads)])


def identify_person(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one person."""
    identify_people(ctx, [payload])


def track_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record events; every payload is checked before anything is sent."""
    count = len(payloads)
    _send(ctx, [_event(ctx, p, batch_place(i, count), "event") for i, p in enumerate(payloads)])


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one event (of a known person, or of an anonymous id)."""
    track_events(ctx, [payload])


def track_page_views(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record page views; every payload is checked before anything is sent."""
    count = len(payloads)
    _send(ctx, [_event(ctx, p, batch_place(i, count), "page") for i, p in enumerate(payloads)])


def track_page_view(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one page view."""
    track_page_views(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """Asking the Track API for the workspace's region checks the site id and key."""
    ctx.http.request("GET", _url(ctx, "/api/v1/accounts/region"), headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the person by each user id and each email (someone unknown is a success)."""
    for identifier in [*person.user_ids, *person.emails]:
        where = f"/api/v1/customers/{quote(identifier, safe='@')}"
        try:
            ctx.http.request("DELETE", _url(ctx, where), headers=_headers(ctx))
        except PermanentError as error:
            if error.status != 404:
                raise


_PERSON_ID = optional_field(
    "Person ID", "Your id for the person (cio_… for Customer.io's own id).", path("$.userId")
)
_ANONYMOUS_ID = optional_field(
    "Anonymous ID", "An id for a visitor not yet identified.", path("$.anonymousId")
)
_EVENT_FIELDS = {
    "person_id": _PERSON_ID,
    "anonymous_id": _ANONYMOUS_ID,
    "email": optional_field(
        "Email", "The person's email.", first_of("$.context.traits.email", "$.properties.email")
    ),
    "timestamp": optional_field("Timestamp", "When it happened.", path("$.timestamp"), "datetime"),
    "data": optional_field(
        "Event Attributes", "Data of the event.", path("$.properties"), "object"
    ),
    "event_id": optional_field("Event ID", "A ULID; Customer.io keeps one event per id."),
}

DESTINATION = Destination(
    slug="customer-io",
    name="Customer.io",
    description="Create and update people and send their events to Customer.io.",
    settings={
        "site_id": Setting("Site ID", "The workspace's Track API site id.", required=True),
        "api_key": Setting(
            "Track API key", "The workspace's Track API key.", required=True, secret=True
        ),
        "region": Setting("Account region", "US or EU.", default="US"),
        "endpoint": Setting(
            "Track API host",
            "Overrides the region's host (https://track.customer.io, https://track-eu.customer.io).",
            target=True,
        ),
        "convert_timestamp": Setting(
            "Convert timestamps",
            "Send ISO 8601 dates in attributes as Unix seconds.",
            "boolean",
            default=True,
        ),
    },
    actions={
        "create_update_person": Action(
            title="Create or Update Person",
            description="Create a person or update their attributes.",
            fields={
                "person_id": _PERSON_ID,
                "anonymous_id": _ANONYMOUS_ID,
                "email": optional_field("Email", "The person's email.", path("$.traits.email")),
                "created_at": optional_field(
                    "Created At",
                    "When the person signed up.",
                    first_of("$.traits.created_at", "$.traits.createdAt"),
                    "datetime",
                ),
                "attributes": optional_field(
                    "Person Attributes", "Attributes to set.", path("$.traits"), "object"
                ),
            },
            perform=identify_person,
            perform_batch=identify_people,
            max_batch=BATCH_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "track_event": Action(
            title="Track Event",
            description="Record an event on a person, or on an anonymous id.",
            fields={
                **_EVENT_FIELDS,
                "name": Field(
                    "Event Name", "The event's name.", "string", True, default=path("$.event")
                ),
            },
            perform=track_event,
            perform_batch=track_events,
            max_batch=BATCH_LIMIT,
        ),
        "track_page_view": Action(
            title="Track Page View",
            description="Record a page view on a person, or on an anonymous id.",
            fields={
                **_EVENT_FIELDS,
                "name": Field(
                    "Page URL",
                    "The page's URL.",
                    "string",
                    True,
                    default=first_of("$.context.page.url", "$.properties.url"),
                ),
            },
            perform=track_page_view,
            perform_batch=track_page_views,
            max_batch=BATCH_LIMIT,
            default_trigger='type = "page"',
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "create_update_person", 'type = "identify"'),
        Preset("Track Calls", "track_event", 'type = "track"'),
        Preset("Page Calls", "track_page_view", 'type = "page"'),
    ),
    rate_limit=100.0,  # Track API: about 100 requests per second per workspace
)

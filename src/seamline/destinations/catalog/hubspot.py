"""HubSpot: contacts upserted by email through the CRM v3 batch upsert endpoint, and custom
behavioral events through the Events v3 send endpoint, authenticated with a private app's
access token (Bearer).

Upsert: `POST /crm/v3/objects/contacts/batch/upsert` with `inputs: [{idProperty: "email", id,
properties}]` creates or updates each contact in one call, so single and batched deliveries use
the same request (Segment's HubSpot Cloud (Actions) reads, then creates or updates; the upsert
endpoint does both without the extra round trip). CRM batch endpoints take at most 100 inputs.

Deletion (a privacy regulation): `POST /crm/v3/objects/contacts/gdpr-delete` with
`{objectId: <email>, idProperty: "email"}` for each of the person's emails, as contacts are
matched by email here. HubSpot deletes the contact with its associations and engagements for
good; an email that matches no contact is blocklisted so HubSpot never stores it again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import reported_errors

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

API_HOST = "https://api.hubapi.com"
UPSERT_LIMIT = 100  # inputs per CRM batch request
_EVENT_NAME = re.compile(r"^pe\d+_")  # internal names look like pe<HubID>_<name>


def _url(ctx: Context, path: str) -> str:
    return str(ctx.settings.get("endpoint") or API_HOST).rstrip("/") + path


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.settings['access_token']}"}


def _if_exists(first: str, otherwise: str) -> dict[str, Any]:
    return {
        "@if": {"exists": {"@path": first}, "then": {"@path": first}, "else": {"@path": otherwise}}
    }


def _flatten(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """HubSpot property values are scalars: lists become `a;b` (multi-checkbox syntax), objects
    JSON text, and missing values are left out (as Segment's flattenObject does)."""
    flat: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if value is None:
            continue
        if isinstance(value, list):
            flat[key] = ";".join(
                json.dumps(item) if isinstance(item, dict | list) else str(item) for item in value
            )
        elif isinstance(value, dict):
            flat[key] = json.dumps(value)
        else:
            flat[key] = value
    return flat


# -- upsert contact ---------------------------------------------------------------------------

_CONTACT_PROPERTIES = (
    "company", "firstname", "lastname", "phone", "address", "city", "state", "country", "zip",
    "website", "lifecyclestage",
)  # fmt: skip


def _contact_input(payload: Mapping[str, Any], index: int | None = None) -> dict[str, Any]:
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        where = "" if index is None else f" (payload {index} of the batch)"
        raise InvalidPayload(f"HubSpot contacts are upserted by email; no valid email{where}")
    properties = {name: payload[name] for name in _CONTACT_PROPERTIES if payload.get(name)}
    if "lifecyclestage" in properties:
        properties["lifecyclestage"] = str(properties["lifecyclestage"]).lower()
    properties.update(_flatten(payload.get("properties")))
    # The email is the id; repeating it in properties could rewrite a contact's primary email
    # when the match was on a secondary one.
    properties.pop("email", None)
    return {"idProperty": "email", "id": email.strip().lower(), "properties": properties}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_contacts(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update each contact by email. Every payload is checked before anything is
    sent (InvalidPayload names the first bad one); payloads for the same email are merged in
    order, since a batch upsert refuses an id twice."""
    inputs: dict[str, dict[str, Any]] = {}
    for index, payload in enumerate(payloads):
        item = _contact_input(payload, index if len(payloads) > 1 else None)
        if item["id"] in inputs:
            inputs[item["id"]]["properties"].update(item["properties"])
        else:
            inputs[item["id"]] = item
    for chunk in _chunks(list(inputs.values()), UPSERT_LIMIT):
        response = ctx.http.post(
            _url(ctx, "/crm/v3/objects/contacts/batch/upsert"),
            json={"inputs": chunk},
            headers=_headers(ctx),
        )
        # 207 Multi-Status: the request was fine but some inputs were refused.
        errors = reported_errors(response)
        if errors:
            messages = "; ".join(str(error.get("message", error)) for error in errors)
            raise PermanentError(
                f"HubSpot refused {len(errors)} of {len(chunk)} contacts: {messages}",
                status=response.status_code,
                response=response.text[:2_000],
            )


def upsert_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one contact by email."""
    upsert_contacts(ctx, [payload])


# -- custom behavioral event ------------------------------------------------------------------


def send_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one occurrence of a custom behavioral event on the contact found by email, user
    token or object id."""
    name = payload.get("eventName")
    if not isinstance(name, str) or not _EVENT_NAME.match(name):
        raise InvalidPayload(f"eventName must be HubSpot's internal name pe<HubID>_…, got {name!r}")
    if not (payload.get("email") or payload.get("utk") or payload.get("objectId")):
        raise InvalidPayload("a HubSpot event needs one of email, utk or objectId")
    occurred_at = payload.get("occurredAt")
    if isinstance(occurred_at, dt.datetime):
        occurred_at = occurred_at.isoformat()
    event = {
        "eventName": name,
        "occurredAt": occurred_at,
        "email": payload.get("email"),
        "utk": payload.get("utk"),
        "objectId": payload.get("objectId"),
        "properties": _flatten(payload.get("properties")),
    }
    ctx.http.post(
        _url(ctx, "/events/v3/send"),
        json={key: value for key, value in event.items() if value is not None},
        headers=_headers(ctx),
    )


def test_authentication(ctx: Context) -> None:
    """HubSpot has no token check endpoint; reading one contact is the cheapest authorised call
    (what Segment's HubSpot destination does too)."""
    ctx.http.request(
        "GET", _url(ctx, "/crm/v3/objects/contacts"), params={"limit": 1}, headers=_headers(ctx)
    )


def delete_person(ctx: Context, person: Person) -> None:
    """GDPR-delete the contact of each of the person's emails (one request per email)."""
    for email in person.emails:
        ctx.http.post(
            _url(ctx, "/crm/v3/objects/contacts/gdpr-delete"),
            json={"objectId": email, "idProperty": "email"},
            headers=_headers(ctx),
        )


def _text(label: str, description: str, default: Any = None) -> Field:
    return Field(label, description, "string", default=default)


DESTINATION = Destination(
    slug="hubspot",
    name="HubSpot",
    description="Upsert contacts and send custom behavioral events to HubSpot.",
    settings={
        "access_token": Setting(
            "Access token",
            "The access token of a HubSpot private app with the crm.objects.contacts.read/write "
            "and analytics.behavioral_events.send scopes.",
            required=True,
            secret=True,
        ),
        "endpoint": Setting("API endpoint", "HubSpot's API host.", default=API_HOST, target=True),
    },
    actions={
        "upsert_contact": Action(
            title="Upsert Contact",
            description="Create or update a contact in HubSpot, matched by email.",
            fields={
                "email": Field(
                    "Email",
                    "The contact's email, which identifies it: an existing contact is updated, "
                    "otherwise one is created.",
                    "string",
                    required=True,
                    default={"@path": "$.traits.email"},
                ),
                "company": _text(
                    "Company Name", "The contact's company.", {"@path": "$.traits.company"}
                ),
                "firstname": _text(
                    "First Name",
                    "The contact's first name.",
                    _if_exists("$.traits.first_name", "$.traits.firstName"),
                ),
                "lastname": _text(
                    "Last Name",
                    "The contact's last name.",
                    _if_exists("$.traits.last_name", "$.traits.lastName"),
                ),
                "phone": _text("Phone", "The contact's phone number.", {"@path": "$.traits.phone"}),
                "address": _text(
                    "Street Address",
                    "The contact's street address.",
                    {"@path": "$.traits.address.street"},
                ),
                "city": _text("City", "The contact's city.", {"@path": "$.traits.address.city"}),
                "state": _text(
                    "State", "The contact's state.", {"@path": "$.traits.address.state"}
                ),
                "country": _text(
                    "Country", "The contact's country.", {"@path": "$.traits.address.country"}
                ),
                "zip": _text(
                    "Postal Code",
                    "The contact's postal code.",
                    _if_exists("$.traits.address.postalCode", "$.traits.address.postal_code"),
                ),
                "website": _text(
                    "Website", "The contact's website.", {"@path": "$.traits.website"}
                ),
                "lifecyclestage": _text(
                    "Lifecycle Stage", "The contact's lifecycle stage (internal name)."
                ),
                "properties": Field(
                    "Other properties",
                    "Other contact properties by internal name; custom ones must exist in HubSpot.",
                    "object",
                ),
            },
            perform=upsert_contact,
            perform_batch=upsert_contacts,
            max_batch=UPSERT_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "send_custom_behavioral_event": Action(
            title="Send Custom Behavioral Event",
            description="Send an occurrence of a custom behavioral event defined in HubSpot.",
            fields={
                "eventName": Field(
                    "Event Name",
                    "The event's internal name in HubSpot, pe<HubID>_<name>.",
                    "string",
                    required=True,
                ),
                "occurredAt": Field(
                    "Event Timestamp",
                    "When the event occurred; HubSpot uses the time received if unset.",
                    "datetime",
                    default={"@path": "$.timestamp"},
                ),
                "email": _text(
                    "Email Address",
                    "The contact's email; needed unless a user token or object id is given.",
                    _if_exists("$.properties.email", "$.context.traits.email"),
                ),
                "utk": _text("User Token", "The contact's HubSpot user token (utk)."),
                "objectId": _text("Object ID", "The id of the HubSpot record the event is about."),
                "properties": Field(
                    "Event Properties", "Event properties by internal name.", "object"
                ),
            },
            perform=send_event,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(Preset("Identify Calls", "upsert_contact", 'type = "identify"'),),
    # Private apps: 100 requests per 10 s on Free/Starter (190 on Professional/Enterprise).
    rate_limit=10.0,
)

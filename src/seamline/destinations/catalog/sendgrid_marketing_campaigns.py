"""SendGrid Marketing Campaigns: contacts and list membership through the Marketing Campaigns
API (`https://api.sendgrid.com/v3/marketing/…`, EU-pinned subusers `https://api.eu.sendgrid.com`),
authenticated by an API key (Bearer) with the Marketing scopes.

- Upsert Contact: `PUT /v3/marketing/contacts` with `contacts: […]` and optional `list_ids`
  creates or updates each contact by email (or external id, anonymous id, phone number id) and
  adds it to the lists; SendGrid answers 202 with a job id and applies it within minutes. One
  request takes 30,000 contacts and 6 MB; batches are sent 1,000 per request here. Custom fields
  go by id (`e1_T`): names are translated with `GET /v3/marketing/field_definitions` (read once
  per instance), and a name SendGrid does not define is refused before sending.
- Add to List (Engage's `Audience Entered`) is the upsert with the list; Remove from List
  (`Audience Exited`) looks the contacts up by email (`POST /v3/marketing/contacts/search/emails`,
  100 per request) and removes them with `DELETE /v3/marketing/lists/{id}/contacts?contact_ids=…`.

Answers: 400 (`errors: [{field, message}]`), 401 (bad key), 403 (a key without the marketing
scopes), 404 (unknown list), 413 (too large): permanent; 429 and 5xx are retried.

Deletion (a privacy regulation): the person's emails are looked up, then the contacts found are
deleted with `DELETE /v3/marketing/contacts?ids=…` (100 ids per request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import (
    batch_place,
    chunks,
    first_of,
    optional_field,
    path,
    present,
    regional_url,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

REGIONS = {"US": "https://api.sendgrid.com", "EU": "https://api.eu.sendgrid.com"}
UPSERT_LIMIT = 1_000  # contacts per upsert request (SendGrid takes 30,000 and 6 MB)
UPSERT_BYTES = 6_000_000 - 10_000
SEARCH_LIMIT = 100  # emails per search, ids per delete
ENTERED, EXITED = "Audience Entered", "Audience Exited"
_IDS = ("email", "external_id", "anonymous_id", "phone_number_id")
_RESERVED = (
    "first_name", "last_name", "alternate_emails", "address_line_1", "address_line_2", "city",
    "state_province_region", "postal_code", "country", "phone_number",
)  # fmt: skip
_LIST_ID = re.compile(r"[0-9a-fA-F-]{36}")
_FIELD_ID = re.compile(r"[ewn][0-9]+_[TND]")


def _url(ctx: Context, where: str) -> str:
    return regional_url(ctx, REGIONS, "SendGrid", where)


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.settings['api_key']}"}


def _list_id(value: Any, where: str) -> str:
    text = str(value or "")
    if not _LIST_ID.fullmatch(text):
        raise InvalidPayload(f"a SendGrid list id is a UUID, got {value!r}{where}")
    return text


def _field_ids(ctx: Context) -> dict[str, str]:
    """Custom field names to ids, read once per instance."""
    if "field_ids" not in ctx.state:
        response = ctx.http.request(
            "GET", _url(ctx, "/v3/marketing/field_definitions"), headers=_headers(ctx)
        )
        fields = response.json().get("custom_fields") or []
        ctx.state["field_ids"] = {str(f["name"]): str(f["id"]) for f in fields if "name" in f}
    ids: dict[str, str] = ctx.state["field_ids"]
    return ids


def _contact(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    ids = present({key: payload.get(key) for key in _IDS})
    if not ids:
        raise InvalidPayload(f"a SendGrid contact needs one of {', '.join(_IDS)}{where}")
    contact = {k: str(v) for k, v in ids.items()} | present({k: payload.get(k) for k in _RESERVED})
    custom = present(dict(payload.get("custom_fields") or {}))
    if custom:
        known = _field_ids(ctx)
        unknown = sorted(k for k in custom if k not in known and not _FIELD_ID.fullmatch(k))
        if unknown:
            raise InvalidPayload(
                f"SendGrid has no custom fields {', '.join(unknown)}{where}; create them first"
            )
        contact["custom_fields"] = {known.get(k, k): v for k, v in custom.items()}
    return contact


def _upsert(ctx: Context, contacts: list[dict[str, Any]], list_id: str | None) -> None:
    for chunk in chunks(contacts, UPSERT_LIMIT, UPSERT_BYTES):
        body: dict[str, Any] = {"contacts": chunk}
        if list_id:
            body["list_ids"] = [list_id]
        ctx.http.request(
            "PUT", _url(ctx, "/v3/marketing/contacts"), json=body, headers=_headers(ctx)
        )


def upsert_contacts(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update contacts (adding them to their list when one is given)."""
    by_list: dict[str, list[dict[str, Any]]] = {}
    for index, payload in enumerate(payloads):
        where = batch_place(index, len(payloads))
        list_id = _list_id(payload["list_id"], where) if payload.get("list_id") else ""
        by_list.setdefault(list_id, []).append(_contact(ctx, payload, where))
    for list_id, contacts in by_list.items():
        _upsert(ctx, contacts, list_id or None)


def upsert_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one contact."""
    upsert_contacts(ctx, [payload])


def add_to_lists(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Upsert the contacts into their lists; every payload must name a list."""
    for index, payload in enumerate(payloads):
        _list_id(payload.get("list_id"), batch_place(index, len(payloads)))
    upsert_contacts(ctx, payloads)


def add_to_list(ctx: Context, payload: dict[str, Any]) -> None:
    """Upsert one contact into a list."""
    add_to_lists(ctx, [payload])


def _contact_ids(ctx: Context, emails: Iterable[str]) -> list[str]:
    """The ids of the contacts with these emails; unknown emails have none."""
    found: list[str] = []
    for chunk in chunks(sorted(set(emails)), SEARCH_LIMIT):
        try:
            response = ctx.http.post(
                _url(ctx, "/v3/marketing/contacts/search/emails"),
                json={"emails": chunk},
                headers=_headers(ctx),
            )
        except PermanentError as error:
            if error.status == 404:  # none of them is a contact
                continue
            raise
        result = response.json().get("result") or {}
        found += [
            str(item["contact"]["id"])
            for item in result.values()
            if isinstance(item, dict) and isinstance(item.get("contact"), dict)
        ]
    return found


def remove_from_lists(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Remove contacts from their lists, found by email; unknown emails are skipped."""
    by_list: dict[str, set[str]] = {}
    for index, payload in enumerate(payloads):
        where = batch_place(index, len(payloads))
        if not payload.get("email"):
            raise InvalidPayload(f"removing from a SendGrid list needs the contact's email{where}")
        by_list.setdefault(_list_id(payload.get("list_id"), where), set()).add(
            str(payload["email"])
        )
    for list_id, emails in by_list.items():
        for chunk in chunks(_contact_ids(ctx, emails), SEARCH_LIMIT):
            ctx.http.request(
                "DELETE",
                _url(ctx, f"/v3/marketing/lists/{list_id}/contacts"),
                params={"contact_ids": ",".join(chunk)},
                headers=_headers(ctx),
            )


def remove_from_list(ctx: Context, payload: dict[str, Any]) -> None:
    """Remove one contact from a list."""
    remove_from_lists(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """`GET /v3/scopes` lists a valid key's scopes."""
    ctx.http.request("GET", _url(ctx, "/v3/scopes"), headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the contacts of the person's emails."""
    for chunk in chunks(_contact_ids(ctx, person.emails), SEARCH_LIMIT):
        ctx.http.request(
            "DELETE",
            _url(ctx, "/v3/marketing/contacts"),
            params={"ids": ",".join(chunk)},
            headers=_headers(ctx),
        )


_EMAIL = optional_field(
    "Email",
    "The contact's email.",
    first_of("$.traits.email", "$.context.traits.email", "$.properties.email"),
)
_CONTACT_FIELDS = {
    "email": _EMAIL,
    "external_id": optional_field("External ID", "Your id for the contact.", path("$.userId")),
    "anonymous_id": optional_field(
        "Anonymous ID", "An anonymous id for the contact.", path("$.anonymousId")
    ),
    "phone_number_id": optional_field(
        "Phone Number ID", "A phone number that identifies the contact (E.164)."
    ),
    "first_name": optional_field("First Name", "The first name.", path("$.traits.firstName")),
    "last_name": optional_field("Last Name", "The last name.", path("$.traits.lastName")),
    "phone_number": optional_field("Phone Number", "The phone number.", path("$.traits.phone")),
    "address_line_1": optional_field(
        "Address Line 1", "Street address.", path("$.traits.address.street")
    ),
    "address_line_2": optional_field("Address Line 2", "More of the address."),
    "city": optional_field("City", "The city.", path("$.traits.address.city")),
    "state_province_region": optional_field(
        "State", "State, province or region.", path("$.traits.address.state")
    ),
    "postal_code": optional_field(
        "Postal Code", "The postal code.", path("$.traits.address.postal_code")
    ),
    "country": optional_field("Country", "The country.", path("$.traits.address.country")),
    "custom_fields": optional_field(
        "Custom Fields", "By name or id; they must exist in SendGrid.", type_="object"
    ),
}
_LIST = Field("List ID", "The SendGrid list's id (a UUID).", "string", required=True)
_ENTERED = f'type = "track" and event = "{ENTERED}"'
_EXITED = f'type = "track" and event = "{EXITED}"'

DESTINATION = Destination(
    slug="sendgrid-marketing-campaigns",
    name="SendGrid Marketing Campaigns",
    description="Upsert contacts and manage list membership in SendGrid Marketing Campaigns.",
    settings={
        "api_key": Setting(
            "API key", "A SendGrid API key with the Marketing scopes.", required=True, secret=True
        ),
        "region": Setting("Region", "US, or EU for EU-pinned subusers.", default="US"),
        "endpoint": Setting("API host", "Overrides the region's host.", target=True),
    },
    actions={
        "upsert_contact": Action(
            title="Upsert Contact",
            description="Create or update a contact (and add it to a list when one is given).",
            fields={
                **_CONTACT_FIELDS,
                "list_id": optional_field("List ID", "Also add the contact to this list."),
            },
            perform=upsert_contact,
            perform_batch=upsert_contacts,
            max_batch=UPSERT_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "add_to_list": Action(
            title="Add Contact to List",
            description="Add a contact to a list, creating it if needed.",
            fields={**_CONTACT_FIELDS, "list_id": _LIST},
            perform=add_to_list,
            perform_batch=add_to_lists,
            max_batch=UPSERT_LIMIT,
            default_trigger=_ENTERED,
            ordered=True,
        ),
        "remove_from_list": Action(
            title="Remove Contact from List",
            description="Remove a contact from a list (the contact stays).",
            fields={"email": _EMAIL, "list_id": _LIST},
            perform=remove_from_list,
            perform_batch=remove_from_lists,
            max_batch=SEARCH_LIMIT,
            default_trigger=_EXITED,
            ordered=True,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "upsert_contact", 'type = "identify"'),
        Preset("Audience Entered", "add_to_list", _ENTERED),
        Preset("Audience Exited", "remove_from_list", _EXITED),
    ),
)

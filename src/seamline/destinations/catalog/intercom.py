"""Intercom: contacts, data events and companies through Intercom's REST API
(`https://api.intercom.io`, EU workspaces api.eu.intercom.io, Australian api.au.intercom.io),
authenticated by an access token (Bearer) and pinned to one API version by the
`Intercom-Version` header.

- Identify Contact: the contact is looked up by external id or email
  (`POST /contacts/search`), then updated (`PUT /contacts/{id}`) or created (`POST /contacts`).
  Intercom answers 409 when a contact with that external id or email appeared meanwhile: that
  is retried, and the retry finds and updates it.
- Track Event: `POST /events` (202) with `event_name`, `created_at` in Unix seconds, the person
  by `user_id` (external id) or `email`, and at most 20 metadata values (scalars only; the first
  20 are kept).
- Group Contact: the company is created or updated by `company_id` (`POST /companies`), then
  attached to the contact (`POST /contacts/{id}/companies`).

Custom attributes must exist in Intercom first (Settings → Data → People): an unknown one is a
400. Answers: 400 (invalid, unknown attribute), 401 (bad token), 403 (token without the
permission), 404 (no such contact or company), 422 (an event Intercom refused): permanent. 429
past 10,000 requests per minute per app (spread over 10-second windows), 409 and 5xx: retried.

Deletion (a privacy regulation): each contact found by the person's user ids (as external ids)
and emails is deleted with `DELETE /contacts/{id}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.shaping import (
    epoch_seconds,
    first_of,
    optional_field,
    path,
    present,
    regional_url,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

REGIONS = {
    "US": "https://api.intercom.io",
    "EU": "https://api.eu.intercom.io",
    "AU": "https://api.au.intercom.io",
}
API_VERSION = "2.11"
METADATA_LIMIT = 20  # metadata values per data event
_CONTACT_KEYS = ("role", "external_id", "email", "phone", "name", "avatar", "owner_id")
_COMPANY_KEYS = ("company_id", "name", "plan", "size", "website", "industry", "monthly_spend")
# Traits that are standard contact fields are not repeated as custom attributes.
_STANDARD_TRAITS = frozenset(
    {"email", "name", "phone", "avatar", "createdAt", "created_at", "firstName", "lastName",
     "first_name", "last_name", "id", "userId", "address", "company"}
)  # fmt: skip


def _url(ctx: Context, where: str) -> str:
    return regional_url(ctx, REGIONS, "Intercom", where)


def _headers(ctx: Context) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {ctx.settings['access_token']}",
        "Intercom-Version": API_VERSION,
        "Accept": "application/json",
    }


def _scalars(
    values: Mapping[str, Any] | None, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Intercom's attributes and metadata hold strings, numbers and booleans only."""
    return {
        key: value
        for key, value in (values or {}).items()
        if key not in skip and isinstance(value, str | int | float | bool)
    }


def _find_contact(ctx: Context, external_id: Any, email: Any) -> str | None:
    """The id of the contact with this external id (preferred) or email, if there is one."""
    clauses = [
        {"field": field, "operator": "=", "value": str(value)}
        for field, value in (("external_id", external_id), ("email", email))
        if value
    ]
    if not clauses:
        return None
    query = clauses[0] if len(clauses) == 1 else {"operator": "OR", "value": clauses}
    response = ctx.http.post(
        _url(ctx, "/contacts/search"), json={"query": query}, headers=_headers(ctx)
    )
    found = [c for c in response.json().get("data") or [] if isinstance(c, dict)]
    by_id = [c for c in found if external_id and c.get("external_id") == str(external_id)]
    matches = by_id or found
    return str(matches[0]["id"]) if matches else None


def identify_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Update the contact with this external id or email, or create one."""
    if not payload.get("external_id") and not payload.get("email"):
        raise InvalidPayload("an Intercom contact needs an external_id or an email")
    contact = present({key: payload.get(key) for key in _CONTACT_KEYS})
    for key in ("signed_up_at", "last_seen_at"):
        if payload.get(key) is not None:
            contact[key] = epoch_seconds(payload[key], key)
    if payload.get("unsubscribed_from_emails") is not None:
        contact["unsubscribed_from_emails"] = bool(payload["unsubscribed_from_emails"])
    custom = _scalars(payload.get("custom_attributes"), _STANDARD_TRAITS)
    if custom:
        contact["custom_attributes"] = custom
    contact_id = _find_contact(ctx, payload.get("external_id"), payload.get("email"))
    if contact_id is None:
        contact.setdefault("role", "user")
        ctx.http.post(_url(ctx, "/contacts"), json=contact, headers=_headers(ctx))
    else:
        contact.pop("role", None)  # a lead is turned into a user by converting, not by update
        ctx.http.request(
            "PUT", _url(ctx, f"/contacts/{contact_id}"), json=contact, headers=_headers(ctx)
        )


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one data event on the contact named by external id or email."""
    if not payload.get("event_name"):
        raise InvalidPayload("an Intercom event needs an event_name")
    if not payload.get("user_id") and not payload.get("email"):
        raise InvalidPayload("an Intercom event needs a user_id or an email")
    event = present(
        {
            "event_name": payload["event_name"],
            "created_at": epoch_seconds(payload.get("created_at"), "created_at"),
            "user_id": payload.get("user_id"),
            "email": payload.get("email"),
        }
    )
    revenue = payload.get("revenue") is not None
    kept = METADATA_LIMIT - revenue  # the price counts as one of the 20
    metadata: dict[str, Any] = dict(list(_scalars(payload.get("metadata")).items())[:kept])
    if revenue:
        # Intercom's monetary metadata: an amount in cents and a currency.
        metadata["price"] = {
            "amount": round(float(payload["revenue"]) * 100),
            "currency": str(payload.get("currency") or "USD").lower(),
        }
    if metadata:
        event["metadata"] = metadata
    ctx.http.post(_url(ctx, "/events"), json=event, headers=_headers(ctx))


def group_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update the company, then attach the contact to it."""
    if not payload.get("company_id"):
        raise InvalidPayload("an Intercom company needs a company_id")
    if not payload.get("external_id") and not payload.get("email"):
        raise InvalidPayload("attaching to a company needs the contact's external_id or email")
    company = present({key: payload.get(key) for key in _COMPANY_KEYS})
    company["company_id"] = str(company["company_id"])
    if payload.get("remote_created_at") is not None:
        company["remote_created_at"] = epoch_seconds(
            payload["remote_created_at"], "remote_created_at"
        )
    custom = _scalars(
        payload.get("custom_attributes"), frozenset(_COMPANY_KEYS) | {"employees", "createdAt"}
    )
    if custom:
        company["custom_attributes"] = custom
    response = ctx.http.post(_url(ctx, "/companies"), json=company, headers=_headers(ctx))
    company_id = response.json().get("id")
    if not company_id:
        raise PermanentError("Intercom answered the company upsert without its id")
    contact_id = _find_contact(ctx, payload.get("external_id"), payload.get("email"))
    if contact_id is None:
        # The contact's identify may not have been delivered yet: try again later.
        raise RetryableError("the contact to attach to the company is not in Intercom yet")
    ctx.http.post(
        _url(ctx, f"/contacts/{contact_id}/companies"),
        json={"id": str(company_id)},
        headers=_headers(ctx),
    )


def test_authentication(ctx: Context) -> None:
    """`GET /me` names the admin and workspace of a valid token."""
    ctx.http.request("GET", _url(ctx, "/me"), headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete every contact found by the person's user ids and emails."""
    found: set[str] = set()
    for user_id in person.user_ids:
        found.add(_find_contact(ctx, user_id, None) or "")
    for email in person.emails:
        found.add(_find_contact(ctx, None, email) or "")
    for contact_id in sorted(found - {""}):
        try:
            ctx.http.request("DELETE", _url(ctx, f"/contacts/{contact_id}"), headers=_headers(ctx))
        except PermanentError as error:
            if error.status != 404:  # deleted meanwhile
                raise


_EXTERNAL_ID = optional_field("External ID", "Your id for the person.", path("$.userId"))
_EMAIL = optional_field(
    "Email", "The person's email.", first_of("$.traits.email", "$.context.traits.email")
)

DESTINATION = Destination(
    slug="intercom",
    name="Intercom",
    description="Create and update contacts, record data events and companies in Intercom.",
    settings={
        "access_token": Setting(
            "Access token",
            "The access token of an Intercom app (Developer Hub → your app → Authentication).",
            required=True,
            secret=True,
        ),
        "region": Setting("Workspace region", "US, EU or AU.", default="US"),
        "endpoint": Setting("API host", "Overrides the region's host.", target=True),
    },
    actions={
        "identify_contact": Action(
            title="Identify Contact",
            description="Update the contact with this external id or email, or create one.",
            fields={
                "external_id": _EXTERNAL_ID,
                "email": optional_field("Email", "The person's email.", path("$.traits.email")),
                "role": Field(
                    "Role", "user or lead (new contacts only).", "string", choices=("user", "lead")
                ),
                "name": optional_field("Name", "The full name.", path("$.traits.name")),
                "phone": optional_field("Phone", "The phone number.", path("$.traits.phone")),
                "avatar": optional_field("Avatar", "An image URL.", path("$.traits.avatar")),
                "signed_up_at": optional_field(
                    "Signed Up At",
                    "When they signed up.",
                    first_of("$.traits.createdAt", "$.traits.created_at"),
                    "datetime",
                ),
                "last_seen_at": optional_field(
                    "Last Seen At", "When they were last seen.", type_="datetime"
                ),
                "owner_id": optional_field(
                    "Owner ID", "The id of the admin who owns the contact.", type_="integer"
                ),
                "unsubscribed_from_emails": optional_field(
                    "Unsubscribed From Emails", "Whether they unsubscribed.", type_="boolean"
                ),
                "custom_attributes": optional_field(
                    "Custom Attributes",
                    "Other traits; they must exist in Intercom, and only scalar values are sent.",
                    path("$.traits"),
                    "object",
                ),
            },
            perform=identify_contact,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "track_event": Action(
            title="Track Event",
            description="Record a data event on a contact.",
            fields={
                "event_name": Field(
                    "Event Name", "The event's name.", "string", True, default=path("$.event")
                ),
                "created_at": Field(
                    "Created At", "When it happened.", "datetime", True, default=path("$.timestamp")
                ),
                "user_id": _EXTERNAL_ID,
                "email": _EMAIL,
                "metadata": optional_field(
                    "Metadata", "Up to 20 scalar properties.", path("$.properties"), "object"
                ),
                "revenue": optional_field(
                    "Revenue",
                    "An amount, sent as price metadata.",
                    path("$.properties.revenue"),
                    "number",
                ),
                "currency": optional_field(
                    "Currency", "ISO 4217 code; USD when unset.", path("$.properties.currency")
                ),
            },
            perform=track_event,
        ),
        "group_contact": Action(
            title="Group Contact",
            description="Create or update a company and attach the contact to it.",
            fields={
                "company_id": Field(
                    "Company ID",
                    "Your id for the company.",
                    "string",
                    True,
                    default=path("$.groupId"),
                ),
                "name": optional_field("Name", "The company's name.", path("$.traits.name")),
                "plan": optional_field("Plan", "The company's plan.", path("$.traits.plan")),
                "size": optional_field(
                    "Size", "Number of employees.", path("$.traits.employees"), "integer"
                ),
                "website": optional_field(
                    "Website", "The company's website.", path("$.traits.website")
                ),
                "industry": optional_field(
                    "Industry", "The company's industry.", path("$.traits.industry")
                ),
                "monthly_spend": optional_field(
                    "Monthly Spend",
                    "What they pay per month.",
                    path("$.traits.monthly_spend"),
                    "number",
                ),
                "remote_created_at": optional_field(
                    "Created At",
                    "When the company was created.",
                    path("$.traits.createdAt"),
                    "datetime",
                ),
                "custom_attributes": optional_field(
                    "Custom Attributes", "Other traits (scalars).", path("$.traits"), "object"
                ),
                "external_id": _EXTERNAL_ID,
                "email": _EMAIL,
            },
            perform=group_contact,
            default_trigger='type = "group"',
            ordered=True,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "identify_contact", 'type = "identify"'),
        Preset("Track Calls", "track_event", 'type = "track"'),
        Preset("Group Calls", "group_contact", 'type = "group"'),
    ),
    rate_limit=150.0,  # 10,000 requests per minute per app
)

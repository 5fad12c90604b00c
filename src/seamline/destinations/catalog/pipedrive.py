"""Pipedrive: people, organizations and deals kept from identify, group and track calls,
through Pipedrive's API (`https://{company}.pipedrive.com/api/v1`).

Authentication is the API token, sent in the `x-api-token` header rather than the
`api_token` query parameter Pipedrive also takes, so it never sits in a URL (logs, proxies).
A person is matched by email (`GET /persons/search` with `fields=email&exact_match=true`),
then updated (`PUT /persons/{id}`) or created (`POST /persons`); an organization likewise by
name. Pipedrive answers `{"success": true, "data": …}`; 401 for a bad token, 403 for a
missing permission, 400 or 404 for a body or id it refuses (permanent), 429 past its rate
limit (retried, honouring Retry-After) and 5xx (retried).

Deletion: each person found by the person's emails is deleted (`DELETE /persons/{id}`, which
Pipedrive keeps restorable for 30 days before erasing it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import first_of, path, present, tenant_url

if TYPE_CHECKING:
    from seamline.privacy.subject import Person


def _base(ctx: Context) -> str:
    return tenant_url(
        ctx,
        "company_domain",
        "https://{}.pipedrive.com/api/v1",
        "company_domain must be your Pipedrive company domain (yourcompany in "
        "yourcompany.pipedrive.com)",
    )


def _headers(ctx: Context) -> dict[str, str]:
    token = ctx.settings.get("api_token")
    if not token:
        raise PermanentError("set api_token to reach Pipedrive")
    return {"x-api-token": str(token)}


def _find(ctx: Context, kind: str, field: str, term: str) -> int | None:
    """The id of the first `kind` (persons, organizations) whose `field` is exactly `term`."""
    answer = ctx.http.request(
        "GET",
        f"{_base(ctx)}/{kind}/search",
        params={"term": term, "fields": field, "exact_match": "true", "limit": "1"},
        headers=_headers(ctx),
    )
    items = ((answer.json().get("data") or {}).get("items")) or []
    for entry in items:
        item = entry.get("item") if isinstance(entry, dict) else None
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            return int(item["id"])
    return None


def _save(ctx: Context, kind: str, found: int | None, body: dict[str, Any]) -> int | None:
    """Update `kind` `found`, or create it; the id Pipedrive gives back."""
    url = f"{_base(ctx)}/{kind}" + (f"/{found}" if found is not None else "")
    answer = ctx.http.request(
        "PUT" if found is not None else "POST", url, json=body, headers=_headers(ctx)
    )
    data = answer.json().get("data")
    return int(data["id"]) if isinstance(data, dict) and isinstance(data.get("id"), int) else found


def upsert_person(ctx: Context, payload: dict[str, Any]) -> None:
    """Update the person with this email, or create one."""
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise InvalidPayload("a Pipedrive person is matched by email, and this one has none")
    organization = None
    if payload.get("organization_name"):
        organization = _upsert_named(ctx, "organizations", str(payload["organization_name"]), {})
    body = present(
        {
            "name": payload.get("name") or email,
            "email": [{"value": email, "primary": True, "label": "work"}],
            "phone": [{"value": payload["phone"], "primary": True}]
            if payload.get("phone")
            else None,
            "org_id": organization,
            **(payload.get("custom_fields") or {}),
        }
    )
    _save(ctx, "persons", _find(ctx, "persons", "email", email), body)


def _upsert_named(ctx: Context, kind: str, name: str, extra: dict[str, Any]) -> int | None:
    return _save(ctx, kind, _find(ctx, kind, "name", name), present({"name": name, **extra}))


def upsert_organization(ctx: Context, payload: dict[str, Any]) -> None:
    """Update the organization with this name, or create one."""
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidPayload("a Pipedrive organization needs a name")
    _upsert_named(ctx, "organizations", name.strip(), dict(payload.get("custom_fields") or {}))


def create_deal(ctx: Context, payload: dict[str, Any]) -> None:
    """Create a deal, tied to the person with this email when there is one."""
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidPayload("a Pipedrive deal needs a title")
    email = payload.get("person_email")
    person = _find(ctx, "persons", "email", email) if isinstance(email, str) and email else None
    body = present(
        {
            "title": title,
            "value": payload.get("value"),
            "currency": payload.get("currency"),
            "person_id": person,
            "stage_id": payload.get("stage_id"),
            "status": payload.get("status"),
        }
    )
    ctx.http.request("POST", f"{_base(ctx)}/deals", json=body, headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete every Pipedrive person with one of the person's emails."""
    for email in person.emails:
        found = _find(ctx, "persons", "email", email)
        if found is not None:
            ctx.http.request("DELETE", f"{_base(ctx)}/persons/{found}", headers=_headers(ctx))


def check_token(ctx: Context) -> None:
    """Read the token's user (`GET /users/me`), which changes nothing."""
    ctx.http.request("GET", f"{_base(ctx)}/users/me", headers=_headers(ctx))


_CUSTOM = Field(
    "Custom fields",
    "Pipedrive custom fields by their API key (the 40-character hash Pipedrive shows).",
    "object",
)

DESTINATION = Destination(
    slug="pipedrive",
    name="Pipedrive",
    description="Keep Pipedrive people and organizations current, and create deals from events.",
    settings={
        "company_domain": Setting("Company domain", "yourcompany, for yourcompany.pipedrive.com."),
        "api_token": Setting(
            "API token",
            "Your personal API token (Settings → Personal preferences → API).",
            required=True,
            secret=True,
        ),
        "endpoint": Setting(
            "API endpoint", "Overrides https://{company}.pipedrive.com/api/v1.", target=True
        ),
    },
    actions={
        "upsert_person": Action(
            title="Create or Update Person",
            description="Update the person with this email, or create one.",
            fields={
                "email": Field(
                    "Email",
                    "Matches the person.",
                    "string",
                    required=True,
                    default=first_of(
                        "$.traits.email", "$.context.traits.email", "$.properties.email"
                    ),
                ),
                "name": Field(
                    "Name", "The person's name.", "string", default=path("$.traits.name")
                ),
                "phone": Field(
                    "Phone", "The person's phone.", "string", default=path("$.traits.phone")
                ),
                "organization_name": Field(
                    "Organization",
                    "Ties the person to the organization with this name.",
                    "string",
                    default=path("$.traits.company.name"),
                ),
                "custom_fields": _CUSTOM,
            },
            perform=upsert_person,
            default_trigger='type = "identify"',
        ),
        "upsert_organization": Action(
            title="Create or Update Organization",
            description="Update the organization with this name, or create one.",
            fields={
                "name": Field(
                    "Name",
                    "Matches the organization.",
                    "string",
                    required=True,
                    default=path("$.traits.name"),
                ),
                "custom_fields": _CUSTOM,
            },
            perform=upsert_organization,
            default_trigger='type = "group"',
        ),
        "create_deal": Action(
            title="Create Deal",
            description="Create a deal, tied to the person with this email.",
            fields={
                "title": Field(
                    "Title",
                    "The deal's title.",
                    "string",
                    required=True,
                    default=path("$.properties.title"),
                ),
                "value": Field(
                    "Value",
                    "Its value.",
                    "number",
                    default=first_of("$.properties.value", "$.properties.revenue"),
                ),
                "currency": Field(
                    "Currency",
                    "ISO 4217, like EUR.",
                    "string",
                    default=path("$.properties.currency"),
                ),
                "person_email": Field(
                    "Person's email",
                    "Ties the deal to this person.",
                    "string",
                    default=first_of("$.context.traits.email", "$.properties.email"),
                ),
                "stage_id": Field("Stage id", "The pipeline stage to put it in.", "integer"),
                "status": Field(
                    "Status", "open, won or lost.", "string", choices=("open", "won", "lost")
                ),
            },
            perform=create_deal,
            default_trigger='type = "track" and event = "Deal Created"',
        ),
    },
    test_authentication=check_token,
    delete=delete_person,
    presets=(
        Preset("Identify people", "upsert_person", 'type = "identify"'),
        Preset("Group organizations", "upsert_organization", 'type = "group"'),
    ),
    # Pipedrive limits requests per token in 2-second windows, by plan; an upsert makes two or
    # three, and a 429's Retry-After paces anything faster.
    rate_limit=8.0,
)

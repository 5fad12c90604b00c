"""Zendesk Support: users and organizations kept current from identify and group calls, through
the Support API (`https://{subdomain}.zendesk.com/api/v2`).

Authentication is an API token (`{email}/token` as the Basic user, the token as password) or an
OAuth access token (Bearer). Users are upserted with `POST /users/create_or_update`, matched by
`external_id` first, then `email` (Zendesk's rule); a new user needs a name, so the mapping
falls back to the email. Organizations are upserted with `POST /organizations/create_or_update`
by `external_id`, and a user is placed in one by the organization's external id. Zendesk
answers 200 (updated) or 201 (created); 401/403 for bad credentials, 404 for an unknown
subdomain, 422 `RecordInvalid` for a value it refuses (all permanent), 429 with Retry-After
past the plan's rate limit (retried), 5xx (retried).

Deletion: each user found by the person's user ids (as `external_id`) and emails is deleted
(`DELETE /users/{id}`) and then permanently deleted (`DELETE /deleted_users/{id}`), as
Zendesk's GDPR guidance says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import basic_auth, first_of, path, present, tenant_url

if TYPE_CHECKING:
    from seamline.privacy.subject import Person


def _base(ctx: Context) -> str:
    return tenant_url(
        ctx,
        "subdomain",
        "https://{}.zendesk.com/api/v2",
        "subdomain must be your Zendesk subdomain (yourcompany in yourcompany.zendesk.com)",
    )


def _auth(ctx: Context) -> dict[str, str]:
    token = ctx.settings.get("oauth_token")
    if token:
        return {"Authorization": f"Bearer {token}"}
    email, api_token = ctx.settings.get("email"), ctx.settings.get("api_token")
    if not email or not api_token:
        raise PermanentError("set email and api_token (or oauth_token) to reach Zendesk")
    return {"Authorization": basic_auth(f"{email}/token", str(api_token))}


def upsert_user(ctx: Context, payload: dict[str, Any]) -> None:
    """Create the user, or update the one with this external id (else this email)."""
    if not payload.get("external_id") and not payload.get("email"):
        raise InvalidPayload("a Zendesk user needs an external id or an email")
    user = present(
        {
            "external_id": payload.get("external_id"),
            "email": payload.get("email"),
            "name": payload.get("name") or payload.get("email") or payload.get("external_id"),
            "phone": payload.get("phone"),
            "role": payload.get("role"),
            "time_zone": payload.get("time_zone"),
            "locale": payload.get("locale"),
            "user_fields": payload.get("user_fields"),
            "organization": present({"external_id": payload.get("organization_external_id")}),
        }
    )
    url = f"{_base(ctx)}/users/create_or_update"
    ctx.http.post(url, json={"user": user}, headers=_auth(ctx))


def upsert_organization(ctx: Context, payload: dict[str, Any]) -> None:
    """Create the organization, or update the one with this external id."""
    if not payload.get("external_id") or not payload.get("name"):
        raise InvalidPayload("a Zendesk organization needs an external id and a name")
    organization = present(
        {
            "external_id": str(payload["external_id"]),
            "name": payload["name"],
            "domain_names": payload.get("domain_names"),
            "organization_fields": payload.get("organization_fields"),
        }
    )
    url = f"{_base(ctx)}/organizations/create_or_update"
    ctx.http.post(url, json={"organization": organization}, headers=_auth(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete, then permanently delete, every Zendesk user with one of the person's ids."""
    base, headers = _base(ctx), _auth(ctx)
    found: set[int] = set()
    for kind, values in (("external_id", person.user_ids), ("email", person.emails)):
        for value in values:
            query = {"external_id": value} if kind == "external_id" else {"query": f"email:{value}"}
            answer = ctx.http.request("GET", f"{base}/users/search", params=query, headers=headers)
            users = answer.json().get("users") or []
            found |= {int(u["id"]) for u in users if isinstance(u, dict) and "id" in u}
    for user_id in sorted(found):
        ctx.http.request("DELETE", f"{base}/users/{user_id}", headers=headers)
        ctx.http.request("DELETE", f"{base}/deleted_users/{user_id}", headers=headers)


def check_credentials(ctx: Context) -> None:
    """Read the authenticated user (`GET /users/me`), which changes nothing."""
    ctx.http.request("GET", f"{_base(ctx)}/users/me", headers=_auth(ctx))


DESTINATION = Destination(
    slug="zendesk",
    name="Zendesk",
    description="Keep Zendesk Support users and organizations current from identify and group "
    "calls.",
    settings={
        "subdomain": Setting("Subdomain", "yourcompany, for yourcompany.zendesk.com."),
        "email": Setting("Agent email", "The email of the agent the API token belongs to."),
        "api_token": Setting("API token", "A Zendesk API token.", secret=True),
        "oauth_token": Setting(
            "OAuth access token", "Instead of an API token: an OAuth access token.", secret=True
        ),
        "endpoint": Setting(
            "API endpoint", "Overrides https://{subdomain}.zendesk.com/api/v2.", target=True
        ),
    },
    actions={
        "upsert_user": Action(
            title="Create or Update User",
            description="Create the user, or update the one with this external id or email.",
            fields={
                "external_id": Field(
                    "External id", "The user's id.", "string", default=path("$.userId")
                ),
                "email": Field(
                    "Email",
                    "The user's email.",
                    "string",
                    default=first_of("$.traits.email", "$.context.traits.email"),
                ),
                "name": Field("Name", "The user's name.", "string", default=path("$.traits.name")),
                "phone": Field(
                    "Phone", "The user's phone.", "string", default=path("$.traits.phone")
                ),
                "role": Field(
                    "Role",
                    "end-user, agent or admin.",
                    "string",
                    choices=("end-user", "agent", "admin"),
                ),
                "time_zone": Field("Time zone", "Like America/New_York.", "string"),
                "locale": Field("Locale", "Like en-US.", "string"),
                "user_fields": Field("User fields", "Custom user fields by key.", "object"),
                "organization_external_id": Field(
                    "Organization external id",
                    "Places the user in the organization with this external id.",
                    "string",
                    default=path("$.context.groupId"),
                ),
            },
            perform=upsert_user,
            default_trigger='type = "identify"',
        ),
        "upsert_organization": Action(
            title="Create or Update Organization",
            description="Create the organization, or update the one with this external id.",
            fields={
                "external_id": Field(
                    "External id",
                    "The group's id.",
                    "string",
                    required=True,
                    default=path("$.groupId"),
                ),
                "name": Field(
                    "Name",
                    "The organization's name.",
                    "string",
                    required=True,
                    default=path("$.traits.name"),
                ),
                "domain_names": Field("Domains", "Its email domains.", "string", multiple=True),
                "organization_fields": Field(
                    "Organization fields", "Custom fields by key.", "object"
                ),
            },
            perform=upsert_organization,
            default_trigger='type = "group"',
        ),
    },
    test_authentication=check_credentials,
    delete=delete_person,
    presets=(
        Preset("Identify users", "upsert_user", 'type = "identify"'),
        Preset("Group organizations", "upsert_organization", 'type = "group"'),
    ),
    # Zendesk allows 200 to 700 requests a minute by plan; past it, 429's Retry-After paces us.
    rate_limit=10.0,
)

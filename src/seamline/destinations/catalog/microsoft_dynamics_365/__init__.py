"""Microsoft Dynamics 365 (Dataverse): contacts and leads created or updated by an alternate key
through the Web API (`{environment_url}/api/data/v9.2`).

A row is upserted with `PATCH /contacts(emailaddress1='jo@example.com')`: Dataverse updates the
row with that alternate key or creates it (204 either way). `If-Match: *` makes it update only
(404 when there is no such row) and `If-None-Match: *` create only (412 when there is one); in
both cases the row is left as it is and the delivery succeeds. The key column must be an
alternate key of the table (defined under the table's Keys in Power Apps), otherwise Dataverse
answers 400. One request per row: `$batch` would save requests but answers per-row outcomes in a
multipart body, and the service protection limit (6,000 requests per 5 minutes per user) is what
bounds throughput either way.

Dataverse answers `{"error": {"code": "0x…", "message"}}`: 400 for a column or value it refuses
or a key that is not defined, 403 when the application user lacks a privilege, 404 for an
unknown table (all permanent); 401 when the token expired (renewed once); 429 with Retry-After
past the service protection limits and 5xx (retried).

Deletion: the contacts and leads whose `emailaddress1` is one of the person's emails (and, for a
subscription keyed by another column, whose key is one of the person's user ids) are found with
`$filter` and deleted (`DELETE /contacts({id})`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog.microsoft_dynamics_365 import api
from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import first_of, path, present

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_COLUMNS = 200
_MAX_PAGES = 20  # of rows found for one email: a person never has a thousand contacts
_TABLES = {"upsert_contact": ("contacts", "contactid"), "upsert_lead": ("leads", "leadid")}
_MODES = {"upsert": {}, "update": {"If-Match": "*"}, "create": {"If-None-Match": "*"}}
_SKIPPED = {"update": 404, "create": 412}  # the answer that means "left as it is"
_COLUMNS = (  # the action's named fields that are columns of both tables
    "firstname",
    "lastname",
    "emailaddress1",
    "telephone1",
    "mobilephone",
    "jobtitle",
    "address1_line1",
    "address1_city",
    "address1_postalcode",
    "address1_country",
)


def _row(payload: Mapping[str, Any], named: tuple[str, ...]) -> dict[str, Any]:
    extra = payload.get("attributes") or {}
    if not isinstance(extra, Mapping) or len(extra) > MAX_COLUMNS:
        raise InvalidPayload(f"attributes must be an object of at most {MAX_COLUMNS} columns")
    row: dict[str, Any] = {}
    for name, value in extra.items():
        # A lookup is set by binding: parentcustomerid_account@odata.bind = /accounts(…).
        if not api.is_logical_name(str(name).removesuffix("@odata.bind")):
            raise InvalidPayload(f"attribute {name!r} is not a column's logical name")
        row[str(name)] = value
    row.update(present({name: payload.get(name) for name in named}))
    return row


def _upsert(ctx: Context, table: str, payload: dict[str, Any], named: tuple[str, ...]) -> None:
    entity_set, _ = _TABLES[table]
    key = payload.get("key_attribute") or "emailaddress1"
    if payload.get("key_value") in (None, ""):
        raise InvalidPayload(f"a {entity_set} row needs a value for its key {key}")
    mode = str(payload.get("mode") or "upsert")
    if mode not in _MODES:
        raise InvalidPayload(f"mode must be upsert, update or create, got {mode!r}")
    row = _row(payload, named)
    where = api.by_key(entity_set, key, payload["key_value"])
    headers = {"Content-Type": "application/json", **_MODES[mode]}
    try:
        api.call(ctx, "PATCH", where, json=row, headers=headers)
    except PermanentError as error:
        if mode not in _SKIPPED or error.status != _SKIPPED[mode]:
            raise


def upsert_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update (or only one of them, by `mode`) the contact with this key."""
    _upsert(ctx, "upsert_contact", payload, _COLUMNS)


def upsert_lead(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update (or only one of them, by `mode`) the lead with this key."""
    _upsert(ctx, "upsert_lead", payload, (*_COLUMNS, "subject", "companyname"))


def delete_person(ctx: Context, person: Person) -> None:
    """Delete every contact and lead with one of the person's emails, or keyed by one of their
    user ids on a subscription's literal key column; a row already gone is a success."""
    for action, (entity_set, id_column) in _TABLES.items():
        lookups = [("emailaddress1", email) for email in person.emails]
        for key in ctx.mapped_literals("key_attribute", action):
            if key != "emailaddress1":
                lookups += [(str(key), user_id) for user_id in person.user_ids]
        for column, value in lookups:
            # A lookup answers one page; deleted rows leave it, so the next one holds the rest.
            for _ in range(_MAX_PAGES):
                found = api.find_ids(ctx, entity_set, id_column, column, value)
                for row_id in found:
                    try:
                        api.call(ctx, "DELETE", f"{entity_set}({row_id})")
                    except PermanentError as error:
                        if error.status != 404:
                            raise
                if len(found) < api.PAGE:
                    break


def check_credentials(ctx: Context) -> None:
    """Get a token and call `WhoAmI`, which reads the application user and changes nothing."""
    api.call(ctx, "GET", "WhoAmI")


def _field(label: str, description: str, *paths: str) -> Field:
    return Field(label, description, "string", default=first_of(*paths) if paths else None)


def _fields(extra: dict[str, Field]) -> dict[str, Field]:
    return {
        "key_attribute": Field(
            "Key column",
            "The logical name of the alternate key column the row is found by.",
            "string",
            required=True,
            default="emailaddress1",
        ),
        "key_value": Field(
            "Key value",
            "The key's value for this row.",
            "string",
            required=True,
            default=first_of("$.traits.email", "$.context.traits.email"),
        ),
        "mode": Field(
            "Mode",
            "upsert creates or updates; update never creates; create never updates.",
            "string",
            choices=tuple(_MODES),
            default="upsert",
        ),
        "firstname": _field(
            "First name", "firstname.", "$.traits.first_name", "$.traits.firstName"
        ),
        "lastname": _field("Last name", "lastname.", "$.traits.last_name", "$.traits.lastName"),
        "emailaddress1": _field(
            "Email", "emailaddress1.", "$.traits.email", "$.context.traits.email"
        ),
        "telephone1": _field("Phone", "telephone1.", "$.traits.phone"),
        "mobilephone": _field("Mobile phone", "mobilephone."),
        "jobtitle": _field("Job title", "jobtitle.", "$.traits.title"),
        "address1_line1": _field("Street", "address1_line1.", "$.traits.address.street"),
        "address1_city": _field("City", "address1_city.", "$.traits.address.city"),
        "address1_postalcode": _field(
            "Postal code", "address1_postalcode.", "$.traits.address.postal_code"
        ),
        "address1_country": _field("Country", "address1_country.", "$.traits.address.country"),
        **extra,
        "attributes": Field(
            "Other columns",
            "More columns by logical name; a lookup as name@odata.bind = /accounts(id).",
            "object",
        ),
    }


DESTINATION = Destination(
    slug="microsoft-dynamics-365",
    name="Microsoft Dynamics 365",
    description="Create or update Dynamics 365 (Dataverse) contacts and leads by alternate key.",
    settings={
        "environment_url": Setting(
            "Environment URL",
            "Your environment, like https://contoso.crm.dynamics.com (crm4, crm11 … by region).",
            required=True,
            target=True,
        ),
        "tenant_id": Setting("Tenant id", "Your Microsoft Entra ID tenant's id or domain."),
        "client_id": Setting(
            "Client id", "The app registration made an application user of the environment."
        ),
        "client_secret": Setting("Client secret", "A client secret of the app.", secret=True),
        "token_url": Setting(
            "Token URL",
            "Overrides https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token.",
            target=True,
        ),
    },
    actions={
        "upsert_contact": Action(
            title="Create or Update Contact",
            description="Create or update the contact with this alternate key.",
            fields=_fields({}),
            perform=upsert_contact,
            default_trigger='type = "identify"',
        ),
        "upsert_lead": Action(
            title="Create or Update Lead",
            description="Create or update the lead with this alternate key.",
            fields=_fields(
                {
                    "subject": Field(
                        "Topic", "The lead's topic (subject).", "string", default=path("$.event")
                    ),
                    "companyname": _field(
                        "Company", "companyname.", "$.traits.company.name", "$.traits.company"
                    ),
                }
            ),
            perform=upsert_lead,
            default_trigger='type = "track" and event = "Lead Created"',
        ),
    },
    test_authentication=check_credentials,
    delete=delete_person,
    presets=(
        Preset("Identify contacts", "upsert_contact", 'type = "identify"'),
        Preset("Leads from forms", "upsert_lead", 'type = "track" and event = "Lead Created"'),
    ),
    # Service protection: 6,000 requests per 5 minutes per user, 52 at once.
    rate_limit=20.0,
)

"""Meta Custom Audiences: Seamline audience membership synced to a customer-list custom audience.

A person who enters an audience is added with `POST {endpoint}/v{version}/{audience_id}/users`,
one who exits is removed with `DELETE` on the same path. The body is Meta's multi-key payload,
`{"payload": {"schema": [...], "data": [[...], ...]}}`: the schema names the columns (`EMAIL`,
`PHONE`, `EXTERN_ID`, only those some row of the request has, always in that order) and each row
holds one person's SHA-256 hashes, with "" for an identifier the person lacks. Meta takes at
most 10,000 people per request and applies changes within about 24 hours. Meta documents the
token as the `access_token` parameter; the Graph API also takes it as `Authorization: Bearer`,
which keeps it out of URLs (as the Conversions API destination does).

Identifiers are normalised and hashed by the Conversions API destination's `hash_identifier`:
emails trimmed and lowercased, phones reduced to digits (without leading zeros, so the country
code must be there), external ids trimmed and lowercased; a value that already is a SHA-256 is
sent as it is.

Whether a payload adds or removes: `in_audience` when it is mapped; otherwise the track event
"Audience Entered" adds and "Audience Exited" removes; otherwise (an identify call) the trait
named by `audience_key` does, true adding and false removing. A mapping cannot express
`traits[audience_key]`, hence the `event_name` and `traits` fields this reads.

In a batch, each (audience, add or remove) gets its own requests, and a person changing twice
in one batch is sent once, with the later change. A payload without an audience id, an
identifier or a membership to read is refused alone (InvalidPayload); the others are sent.
The Graph API reports throttling as 400s with error codes (17, 613, 80003 for custom audiences
…) or `is_transient`; those are retried. Error 190 (a bad token) and 401s are permanent.

Unlike Segment's Facebook Custom Audiences (Actions), which creates an audience per Engage
audience in an ad account and sends all fifteen of Meta's keys (names, birth date, address,
mobile ad id …), the audience must already exist (its id is mapped per subscription) and only
email, phone and external id are sent. EXTERN_ID is hashed, as Segment does, though Meta
accepts it in the clear; it then matches only ids uploaded the same way.

Deletion (a privacy regulation): the person is removed, with the same `DELETE .../users`, from
every audience a subscription names by a literal id, one row per email, phone and user id
(hashed as above). Meta offers no way to delete a person from an account as a whole, and an
audience id mapped from the event names no audience in advance: with no literal id the
destination reports NOT_SUPPORTED.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog._ad_events import (
    AUDIENCE_TRIGGER,
    in_audience,
    latest_changes,
    raise_outcome,
)
from seamline.destinations.catalog.meta_conversions_api import (
    API_HOST,
    API_VERSION,
    hash_identifier,
)
from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import (
    CannotDelete,
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.shaping import first_of, path

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_USERS = 10_000  # people per request
# (payload field, Meta's schema key, hash_identifier's normaliser), in column order.
IDENTIFIERS = (
    ("email", "EMAIL", "email"),
    ("phone", "PHONE", "phone"),
    ("external_id", "EXTERN_ID", "externalId"),
)
# Throttling and outages (80003: the custom audience business use case limit).
_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80003})
_BAD_TOKEN = 190
_AUDIENCE_ID = re.compile(r"[0-9]+")  # also keeps the id from reaching another path

Row = tuple[str, ...]


def _graph(ctx: Context, path: str) -> str:
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    version = str(ctx.settings.get("api_version") or API_VERSION).removeprefix("v")
    return f"{host}/v{version}/{path}"


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.settings['access_token']}"}


def _classified(error: PermanentError) -> DeliveryError:
    """A Graph API refusal as what it means: throttling and outages retried, a bad token
    named as such, anything else as it was."""
    try:
        detail = json.loads(error.response or "")["error"]
    except (ValueError, KeyError, TypeError):
        detail = None
    if not isinstance(detail, dict):
        detail = {}
    status, request, response = error.status, error.request, error.response
    if detail.get("is_transient") or detail.get("code") in _TRANSIENT_CODES:
        message = f"Meta is throttling or unavailable: {detail.get('message')}"
        return RetryableError(message, status=status, request=request, response=response)
    if error.status == 401 or detail.get("code") == _BAD_TOKEN:
        message = f"Meta refused the access token: {detail.get('message') or error.message}"
        return PermanentError(message, status=status, request=request, response=response)
    return error


def _hashed(normaliser: str, value: Any) -> str:
    """The SHA-256 of a normalised identifier; "" when there is none (Meta's empty cell)."""
    return "" if value in (None, "") else (hash_identifier(normaliser, value) or "")


def _change(payload: Mapping[str, Any]) -> tuple[str, bool, Row]:
    """(audience id, add rather than remove, hashed identifiers) or InvalidPayload."""
    audience_id = str(payload.get("audience_id") or "").strip()
    if not _AUDIENCE_ID.fullmatch(audience_id):
        raise InvalidPayload(f"audience_id must be a Meta custom audience id, got {audience_id!r}")
    row = tuple(_hashed(normaliser, payload.get(field)) for field, _, normaliser in IDENTIFIERS)
    if not any(row):
        raise InvalidPayload("no email, phone or external id to match the person with")
    return audience_id, in_audience(payload), row


def _send(ctx: Context, audience_id: str, add: bool, rows: list[Row]) -> None:
    used = [column for column in range(len(IDENTIFIERS)) if any(row[column] for row in rows)]
    payload = {
        "schema": [IDENTIFIERS[column][1] for column in used],
        "data": [[row[column] for column in used] for row in rows],
    }
    try:
        ctx.http.request(
            "POST" if add else "DELETE",
            _graph(ctx, f"{audience_id}/users"),
            json={"payload": payload},
            headers=_headers(ctx),
        )
    except PermanentError as error:
        raise _classified(error) from None


def sync_audiences(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Add and remove people, one request per (audience, add or remove) and 10,000 people.
    Returns each payload's outcome (None: sent), so a refused payload or a failed request
    fails only its own payloads."""
    outcomes: list[DeliveryError | None] = [None] * len(payloads)
    groups = latest_changes(payloads, _change, outcomes)
    for (audience_id, add), members in groups.items():
        for start in range(0, len(members), MAX_USERS):
            chunk = members[start : start + MAX_USERS]
            try:
                _send(ctx, audience_id, add, [row for row, _ in chunk])
            except DeliveryError as error:
                for _, indexes in chunk:
                    for index in indexes:
                        outcomes[index] = error
    return outcomes


def sync_audience(ctx: Context, payload: dict[str, Any]) -> None:
    """Add or remove one person."""
    raise_outcome(sync_audiences(ctx, [payload]))


def delete_person(ctx: Context, person: Person) -> None:
    """Remove the person from every audience the subscriptions name by a literal id."""
    audiences = [
        str(a) for a in ctx.mapped_literals("audience_id") if _AUDIENCE_ID.fullmatch(str(a))
    ]
    if not audiences:
        raise CannotDelete("no subscription names a Meta audience id to remove the person from")
    given = (person.emails, person.values_of("phone"), person.user_ids)
    rows: list[Row] = []
    for column, values in enumerate(given):
        _, _, normaliser = IDENTIFIERS[column]
        for value in values:
            cell = _hashed(normaliser, value)
            if cell:
                rows.append(tuple(cell if c == column else "" for c in range(len(IDENTIFIERS))))
    for audience_id in audiences:
        for start in range(0, len(rows), MAX_USERS):
            _send(ctx, audience_id, False, rows[start : start + MAX_USERS])


def test_authentication(ctx: Context) -> None:
    """Reading the token's own node (/me) succeeds only with a valid token."""
    try:
        ctx.http.request("GET", _graph(ctx, "me"), params={"fields": "id"}, headers=_headers(ctx))
    except PermanentError as error:
        raise _classified(error) from None


_FIELDS = {
    "audience_id": Field(
        "Audience ID",
        "The id of the Meta customer-list custom audience (Audiences in Ads Manager); it must "
        "exist, Seamline does not create it.",
        "string",
        required=True,
    ),
    "audience_key": Field(
        "Audience key",
        "The Seamline audience's key; an identify call's trait of that name tells membership.",
        "string",
        default=first_of("$.properties.audience_key", "$.context.personas.computation_key"),
    ),
    "in_audience": Field(
        "In audience",
        "True adds, false removes. Unmapped, Audience Entered adds, Audience Exited removes "
        "and an identify call's trait named by the audience key decides.",
        "boolean",
    ),
    "event_name": Field(
        "Event name",
        "The track event (Audience Entered or Exited).",
        "string",
        default=path("$.event"),
    ),
    "traits": Field("Traits", "An identify call's traits.", "object", default=path("$.traits")),
    "email": Field(
        "Email",
        "Trimmed and lowercased, then SHA-256 hashed (a SHA-256 is sent as it is).",
        "string",
        default=first_of("$.context.traits.email", "$.traits.email"),
    ),
    "phone": Field(
        "Phone",
        "With country code; digits kept, then SHA-256 hashed (a SHA-256 is sent as it is).",
        "string",
        default=first_of("$.context.traits.phone", "$.traits.phone"),
    ),
    "external_id": Field(
        "External ID",
        "Your id for the person, trimmed and lowercased, then SHA-256 hashed.",
        "string",
        default=path("$.userId"),
    ),
}

DESTINATION = Destination(
    slug="meta-custom-audiences",
    name="Meta Custom Audiences",
    description="Sync audience membership to a Meta (Facebook) customer-list custom audience.",
    settings={
        "access_token": Setting(
            "Access token",
            "A token with the ads_management permission on the ad account owning the "
            "audiences (a system user's token, from Business Settings).",
            required=True,
            secret=True,
        ),
        "api_version": Setting("Graph API version", "Like 26.0.", default=API_VERSION),
        "endpoint": Setting("API host", "The Graph API host.", default=API_HOST, target=True),
    },
    actions={
        "sync_audience": Action(
            title="Sync Audience",
            description="Add people entering an audience to a custom audience and remove "
            "those exiting it.",
            fields=_FIELDS,
            perform=sync_audience,
            perform_batch=sync_audiences,
            max_batch=MAX_USERS,
            default_trigger=AUDIENCE_TRIGGER,
            ordered=True,  # an exit must not overtake the entry before it
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(Preset("Audience Entered and Exited", "sync_audience", AUDIENCE_TRIGGER),),
)

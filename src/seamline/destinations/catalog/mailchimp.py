"""Mailchimp: audience members and their tags through the Marketing API
(`https://{dc}.api.mailchimp.com/3.0`, the data center `dc` being the API key's suffix after
`-`), authenticated by HTTP Basic with any user name and the API key as password.

- Upsert Member: `PUT /lists/{audience}/members/{subscriber_hash}` (the MD5 of the lowercased
  email) with `email_address`, `status_if_new` and `merge_fields`: it creates or updates, and
  never changes an existing member's subscription status (so an unsubscribed person is not
  re-subscribed). A batch is one `POST /batches` of such PUT operations (run asynchronously by
  Mailchimp), at most 500 per request here.
- Sync Audience Tag (Engage's `Audience Entered` / `Audience Exited`): a tag named for the
  audience is made active (the member is upserted first) or inactive with
  `POST /lists/{audience}/members/{hash}/tags`; tags are Mailchimp's static segments. Removing
  the tag of someone not in the audience (404) is a success.

Answers: 400 (`Invalid Resource`, `Member In Compliance State`, `Forgotten Email Not
Subscribed`: an email deleted for good cannot be re-added by the API), 401 `API Key Invalid`,
403, 404 `Resource Not Found` (unknown audience): permanent. 429 (more than 10 simultaneous
connections) and 5xx are retried.

Deletion (a privacy regulation): `POST /lists/{audience}/members/{hash}/actions/delete-permanent`
for each of the person's emails in the default audience and every audience the subscriptions
map to literally; a member that is not there (404) is already gone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import (
    basic_auth,
    chunks,
    first_of,
    optional_field,
    path,
    present,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

BATCH_LIMIT = 500  # operations per /batches request
ENTERED, EXITED = "Audience Entered", "Audience Exited"
STATUSES = ("subscribed", "pending", "unsubscribed", "transactional")
_DATA_CENTER = re.compile(r"[a-z]{2,4}[0-9]{1,3}")
_AUDIENCE_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def _base(ctx: Context) -> str:
    if ctx.settings.get("endpoint"):
        return str(ctx.settings["endpoint"]).rstrip("/")
    key = str(ctx.settings["api_key"])
    dc = key.rpartition("-")[2]
    # The suffix becomes part of a host name: only a data center's shape is accepted.
    if "-" not in key or not _DATA_CENTER.fullmatch(dc):
        raise PermanentError("a Mailchimp API key ends in its data center, like …-us21")
    return f"https://{dc}.api.mailchimp.com/3.0"


def _headers(ctx: Context) -> dict[str, str]:
    return {"Authorization": basic_auth("seamline", str(ctx.settings["api_key"]))}


def subscriber_hash(email: str) -> str:
    """Mailchimp's id of a member: the MD5 of the lowercased email."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def _audience(ctx: Context, payload: Mapping[str, Any], where: str = "") -> str:
    value = str(payload.get("audience_id") or ctx.settings.get("audience_id") or "")
    if not _AUDIENCE_ID.fullmatch(value):
        raise InvalidPayload(f"a Mailchimp audience id is letters and digits, got {value!r}{where}")
    return value


def _email(payload: Mapping[str, Any], where: str = "") -> str:
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise InvalidPayload(f"a Mailchimp member needs a valid email{where}")
    return email.strip()


def _member(
    ctx: Context, payload: Mapping[str, Any], where: str = ""
) -> tuple[str, dict[str, Any]]:
    """The member's path and the PUT body that upserts it."""
    email = _email(payload, where)
    status = str(payload.get("status_if_new") or ctx.settings.get("status_if_new") or "subscribed")
    if status not in STATUSES:
        raise InvalidPayload(f"status_if_new must be one of {', '.join(STATUSES)}{where}")
    body: dict[str, Any] = {"email_address": email, "status_if_new": status}
    merge_fields = present(
        {str(k).upper(): v for k, v in (payload.get("merge_fields") or {}).items()}
    )
    if merge_fields:
        body["merge_fields"] = merge_fields
    if payload.get("language"):
        body["language"] = payload["language"]
    member = f"/lists/{_audience(ctx, payload, where)}/members/{subscriber_hash(email)}"
    return member, body


def upsert_member(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one member; an existing member's status is left as it is."""
    member, body = _member(ctx, payload)
    ctx.http.request("PUT", _base(ctx) + member, json=body, headers=_headers(ctx))


def upsert_members(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Upsert members through batch operations; every payload is checked first."""
    count = len(payloads)
    operations = []
    for index, payload in enumerate(payloads):
        member, body = _member(
            ctx, payload, f" (payload {index} of the batch)" if count > 1 else ""
        )
        operations.append({"method": "PUT", "path": member, "body": json.dumps(body)})
    for chunk in chunks(operations, BATCH_LIMIT):
        ctx.http.post(_base(ctx) + "/batches", json={"operations": chunk}, headers=_headers(ctx))


def _active(payload: Mapping[str, Any]) -> bool:
    explicit = payload.get("active")
    if isinstance(explicit, bool):
        return explicit
    event = payload.get("event_name")
    if event not in (ENTERED, EXITED):
        raise InvalidPayload(f"say whether the tag is active, or map an {ENTERED}/{EXITED} event")
    return bool(event == ENTERED)


def sync_audience_tag(ctx: Context, payload: dict[str, Any]) -> None:
    """Make the audience's tag active on the member (upserting them) or inactive."""
    tag = payload.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise InvalidPayload("a Mailchimp tag needs a name (the audience key by default)")
    active = _active(payload)
    member, body = _member(ctx, payload)
    if active:
        ctx.http.request("PUT", _base(ctx) + member, json=body, headers=_headers(ctx))
    tags = {"tags": [{"name": tag.strip()[:100], "status": "active" if active else "inactive"}]}
    try:
        ctx.http.post(_base(ctx) + member + "/tags", json=tags, headers=_headers(ctx))
    except PermanentError as error:
        if active or error.status != 404:  # untagging someone not in the audience is done
            raise


def test_authentication(ctx: Context) -> None:
    """`GET /ping` answers 200 for a valid key."""
    ctx.http.request("GET", _base(ctx) + "/ping", headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """Permanently delete the person's emails from every audience this instance sends to."""
    audiences = [ctx.settings.get("audience_id"), *ctx.mapped_literals("audience_id")]
    found = [str(a) for a in dict.fromkeys(audiences) if a and _AUDIENCE_ID.fullmatch(str(a))]
    for audience in found:
        for email in person.emails:
            where = f"/lists/{audience}/members/{subscriber_hash(email)}/actions/delete-permanent"
            try:
                ctx.http.post(_base(ctx) + where, headers=_headers(ctx))
            except PermanentError as error:
                if error.status != 404:
                    raise


_EMAIL = optional_field(
    "Email",
    "The member's email.",
    first_of("$.traits.email", "$.context.traits.email", "$.properties.email"),
)
_AUDIENCE = optional_field(
    "Audience ID", "The audience (list) id; the instance's default when unset."
)
_STATUS = Field(
    "Status If New",
    "The subscription status of a new member (pending sends a confirmation email).",
    "string",
    choices=STATUSES,
)
_MERGE_FIELDS = optional_field(
    "Merge Fields",
    "Merge field tags and values, like FNAME and LNAME.",
    {"FNAME": path("$.traits.firstName"), "LNAME": path("$.traits.lastName")},
    "object",
)
_MEMBERSHIP = f'type = "track" and (event = "{ENTERED}" or event = "{EXITED}")'

DESTINATION = Destination(
    slug="mailchimp",
    name="Mailchimp",
    description="Upsert audience members and sync Engage audiences to Mailchimp tags.",
    settings={
        "api_key": Setting(
            "API key",
            "A Marketing API key; it ends in the data center, like -us21.",
            required=True,
            secret=True,
        ),
        "audience_id": Setting(
            "Default audience ID", "The audience (list) members go to.", required=True
        ),
        "status_if_new": Setting(
            "Default status of new members",
            "subscribed, pending, unsubscribed or transactional.",
            default="subscribed",
        ),
        "endpoint": Setting(
            "API base URL", "Overrides https://{dc}.api.mailchimp.com/3.0.", target=True
        ),
    },
    actions={
        "upsert_member": Action(
            title="Upsert Member",
            description="Create or update an audience member by email.",
            fields={
                "email": _EMAIL,
                "audience_id": _AUDIENCE,
                "status_if_new": _STATUS,
                "merge_fields": _MERGE_FIELDS,
                "language": optional_field(
                    "Language", "The member's language code.", path("$.context.locale")
                ),
            },
            perform=upsert_member,
            perform_batch=upsert_members,
            max_batch=BATCH_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "sync_audience_tag": Action(
            title="Sync Audience Tag",
            description="Tag members entering an Engage audience and untag those leaving it.",
            fields={
                "email": _EMAIL,
                "audience_id": _AUDIENCE,
                "tag": optional_field(
                    "Tag",
                    "The tag's name.",
                    first_of("$.properties.audience_key", "$.context.personas.computation_key"),
                ),
                "event_name": optional_field(
                    "Event Name", "Audience Entered or Exited.", path("$.event")
                ),
                "active": optional_field(
                    "Active", "True tags, false untags; unset, the event decides.", type_="boolean"
                ),
                "status_if_new": _STATUS,
                "merge_fields": _MERGE_FIELDS,
            },
            perform=sync_audience_tag,
            default_trigger=_MEMBERSHIP,
            ordered=True,  # an exit must not overtake the entry before it
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "upsert_member", 'type = "identify"'),
        Preset("Audience Entered and Exited", "sync_audience_tag", _MEMBERSHIP),
    ),
    rate_limit=10.0,  # Mailchimp allows 10 simultaneous connections per account
)

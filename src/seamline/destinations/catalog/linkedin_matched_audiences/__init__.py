"""LinkedIn Matched Audiences: Seamline audience membership synced to DMP segments.

Each Engage audience gets a user DMP segment in the ad account, created on first use:
`GET {endpoint}/rest/dmpSegments?q=account&account=urn:li:sponsoredAccount:{id}&sourceSegmentId=
{audience key}&sourcePlatform={platform}` finds it, else `POST /rest/dmpSegments` with `{name,
account, sourcePlatform, sourceSegmentId, type: USER, destinations: [{destination: LINKEDIN}]}`
creates it (its id comes back in the `x-linkedin-id` header). Its id is then kept in the
instance's state. LinkedIn needs a few seconds before a new segment takes users: a 404 on the
first users request is retried.

People are added and removed with `POST /rest/dmpSegments/{id}/users` and the header
`X-RestLi-Method: BATCH_CREATE`, body `{elements: [{action: ADD | REMOVE, userIds: [{idType:
SHA256_EMAIL, idValue}, {idType: GOOGLE_AID, idValue}], firstName?, lastName?, title?,
company?, country?}]}`, at most 5,000 elements per request; the answer holds one status per
element, and an element LinkedIn refuses fails only its own payload. Every request carries
`Authorization: Bearer`, `LinkedIn-Version: {YYYYMM}` and `X-Restli-Protocol-Version: 2.0.0`.

Emails are trimmed, lowercased and SHA-256 hashed (a SHA-256 is sent as it is); Google
advertising ids are sent as they are. Which identifiers are sent is a setting, as LinkedIn's
terms may require. Whether a payload adds or removes: `in_audience` when mapped, else the track
event Audience Entered adds and Audience Exited removes, else the identify trait named by the
audience key (true adds, false removes).

The token: an access token (LinkedIn's last 60 days), or a refresh token with the app's client
id and secret, exchanged at LinkedIn's token endpoint when needed. 401 is permanent; 429 and
5xx are retried; LinkedIn limits DMP streaming per member and minute.

Deletion (a privacy regulation): the person (each email hashed, each advertising id recorded
for them) is removed from every DMP segment of the ad account with this destination's source
platform, which is every segment Seamline made.

The requests themselves are in `api`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog._ad_events import AUDIENCE_TRIGGER, in_audience, raise_outcome
from seamline.destinations.catalog.linkedin_matched_audiences import api
from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload
from seamline.destinations.hashing import hashed, lowercase
from seamline.destinations.shaping import first_of, path

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_USERS = 5_000  # elements per BATCH_CREATE request
TRIGGER = AUDIENCE_TRIGGER
_EXTRA = (("first_name", "firstName"), ("last_name", "lastName"), ("title", "title"),
          ("company", "company"), ("country", "country"))  # fmt: skip
_KEY = re.compile(r"[\w.:\-]{1,100}")


def user_ids(ctx: Context, email: Any, advertising_id: Any) -> list[dict[str, str]]:
    """LinkedIn's `userIds` for a person, as the instance's settings allow."""
    ids = []
    if ctx.settings.get("send_email", True) and (digest := hashed(email, lowercase)):
        ids.append({"idType": "SHA256_EMAIL", "idValue": digest})
    if ctx.settings.get("send_google_advertising_id", True) and advertising_id not in (None, ""):
        ids.append({"idType": "GOOGLE_AID", "idValue": str(advertising_id).strip()})
    return ids


def _element(ctx: Context, payload: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(audience key, segment name, one element) or InvalidPayload."""
    key = str(payload.get("audience_key") or "").strip()
    if not _KEY.fullmatch(key):
        raise InvalidPayload(f"audience_key must name the Seamline audience, got {key!r}")
    ids = user_ids(ctx, payload.get("email"), payload.get("google_advertising_id"))
    if not ids:
        raise InvalidPayload("no email or Google advertising id to match the person with")
    element: dict[str, Any] = {"action": "ADD" if in_audience(payload) else "REMOVE"}
    element["userIds"] = ids
    element.update({out: payload[k] for k, out in _EXTRA if payload.get(k) not in (None, "")})
    return key, str(payload.get("segment_name") or key), element


def sync_audiences(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Add and remove people, one request per segment and 5,000 people; each payload's
    outcome (None: sent)."""
    outcomes: list[DeliveryError | None] = [None] * len(payloads)
    groups: dict[str, tuple[str, list[tuple[int, dict[str, Any]]]]] = {}
    for index, payload in enumerate(payloads):
        try:
            key, name, element = _element(ctx, payload)
        except InvalidPayload as error:
            outcomes[index] = error
            continue
        groups.setdefault(key, (name, []))[1].append((index, element))
    for key, (name, members) in groups.items():
        try:
            segment = api.segment_id(ctx, key, name)
        except DeliveryError as error:
            for index, _ in members:
                outcomes[index] = error
            continue
        for start in range(0, len(members), MAX_USERS):
            chunk = members[start : start + MAX_USERS]
            try:
                results = api.add_or_remove(ctx, segment, [element for _, element in chunk])
            except DeliveryError as error:
                results = [error] * len(chunk)
            for (index, _), result in zip(chunk, results, strict=True):
                outcomes[index] = result
    return outcomes


def sync_audience(ctx: Context, payload: dict[str, Any]) -> None:
    """Add or remove one person."""
    raise_outcome(sync_audiences(ctx, [payload]))


def delete_person(ctx: Context, person: Person) -> None:
    """Remove the person from every DMP segment of the account with our source platform."""
    elements = [
        {"action": "REMOVE", "userIds": ids}
        for ids in [user_ids(ctx, email, None) for email in person.emails]
        + [user_ids(ctx, None, aid) for aid in person.values_of("advertising_id")]
        if ids
    ]
    if not elements:
        return  # nothing LinkedIn could match the person by
    for segment in api.our_segments(ctx):
        for start in range(0, len(elements), MAX_USERS):
            chunk = elements[start : start + MAX_USERS]
            failed = [r for r in api.add_or_remove(ctx, segment, chunk) if r]
            if failed:
                raise failed[0]


def test_authentication(ctx: Context) -> None:
    """Reading the ad account succeeds only with a token that may use it."""
    api.call(ctx, "GET", f"/adAccounts/{api.account_id(ctx)}")


_AUDIENCE_KEY = first_of("$.properties.audience_key", "$.context.personas.computation_key")
_FIELDS = {
    "audience_key": Field(
        "Audience key",
        "The Seamline audience's key: its DMP segment's sourceSegmentId.",
        "string",
        required=True,
        default=_AUDIENCE_KEY,
    ),
    "segment_name": Field(
        "Segment name",
        "The DMP segment's name when Seamline creates it (the audience key by default).",
        "string",
        default=_AUDIENCE_KEY,
    ),
    "in_audience": Field(
        "In audience",
        "True adds, false removes. Unmapped, Audience Entered adds, Audience Exited removes "
        "and an identify call's trait named by the audience key decides.",
        "boolean",
    ),
    "event_name": Field("Event name", "The track event.", "string", default=path("$.event")),
    "traits": Field("Traits", "An identify call's traits.", "object", default=path("$.traits")),
    "email": Field(
        "Email",
        "Trimmed, lowercased and SHA-256 hashed (a SHA-256 is sent as it is).",
        "string",
        default=first_of("$.context.traits.email", "$.traits.email"),
    ),
    "google_advertising_id": Field(
        "Google advertising ID",
        "The Android advertising id, sent as it is.",
        "string",
        default=path("$.context.device.advertisingId"),
    ),
    "first_name": Field(
        "First name", "Helps LinkedIn match.", "string", default=path("$.traits.firstName")
    ),
    "last_name": Field(
        "Last name", "Helps LinkedIn match.", "string", default=path("$.traits.lastName")
    ),
    "title": Field("Title", "The person's job title.", "string", default=path("$.traits.title")),
    "company": Field(
        "Company", "The person's company.", "string", default=path("$.traits.company")
    ),
    "country": Field("Country", "ISO 3166 code.", "string", default=path("$.traits.country")),
}

DESTINATION = Destination(
    slug="linkedin-matched-audiences",
    name="LinkedIn Matched Audiences",
    description="Sync Engage audiences to LinkedIn DMP segments for ad targeting.",
    settings={
        "ad_account_id": Setting(
            "Ad account ID", "The LinkedIn ad account (Campaign Manager) id.", required=True
        ),
        "source_platform": Setting(
            "Source platform",
            "The DMP source platform LinkedIn assigned to your app (the Audiences program).",
            required=True,
        ),
        "access_token": Setting(
            "Access token",
            "A token with rw_dmp_segments from a member who is not a VIEWER of the account; "
            "LinkedIn's tokens last 60 days (or set a refresh token below).",
            secret=True,
        ),
        "refresh_token": Setting(
            "Refresh token",
            "A refresh token, exchanged for access tokens when needed.",
            secret=True,
        ),
        "client_id": Setting("Client ID", "The LinkedIn app's client id (with a refresh token)."),
        "client_secret": Setting("Client secret", "The LinkedIn app's client secret.", secret=True),
        "send_email": Setting("Send email", "Send hashed emails.", "boolean", default=True),
        "send_google_advertising_id": Setting(
            "Send Google advertising ID", "Send Android advertising ids.", "boolean", default=True
        ),
        "api_version": Setting("LinkedIn-Version", "Like 202604.", default=api.API_VERSION),
        "endpoint": Setting("API host", "LinkedIn's API host.", default=api.API_HOST, target=True),
        "token_url": Setting(
            "Token URL", "LinkedIn's OAuth token endpoint.", default=api.TOKEN_URL, target=True
        ),
    },
    actions={
        "sync_audience": Action(
            title="Sync Audience",
            description="Add people entering an audience to its DMP segment (created on first "
            "use) and remove those exiting it.",
            fields=_FIELDS,
            perform=sync_audience,
            perform_batch=sync_audiences,
            max_batch=MAX_USERS,
            default_trigger=TRIGGER,
            ordered=True,  # an exit must not overtake the entry before it
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(Preset("Audience Entered and Exited", "sync_audience", TRIGGER),),
)

"""Klaviyo: profiles, events and list membership through Klaviyo's JSON:API REST API
(`https://a.klaviyo.com/api/…`), authenticated by a private API key (`Authorization:
Klaviyo-API-Key <key>`) and pinned to one API revision by the `revision` header.

- Upsert Profile: `POST /api/profile-import/` creates or updates by email, phone number or
  external id; a batch is one `POST /api/profile-bulk-import-jobs/` (at most 10,000 profiles and
  5 MB per job, carried out asynchronously).
- Track Event: `POST /api/events/` (202), a batch one `POST /api/event-bulk-create-jobs/` (at most
  1,000 events and 5 MB). `unique_id` (the messageId) makes a retried event count once.
- Add Profile to List (from Engage's `Audience Entered`): a profile bulk import job with the list
  as its relationship, which upserts the profiles and adds them to the list in one call.
- Remove Profile from List (from `Audience Exited`): the profiles' ids are looked up
  (`GET /api/profiles/?filter=any(email,[…])`, 100 values per filter) and removed with
  `DELETE /api/lists/{id}/relationships/profiles/` (1,000 per request); someone Klaviyo does
  not know is not in the list, which is a success.

Answers: 200/201/202/204 success; 400 invalid body, 401 a missing or wrong key, 403 a key
without the scope (profiles:write, events:write, lists:write, data-privacy:write), 404 an
unknown list: all permanent. 429 comes with Retry-After (per-endpoint burst and steady limits:
events 350/s, profile import 75/s, bulk jobs 10/s); 5xx are retried.

Deletion (a privacy regulation): `POST /api/data-privacy-deletion-jobs/` once per identifier
(Klaviyo takes exactly one of email, phone number or profile id per job): each email, then each
profile found for the person's user ids as external ids.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import (
    batch_place,
    chunks,
    first_of,
    instant,
    optional_field,
    path,
    present,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

API_HOST = "https://a.klaviyo.com"
REVISION = "2024-10-15"
PROFILE_JOB_LIMIT = 10_000  # profiles per bulk import job
EVENT_JOB_LIMIT = 1_000  # events per bulk create job
JOB_BYTES = 5_000_000 - 10_000  # 5 MB per job, less room for the envelope
FILTER_LIMIT = 100  # values in one any() filter
RELATIONSHIP_LIMIT = 1_000  # profiles per list relationship request
ENTERED, EXITED = "Audience Entered", "Audience Exited"

_IDS = ("email", "phone_number", "external_id")
_ATTRIBUTES = ("first_name", "last_name", "organization", "title", "image", "location")


def _url(ctx: Context, where: str) -> str:
    return str(ctx.settings.get("endpoint") or API_HOST).rstrip("/") + where


def _headers(ctx: Context) -> dict[str, str]:
    return {
        "Authorization": f"Klaviyo-API-Key {ctx.settings['api_key']}",
        "revision": REVISION,
        "accept": "application/vnd.api+json",
        "content-type": "application/vnd.api+json",
    }


def _identity(payload: Mapping[str, Any], where: str, *, anonymous: bool = False) -> dict[str, Any]:
    keys = (*_IDS, "anonymous_id") if anonymous else _IDS
    ids = present({key: payload.get(key) for key in keys})
    if not ids:
        raise InvalidPayload(f"a Klaviyo profile needs one of {', '.join(keys)}{where}")
    return {key: str(value) for key, value in ids.items()}


def _profile(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    attributes = _identity(payload, where) | present({k: payload.get(k) for k in _ATTRIBUTES})
    if isinstance(attributes.get("location"), dict):
        attributes["location"] = present(attributes["location"])
    if payload.get("properties"):
        attributes["properties"] = payload["properties"]
    return {"type": "profile", "attributes": attributes}


def _import_jobs(ctx: Context, profiles: list[dict[str, Any]], list_id: str | None) -> None:
    for chunk in chunks(profiles, PROFILE_JOB_LIMIT, JOB_BYTES):
        job: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": chunk}},
        }
        if list_id:
            job["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        ctx.http.post(
            _url(ctx, "/api/profile-bulk-import-jobs/"), json={"data": job}, headers=_headers(ctx)
        )


def _by_list(payloads: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The batch's profiles per list id ("" for none), every payload checked first."""
    lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index, payload in enumerate(payloads):
        profile = _profile(payload, batch_place(index, len(payloads)))
        lists[str(payload.get("list_id") or "")].append(profile)
    return lists


# -- profiles and events ---------------------------------------------------------------------


def upsert_profiles(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update profiles in bulk import jobs (one per list they are added to)."""
    for list_id, profiles in _by_list(payloads).items():
        _import_jobs(ctx, profiles, list_id or None)


def upsert_profile(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one profile at once (profile import); add it to `list_id` if set."""
    response = ctx.http.post(
        _url(ctx, "/api/profile-import/"),
        json={"data": _profile(payload, "")},
        headers=_headers(ctx),
    )
    if payload.get("list_id"):
        list_id = _list_id(payload["list_id"], "")
        try:
            profile_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise PermanentError(
                "Klaviyo's profile import answered without a profile id",
                status=response.status_code,
                response=response.text[:2_000],
            ) from None
        _relate(ctx, "POST", list_id, [profile_id])


def _event(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not payload.get("metric_name"):
        raise InvalidPayload(f"a Klaviyo event needs a metric name{where}")
    when = payload.get("time")
    attributes = present(
        {
            "time": instant(when, "time").isoformat() if when else None,
            "value": payload.get("value"),
            "unique_id": payload.get("unique_id"),
        }
    )
    name = payload["metric_name"]
    attributes["properties"] = payload.get("properties") or {}  # required, even empty
    attributes["metric"] = {"data": {"type": "metric", "attributes": {"name": name}}}
    profile = _identity(payload, where, anonymous=True)
    return {"attributes": attributes, "profile": profile}


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one event on the profile it names (created if Klaviyo has none)."""
    event = _event(payload, "")
    profile = {"data": {"type": "profile", "attributes": event["profile"]}}
    body = {"data": {"type": "event", "attributes": event["attributes"] | {"profile": profile}}}
    ctx.http.post(_url(ctx, "/api/events/"), json=body, headers=_headers(ctx))


def track_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record events in bulk create jobs; every payload is checked before anything is sent."""
    entries = []
    for index, payload in enumerate(payloads):
        event = _event(payload, batch_place(index, len(payloads)))
        entries.append(
            {
                "type": "event-bulk-create",
                "attributes": {
                    "profile": {"data": {"type": "profile", "attributes": event["profile"]}},
                    "events": {"data": [{"type": "event", "attributes": event["attributes"]}]},
                },
            }
        )
    for chunk in chunks(entries, EVENT_JOB_LIMIT, JOB_BYTES):
        job = {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": chunk}},
        }
        ctx.http.post(
            _url(ctx, "/api/event-bulk-create-jobs/"), json={"data": job}, headers=_headers(ctx)
        )


# -- lists -----------------------------------------------------------------------------------


def _list_id(value: Any, where: str) -> str:
    text = str(value or "")
    # Klaviyo's ids are letters and digits; anything else would reach another path.
    if not _LIST_ID.fullmatch(text):
        raise InvalidPayload(f"a Klaviyo list id is letters and digits, got {value!r}{where}")
    return text


def add_to_lists(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Upsert the profiles and add them to their lists: one bulk import job per list."""
    for index, payload in enumerate(payloads):
        _list_id(payload.get("list_id"), batch_place(index, len(payloads)))
    upsert_profiles(ctx, payloads)


def add_to_list(ctx: Context, payload: dict[str, Any]) -> None:
    """Upsert one profile and add it to its list."""
    add_to_lists(ctx, [payload])


def _profile_ids(ctx: Context, key: str, values: Iterable[str]) -> list[str]:
    """The ids of the profiles whose `key` is one of `values` (none for an unknown value)."""
    found: list[str] = []
    for chunk in chunks(sorted(set(values)), FILTER_LIMIT):
        listed = ",".join(json.dumps(value) for value in chunk)
        response = ctx.http.request(
            "GET",
            _url(ctx, "/api/profiles/"),
            params={"filter": f"any({key},[{listed}])", "page[size]": FILTER_LIMIT},
            headers=_headers(ctx),
        )
        found += [str(item["id"]) for item in response.json().get("data") or []]
    return found


def _relate(ctx: Context, method: str, list_id: str, profile_ids: list[str]) -> None:
    for chunk in chunks(profile_ids, RELATIONSHIP_LIMIT):
        ctx.http.request(
            method,
            _url(ctx, f"/api/lists/{list_id}/relationships/profiles/"),
            json={"data": [{"type": "profile", "id": profile_id} for profile_id in chunk]},
            headers=_headers(ctx),
        )


def remove_from_lists(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Remove the profiles from their lists; people Klaviyo does not know are skipped."""
    wanted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for index, payload in enumerate(payloads):
        where = batch_place(index, len(payloads))
        list_id = _list_id(payload.get("list_id"), where)
        for key, value in _identity(payload, where).items():
            wanted[list_id][key].add(value)
    for list_id, by_key in wanted.items():
        ids = {i for key, values in by_key.items() for i in _profile_ids(ctx, key, values)}
        _relate(ctx, "DELETE", list_id, sorted(ids))


def remove_from_list(ctx: Context, payload: dict[str, Any]) -> None:
    """Remove one profile from its list."""
    remove_from_lists(ctx, [payload])


def test_authentication(ctx: Context) -> None:
    """Reading the account is the cheapest call any private key may make."""
    ctx.http.request("GET", _url(ctx, "/api/accounts/"), headers=_headers(ctx))


def _deletion_job(ctx: Context, profile: dict[str, Any]) -> None:
    body = {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {"profile": {"data": {"type": "profile", **profile}}},
        }
    }
    ctx.http.post(_url(ctx, "/api/data-privacy-deletion-jobs/"), json=body, headers=_headers(ctx))


def delete_person(ctx: Context, person: Person) -> None:
    """One deletion job per email, then per profile whose external id is a user id."""
    for email in person.emails:
        _deletion_job(ctx, {"attributes": {"email": email}})
    for profile_id in _profile_ids(ctx, "external_id", person.user_ids):
        _deletion_job(ctx, {"id": profile_id})


_LIST_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_EMAIL = first_of("$.traits.email", "$.context.traits.email", "$.properties.email")
_PHONE = first_of("$.traits.phone", "$.context.traits.phone", "$.properties.phone")


_ID_FIELDS = {
    "email": optional_field("Email", "The person's email.", _EMAIL),
    "phone_number": optional_field("Phone Number", "In E.164 form, like +15005550006.", _PHONE),
    "external_id": optional_field("External ID", "Your id for the person.", path("$.userId")),
}
_LIST_FIELD = Field(
    "List ID",
    "The Klaviyo list's id (in the list's settings, or its URL).",
    "string",
    required=True,
)
_PROFILE_FIELDS = {
    **_ID_FIELDS,
    "first_name": optional_field("First Name", "The first name.", path("$.traits.firstName")),
    "last_name": optional_field("Last Name", "The last name.", path("$.traits.lastName")),
    "organization": optional_field("Organization", "The company.", path("$.traits.company.name")),
    "title": optional_field("Title", "The job title.", path("$.traits.title")),
    "image": optional_field("Image", "An avatar URL.", path("$.traits.avatar")),
    "location": Field(
        "Location",
        "The address.",
        "object",
        default={
            "address1": path("$.traits.address.street"),
            "city": path("$.traits.address.city"),
            "region": path("$.traits.address.state"),
            "zip": path("$.traits.address.postal_code"),
            "country": path("$.traits.address.country"),
        },
    ),
    "properties": optional_field("Properties", "Custom properties.", path("$.traits"), "object"),
    "list_id": optional_field("List ID", "Also add the profile to this list."),
}
_EVENT_FIELDS = {
    **_ID_FIELDS,
    "anonymous_id": optional_field(
        "Anonymous ID", "An id for an unknown visitor.", path("$.anonymousId")
    ),
    "metric_name": Field(
        "Metric Name", "The event's name.", "string", True, default=path("$.event")
    ),
    "properties": optional_field(
        "Properties", "Properties of the event.", path("$.properties"), "object"
    ),
    "time": optional_field("Time", "When it happened.", path("$.timestamp"), "datetime"),
    "value": optional_field("Value", "A monetary value.", path("$.properties.revenue"), "number"),
    "unique_id": optional_field(
        "Unique ID", "Klaviyo counts an event once per unique id.", path("$.messageId")
    ),
}
_ENTERED = f'type = "track" and event = "{ENTERED}"'
_EXITED = f'type = "track" and event = "{EXITED}"'

DESTINATION = Destination(
    slug="klaviyo",
    name="Klaviyo",
    description="Upsert profiles, track events and manage list membership in Klaviyo.",
    settings={
        "api_key": Setting(
            "Private API key",
            "A private key (pk_…) with the profiles, events, lists and data-privacy write scopes.",
            required=True,
            secret=True,
        ),
        "endpoint": Setting("API host", "Klaviyo's API host.", default=API_HOST, target=True),
    },
    actions={
        "upsert_profile": Action(
            title="Upsert Profile",
            description="Create or update a profile by email, phone number or external id.",
            fields=_PROFILE_FIELDS,
            perform=upsert_profile,
            perform_batch=upsert_profiles,
            max_batch=PROFILE_JOB_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "track_event": Action(
            title="Track Event",
            description="Record an event (a metric) on a profile.",
            fields=_EVENT_FIELDS,
            perform=track_event,
            perform_batch=track_events,
            max_batch=EVENT_JOB_LIMIT,
        ),
        "add_profile_to_list": Action(
            title="Add Profile to List",
            description="Add a person to a list, creating their profile if needed.",
            fields={**_ID_FIELDS, "list_id": _LIST_FIELD},
            perform=add_to_list,
            perform_batch=add_to_lists,
            max_batch=PROFILE_JOB_LIMIT,
            default_trigger=_ENTERED,
            ordered=True,
        ),
        "remove_profile_from_list": Action(
            title="Remove Profile from List",
            description="Remove a person from a list (the profile stays).",
            fields={**_ID_FIELDS, "list_id": _LIST_FIELD},
            perform=remove_from_list,
            perform_batch=remove_from_lists,
            max_batch=FILTER_LIMIT,
            default_trigger=_EXITED,
            ordered=True,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    presets=(
        Preset("Identify Calls", "upsert_profile", 'type = "identify"'),
        Preset("Track Calls", "track_event", 'type = "track"'),
        Preset("Audience Entered", "add_profile_to_list", _ENTERED),
        Preset("Audience Exited", "remove_profile_from_list", _EXITED),
    ),
    rate_limit=10.0,  # bulk jobs: 10/s burst, 150/min steady (single calls allow more)
)

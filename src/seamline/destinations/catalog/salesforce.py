"""Salesforce: Leads and Contacts upserted by an External ID field through the REST API, with
an OAuth 2.0 access token from the org's token endpoint.

- Token: `POST {instance_url}/services/oauth2/token`, the refresh-token flow when a refresh token
  is configured, else the client-credentials flow (which must use the org's My Domain URL).
  Salesforce tokens carry no lifetime: the token is cached in `ctx.state` until a request
  answers 401 (INVALID_SESSION_ID); then it is fetched again once and the request retried.
- One record: `PATCH /services/data/vXX.X/sobjects/{Object}/{ExternalIdField}/{value}` creates
  the record when no record has that value and updates it when one does (300 when several do).
- A batch: `PATCH /services/data/vXX.X/composite/sobjects/{Object}/{ExternalIdField}` (sObject
  Collections upsert, API 46+) with at most 200 records, each with `attributes.type`.
- Deletion (a privacy regulation): for Lead and Contact, `GET /query?q=SELECT Id FROM {Object}
  WHERE Email IN (…) OR {ExternalIdField} IN (…)` with the person's emails and user ids (the
  External ID fields are those the subscriptions name), then `DELETE /composite/sobjects?ids=…`
  (200 ids per request). Salesforce moves deleted records to its Recycle Bin, which it empties
  after 15 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from seamline.destinations.definition import Action, Context, Destination, Field, Setting
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

API_VERSION = "v62.0"
COLLECTION_LIMIT = 200  # records per sObject Collections request
_TOKEN = "salesforce.access_token"  # ctx.state key
_API_NAME = re.compile(r"^[A-Za-z]\w*$")
_TRANSIENT = frozenset({"UNABLE_TO_LOCK_ROW"})  # record errors that a later attempt clears


# -- authentication ---------------------------------------------------------------------------


def _instance(ctx: Context) -> str:
    return str(ctx.settings["instance_url"]).rstrip("/")


def _fetch_token(ctx: Context) -> str:
    settings = ctx.settings
    form = {"client_id": settings["client_id"], "client_secret": settings["client_secret"]}
    if settings.get("refresh_token"):
        form |= {"grant_type": "refresh_token", "refresh_token": settings["refresh_token"]}
    else:
        form["grant_type"] = "client_credentials"
    url = f"{_instance(ctx)}/services/oauth2/token"
    try:
        response = ctx.http.post(url, data=form)
    except DeliveryError as error:
        error.request = f"POST {url} (form hidden: it holds credentials)"
        raise
    finally:
        # The Http client hides secret headers, not form fields or answers: keep the secret,
        # the refresh token and the access token out of the exchanges it remembers.
        ctx.http.hide_exchanges(url)
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise PermanentError(f"{url} answered without an access_token")
    return token


def _token(ctx: Context) -> str:
    token = ctx.state.get(_TOKEN)
    if not isinstance(token, str):
        token = ctx.state[_TOKEN] = _fetch_token(ctx)
    return token


def _api(ctx: Context, method: str, path: str, body: Any = None) -> httpx.Response:
    """Call the REST API with the cached token; on a 401 fetch a new token and retry once."""
    url = f"{_instance(ctx)}/services/data/{ctx.settings.get('api_version') or API_VERSION}{path}"
    token = _token(ctx)
    try:
        return ctx.http.request(method, url, json=body, headers=_bearer(token))
    except PermanentError as error:
        if error.status != 401:
            raise
    if ctx.state.get(_TOKEN) == token:  # not already replaced by a concurrent delivery
        del ctx.state[_TOKEN]
    return ctx.http.request(method, url, json=body, headers=_bearer(_token(ctx)))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_authentication(ctx: Context) -> None:
    """Fetch a fresh token and list the API's resources with it."""
    ctx.state.pop(_TOKEN, None)
    _api(ctx, "GET", "/")


# -- records ----------------------------------------------------------------------------------

_LEAD = {
    "last_name": "LastName", "first_name": "FirstName", "company": "Company", "email": "Email",
    "street": "Street", "city": "City", "state": "State", "postal_code": "PostalCode",
    "country": "Country",
}  # fmt: skip
_CONTACT = {
    "last_name": "LastName", "first_name": "FirstName", "email": "Email", "account_id": "AccountId",
    "mailing_street": "MailingStreet", "mailing_city": "MailingCity",
    "mailing_state": "MailingState", "mailing_postal_code": "MailingPostalCode",
    "mailing_country": "MailingCountry",
}  # fmt: skip
_SHAPES = {"Lead": _LEAD, "Contact": _CONTACT}
_REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",)}


def _record(
    sobject: str, payload: Mapping[str, Any], where: str
) -> tuple[str, str, dict[str, Any]]:
    """(external id field, its value, the record's other fields) for one payload."""
    id_field, id_value = payload.get("external_id_field"), payload.get("external_id")
    if not isinstance(id_field, str) or not _API_NAME.match(id_field):
        raise InvalidPayload(
            f"external_id_field must be a field's API name, got {id_field!r}{where}"
        )
    if id_value is None or id_value == "":
        raise InvalidPayload(f"no value for the external id {id_field}{where}")
    record = {api: payload[name] for name, api in _SHAPES[sobject].items() if payload.get(name)}
    record.update(payload.get("custom_fields") or {})  # custom fields win, as in Segment
    record.pop(id_field, None)
    missing = [name for name in _REQUIRED[sobject] if not record.get(name)]
    if missing:
        raise InvalidPayload(f"a Salesforce {sobject} needs {' and '.join(missing)}{where}")
    return id_field, str(id_value), record


def _upsert_one(ctx: Context, sobject: str, payload: dict[str, Any]) -> None:
    id_field, id_value, record = _record(sobject, payload, "")
    _api(ctx, "PATCH", f"/sobjects/{sobject}/{id_field}/{quote(id_value, safe='')}", record)


def _upsert_many(ctx: Context, sobject: str, payloads: list[dict[str, Any]]) -> None:
    """Every payload is checked before anything is sent; payloads for the same external id
    are merged in order (a collection must not name a record twice)."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for index, payload in enumerate(payloads):
        id_field, id_value, record = _record(sobject, payload, f" (payload {index} of the batch)")
        groups.setdefault(id_field, {}).setdefault(id_value, {}).update(record)
    for id_field, by_value in groups.items():
        records = [
            {"attributes": {"type": sobject}, id_field: value, **record}
            for value, record in by_value.items()
        ]
        for start in range(0, len(records), COLLECTION_LIMIT):
            chunk = records[start : start + COLLECTION_LIMIT]
            response = _api(
                ctx,
                "PATCH",
                f"/composite/sobjects/{sobject}/{id_field}",
                {"allOrNone": False, "records": chunk},
            )
            _check_results(sobject, chunk, id_field, response)


def _check_results(
    sobject: str, chunk: list[dict[str, Any]], id_field: str, response: httpx.Response
) -> None:
    """A collection answers 200 with one result per record; raise for the refused ones."""
    try:
        results = response.json()
    except ValueError:
        results = None
    if not isinstance(results, list):
        return  # a 200 without itemised results: nothing refused that we could name
    failed = [
        (chunk[index][id_field], result.get("errors") or [])
        for index, result in enumerate(results)
        if isinstance(result, dict) and not result.get("success")
    ]
    if not failed:
        return
    codes = {error.get("statusCode") for _, errors in failed for error in errors}
    listed = "; ".join(
        f"{value}: " + ", ".join(f"{e.get('statusCode')} {e.get('message')}" for e in errors)
        for value, errors in failed
    )
    message = f"Salesforce refused {len(failed)} of {len(chunk)} {sobject} records: {listed}"
    if codes and codes <= _TRANSIENT:
        raise RetryableError(message, status=response.status_code, response=response.text[:2_000])
    raise PermanentError(message, status=response.status_code, response=response.text[:2_000])


def upsert_lead(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one Lead by its external id."""
    _upsert_one(ctx, "Lead", payload)


def upsert_leads(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update Leads by external id, 200 per request."""
    _upsert_many(ctx, "Lead", payloads)


def upsert_contact(ctx: Context, payload: dict[str, Any]) -> None:
    """Create or update one Contact by its external id."""
    _upsert_one(ctx, "Contact", payload)


def upsert_contacts(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Create or update Contacts by external id, 200 per request."""
    _upsert_many(ctx, "Contact", payloads)


# -- deletion ---------------------------------------------------------------------------------

_SUBSCRIBED_AS = {"Lead": "upsert_lead", "Contact": "upsert_contact"}
_ALREADY_GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


def _soql_list(values: list[str]) -> str:
    escaped = (v.replace("\\", "\\\\").replace("'", "\\'") for v in values)
    return "(" + ", ".join(f"'{v}'" for v in escaped) + ")"


def _matching(ctx: Context, sobject: str, person: Person) -> list[str]:
    """The ids of the `sobject` records holding one of the person's emails or user ids."""
    conditions = [f"Email IN {_soql_list(person.emails)}"] if person.emails else []
    if person.user_ids:
        for field in ctx.mapped_literals("external_id_field", _SUBSCRIBED_AS[sobject]):
            if isinstance(field, str) and _API_NAME.match(field):
                conditions.append(f"{field} IN {_soql_list(person.user_ids)}")
    if not conditions:
        return []
    soql = f"SELECT Id FROM {sobject} WHERE {' OR '.join(conditions)}"
    records = _api(ctx, "GET", f"/query?q={quote(soql, safe='')}").json().get("records") or []
    return [str(r["Id"]) for r in records if isinstance(r, dict) and r.get("Id")]


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the person's Leads and Contacts, found by email and by External ID."""
    for sobject in _SUBSCRIBED_AS:
        ids = _matching(ctx, sobject, person)
        for start in range(0, len(ids), COLLECTION_LIMIT):
            chunk = ids[start : start + COLLECTION_LIMIT]
            response = _api(
                ctx, "DELETE", f"/composite/sobjects?ids={','.join(chunk)}&allOrNone=false"
            )
            results = response.json() if response.content else []
            refused = [
                f"{r.get('id')}: {e.get('statusCode')} {e.get('message')}"
                for r in results if isinstance(r, dict) and not r.get("success")
                for e in r.get("errors") or [] if e.get("statusCode") not in _ALREADY_GONE
            ]  # fmt: skip
            if refused:
                raise PermanentError(
                    f"Salesforce did not delete {sobject} records: {'; '.join(refused)}",
                    status=response.status_code,
                    response=response.text[:2_000],
                )


# -- definition -------------------------------------------------------------------------------


def _trait(label: str, description: str, path: str) -> Field:
    """A field read from the identify's traits, else from the track's properties (as Segment's
    Salesforce (Actions) defaults do)."""
    then, otherwise = f"$.traits.{path}", f"$.properties.{path}"
    default = {
        "@if": {"exists": {"@path": then}, "then": {"@path": then}, "else": {"@path": otherwise}}
    }
    return Field(label, description, "string", default=default)


_IDENTITY = {
    "external_id_field": Field(
        "External ID Field",
        "API name of the External ID field records are matched on, e.g. Seamline_Id__c.",
        "string",
        required=True,
    ),
    "external_id": Field(
        "External ID",
        "The record's value of the External ID field.",
        "string",
        required=True,
        default={"@path": "$.userId"},
    ),
}
_CUSTOM = Field(
    "Other Fields",
    "More fields by API name (custom ones end in __c); they override the fields above.",
    "object",
)

DESTINATION = Destination(
    slug="salesforce",
    name="Salesforce",
    description="Upsert Leads and Contacts in Salesforce by an External ID field.",
    settings={
        "instance_url": Setting(
            "Instance URL",
            "Your org's My Domain URL, e.g. https://acme.my.salesforce.com.",
            required=True,
            target=True,
        ),
        "client_id": Setting("Client ID", "The consumer key of the connected app.", required=True),
        "client_secret": Setting(
            "Client secret", "The consumer secret of the connected app.", required=True, secret=True
        ),
        "refresh_token": Setting(
            "Refresh token",
            "A refresh token for the integration user; without one the client-credentials "
            "flow is used (enable it on the connected app).",
            secret=True,
        ),
        "api_version": Setting("API version", "The REST API version.", default=API_VERSION),
    },
    actions={
        "upsert_lead": Action(
            title="Upsert Lead",
            description="Create or update a Lead matched on an External ID field.",
            fields={
                **_IDENTITY,
                "last_name": _trait("Last Name", "The lead's last name (required).", "last_name"),
                "company": _trait("Company", "The lead's company (required).", "company"),
                "first_name": _trait("First Name", "The lead's first name.", "first_name"),
                "email": _trait("Email", "The lead's email address.", "email"),
                "street": _trait("Street", "Street of the lead's address.", "address.street"),
                "city": _trait("City", "City of the lead's address.", "address.city"),
                "state": _trait("State", "State of the lead's address.", "address.state"),
                "postal_code": _trait("Postal Code", "Postal code.", "address.postal_code"),
                "country": _trait("Country", "Country of the lead's address.", "address.country"),
                "custom_fields": _CUSTOM,
            },
            perform=upsert_lead,
            perform_batch=upsert_leads,
            max_batch=COLLECTION_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "upsert_contact": Action(
            title="Upsert Contact",
            description="Create or update a Contact matched on an External ID field.",
            fields={
                **_IDENTITY,
                "last_name": _trait(
                    "Last Name", "The contact's last name (required).", "last_name"
                ),
                "first_name": _trait("First Name", "The contact's first name.", "first_name"),
                "email": _trait("Email", "The contact's email address.", "email"),
                "account_id": Field("Account ID", "The Id of the contact's Account.", "string"),
                "mailing_street": _trait("Mailing Street", "Mailing street.", "address.street"),
                "mailing_city": _trait("Mailing City", "Mailing city.", "address.city"),
                "mailing_state": _trait("Mailing State", "Mailing state.", "address.state"),
                "mailing_postal_code": _trait(
                    "Mailing Postal Code", "Mailing postal code.", "address.postal_code"
                ),
                "mailing_country": _trait("Mailing Country", "Mailing country.", "address.country"),
                "custom_fields": _CUSTOM,
            },
            perform=upsert_contact,
            perform_batch=upsert_contacts,
            max_batch=COLLECTION_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
    },
    test_authentication=test_authentication,
    delete=delete_person,
    # No presets: every subscription first needs the org's External ID field (Segment's
    # Salesforce (Actions) offers none either). No per-second limit: Salesforce counts API
    # requests per 24 hours per org.
)

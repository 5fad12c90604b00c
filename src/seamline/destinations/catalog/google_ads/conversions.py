"""Offline conversions: clicks (with a gclid, gbraid or wbraid, or hashed user identifiers for
enhanced conversions for leads) and calls.

`POST customers/{id}:uploadClickConversions` with `{conversions: [{conversionAction:
customers/{id}/conversionActions/{action}, conversionDateTime: "yyyy-mm-dd hh:mm:ss+hh:mm",
gclid | gbraid | wbraid | userIdentifiers, conversionValue, currencyCode, orderId, consent}],
partialFailure: true, validateOnly}`, at most 2,000 conversions per request;
`customers/{id}:uploadCallConversions` likewise with `callerId` (E.164) and
`callStartDateTime`. With partialFailure Google answers 200 and names the conversions it refused
in `partialFailureError` (by their index in `conversions`): each fails alone, the others count.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from seamline.destinations.catalog._ad_events import (
    Outcome,
    event_time,
    raise_outcome,
    send_each,
)
from seamline.destinations.catalog.google_ads import api
from seamline.destinations.catalog.google_ads.identifiers import user_identifiers
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.hashing import phone_e164_with_country

MAX_CONVERSIONS = 2_000  # per upload request
CONSENT = ("GRANTED", "DENIED", "UNSPECIFIED")
_ACTION_ID = re.compile(r"[0-9]{1,20}")


def google_time(when: dt.datetime) -> str:
    """Google's conversion time format: `yyyy-mm-dd hh:mm:ss+|-hh:mm`."""
    return when.isoformat(sep=" ", timespec="seconds")


def _action(ctx: Context, raw: Any, where: str) -> str:
    customer = api.customer_id(ctx.settings.get("customer_id"))
    text = str(raw or "").strip().rsplit("/", 1)[-1]  # an id, or the resource name
    if not _ACTION_ID.fullmatch(text):
        raise InvalidPayload(f"conversion_action must be a conversion action id{where}")
    return f"customers/{customer}/conversionActions/{text}"


def _common(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    when = event_time(payload.get("conversion_time"), where, None)
    conversion: dict[str, Any] = {
        "conversionAction": _action(ctx, payload.get("conversion_action"), where),
        "conversionDateTime": google_time(when),
    }
    if payload.get("value") is not None:
        conversion["conversionValue"] = payload["value"]
    if payload.get("currency"):
        conversion["currencyCode"] = str(payload["currency"]).strip().upper()
    consent = {
        key: payload[field]
        for field, key in (
            ("ad_user_data_consent", "adUserData"),
            ("ad_personalization_consent", "adPersonalization"),
        )
        if payload.get(field) in CONSENT
    }
    if consent:
        conversion["consent"] = consent
    return conversion


def click_conversion(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One ClickConversion, or InvalidPayload when it names no click and no person."""
    conversion = _common(ctx, payload, where)
    clicks = {key: str(payload[key]) for key in ("gclid", "gbraid", "wbraid") if payload.get(key)}
    if len(clicks) > 1:
        # Google refuses a conversion naming more than one click id; the gclid is the most
        # precise of them.
        clicks = {"gclid": clicks["gclid"]} if "gclid" in clicks else dict([clicks.popitem()])
    conversion.update(clicks)
    ids = user_identifiers(payload)
    if ids:
        conversion["userIdentifiers"] = ids
    if not clicks and not ids:
        raise InvalidPayload(
            f"a click conversion needs a gclid, gbraid, wbraid or an email or phone{where}"
        )
    if payload.get("order_id"):
        conversion["orderId"] = str(payload["order_id"])
    return conversion


def call_conversion(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One CallConversion, or InvalidPayload without the caller or the call's start."""
    conversion = _common(ctx, payload, where)
    caller = phone_e164_with_country(
        str(payload.get("caller_id") or ""), payload.get("phone_country_code") or "+1"
    )
    if not caller:
        raise InvalidPayload(f"a call conversion needs the caller's phone number{where}")
    started = payload.get("call_time")
    if started in (None, ""):
        raise InvalidPayload(f"a call conversion needs the time the call started{where}")
    conversion["callerId"] = caller
    conversion["callStartDateTime"] = google_time(event_time(started, where, None))
    return conversion


def _upload(ctx: Context, method: str, conversions: list[dict[str, Any]]) -> Sequence[Outcome]:
    customer = api.customer_id(ctx.settings.get("customer_id"))
    body: dict[str, Any] = {"conversions": conversions, "partialFailure": True}
    if ctx.settings.get("validate_only"):
        body["validateOnly"] = True
    answer = api.call(ctx, f"customers/{customer}:{method}", body).json()
    return api.item_failures(answer, "conversions", len(conversions))


def upload_click_conversions(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Upload click conversions, 2,000 per request; each payload's outcome (None: counted)."""
    return send_each(
        payloads,
        lambda payload, where: click_conversion(ctx, payload, where),
        lambda conversions: _upload(ctx, "uploadClickConversions", conversions),
        MAX_CONVERSIONS,
    )


def upload_click_conversion(ctx: Context, payload: dict[str, Any]) -> None:
    """Upload one click conversion."""
    raise_outcome(upload_click_conversions(ctx, [payload]))


def upload_call_conversions(ctx: Context, payloads: list[dict[str, Any]]) -> list[Outcome]:
    """Upload call conversions, 2,000 per request; each payload's outcome (None: counted)."""
    return send_each(
        payloads,
        lambda payload, where: call_conversion(ctx, payload, where),
        lambda conversions: _upload(ctx, "uploadCallConversions", conversions),
        MAX_CONVERSIONS,
    )


def upload_call_conversion(ctx: Context, payload: dict[str, Any]) -> None:
    """Upload one call conversion."""
    raise_outcome(upload_call_conversions(ctx, [payload]))

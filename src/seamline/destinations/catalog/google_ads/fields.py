"""The Google Ads actions' fields and their default mappings."""

from __future__ import annotations

from typing import Any

from seamline.destinations.catalog.google_ads.conversions import CONSENT
from seamline.destinations.definition import Field
from seamline.destinations.shaping import first_of, path


def _text(label: str, description: str, default: Any = None, required: bool = False) -> Field:
    return Field(label, description, "string", required=required, default=default)


_EMAIL = _text(
    "Email",
    "Trimmed, lowercased (Gmail dots removed), SHA-256 hashed; a SHA-256 is sent as it is.",
    first_of("$.properties.email", "$.context.traits.email", "$.traits.email"),
)
_PHONE = _text(
    "Phone",
    "E.164 (the country code below is added when the number has none), SHA-256 hashed.",
    first_of("$.properties.phone", "$.context.traits.phone", "$.traits.phone"),
)
_PHONE_COUNTRY = _text(
    "Phone country code",
    "The calling code for numbers written without one, like +44 (default +1).",
)
_CONSENT = {
    "ad_user_data_consent": Field(
        "Ad user data consent", "Consent to send user data to Google.", "string", choices=CONSENT
    ),
    "ad_personalization_consent": Field(
        "Ad personalization consent", "Consent to ad personalisation.", "string", choices=CONSENT
    ),
}
_VALUE = {
    "value": Field(
        "Value",
        "The conversion's value.",
        "number",
        default=first_of("$.properties.revenue", "$.properties.total", "$.properties.value"),
    ),
    "currency": _text("Currency", "ISO 4217 code, like USD.", path("$.properties.currency")),
}
_CONVERSION_ACTION = _text(
    "Conversion action ID",
    "The id of the conversion action (Goals > Conversions > the action's ctId), or its "
    "resource name.",
    required=True,
)

CLICK_CONVERSION = {
    "conversion_action": _CONVERSION_ACTION,
    "gclid": _text(
        "GCLID",
        "The Google click id of the ad click.",
        first_of("$.properties.gclid", "$.context.page.gclid", "$.integrations.Google Ads.gclid"),
    ),
    "gbraid": _text("GBRAID", "The click id for iOS app conversions.", path("$.properties.gbraid")),
    "wbraid": _text("WBRAID", "The click id for iOS web conversions.", path("$.properties.wbraid")),
    "conversion_time": Field(
        "Conversion time", "When it happened.", "datetime", default=path("$.timestamp")
    ),
    "email": _EMAIL,
    "phone": _PHONE,
    "phone_country_code": _PHONE_COUNTRY,
    "order_id": _text(
        "Order ID", "Deduplicates the conversion.", first_of("$.properties.order_id", "$.messageId")
    ),
    **_VALUE,
    **_CONSENT,
}

CALL_CONVERSION = {
    "conversion_action": _CONVERSION_ACTION,
    "caller_id": _text(
        "Caller ID", "The caller's phone number (E.164).", path("$.properties.phone"), True
    ),
    "phone_country_code": _PHONE_COUNTRY,
    "call_time": Field(
        "Call start time",
        "When the call started.",
        "datetime",
        required=True,
        default=path("$.properties.call_start_time"),
    ),
    "conversion_time": Field(
        "Conversion time", "When it happened.", "datetime", default=path("$.timestamp")
    ),
    **_VALUE,
    **_CONSENT,
}

CUSTOMER_MATCH = {
    "user_list_id": _text(
        "User list ID",
        "The Customer Match list (a contact-information list) the audience goes to.",
        required=True,
    ),
    "audience_key": _text(
        "Audience key",
        "The Seamline audience's key; an identify call's trait of that name tells membership.",
        first_of("$.properties.audience_key", "$.context.personas.computation_key"),
    ),
    "in_audience": Field(
        "In audience",
        "True adds, false removes. Unmapped, Audience Entered adds, Audience Exited removes "
        "and an identify call's trait named by the audience key decides.",
        "boolean",
    ),
    "event_name": _text("Event name", "The track event.", path("$.event")),
    "traits": Field("Traits", "An identify call's traits.", "object", default=path("$.traits")),
    "email": _text(
        "Email", _EMAIL.description, first_of("$.context.traits.email", "$.traits.email")
    ),
    "phone": _text(
        "Phone", _PHONE.description, first_of("$.context.traits.phone", "$.traits.phone")
    ),
    "phone_country_code": _PHONE_COUNTRY,
    "first_name": _text(
        "First name",
        "With last name, country and postal code: the address Google matches, hashed.",
        first_of("$.context.traits.firstName", "$.traits.firstName"),
    ),
    "last_name": _text(
        "Last name",
        "Lowercased, hashed.",
        first_of("$.context.traits.lastName", "$.traits.lastName"),
    ),
    "country_code": _text(
        "Country code",
        "Two-letter code, sent in the clear.",
        first_of("$.context.traits.address.country", "$.traits.address.country"),
    ),
    "postal_code": _text(
        "Postal code",
        "Sent in the clear.",
        first_of("$.context.traits.address.postalCode", "$.traits.address.postalCode"),
    ),
}

"""Braze: user attributes, custom events and purchases through `POST {endpoint}/users/track`,
authenticated with a REST API key (Bearer) on the instance's own REST endpoint.

Braze documents that one /users/track request carries at most 75 attribute, 75 event and 75
purchase objects, each needing one of `external_id`, `user_alias`, `braze_id` or `email`.

Deletion (a privacy regulation): `POST {endpoint}/users/delete` (the key needs the
`users.delete` permission) with the person's user ids as `external_ids`, then their emails as
`email_addresses`: Braze takes one kind of identifier per request and at most 50 of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import reported_errors

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

REST_ENDPOINT = "https://rest.iad-01.braze.com"
TRACK_LIMIT = 75  # objects of one kind per /users/track request
DELETE_LIMIT = 50  # identifiers per /users/delete request

_IDENTIFIERS = ("external_id", "user_alias", "braze_id", "email")
_GENDERS = {
    "M": ("man", "male", "m"),
    "F": ("woman", "female", "w", "f"),
    "O": ("other", "o"),
    "N": ("not applicable", "n"),
    "P": ("prefer not to say", "p"),
}


def _parse(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidPayload(f"{field} is not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise InvalidPayload(f"{field} must be a time, got {value!r}")
    return value


def _time(value: Any, field: str) -> str:
    """An ISO 8601 instant in UTC with milliseconds, as Braze's examples and Segment send."""
    when = _parse(value, field)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The identifying part of every track object; InvalidPayload when it identifies nobody."""
    alias = payload.get("user_alias")
    alias = alias if isinstance(alias, dict) else {}
    user = {
        "external_id": payload.get("external_id"),
        "braze_id": payload.get("braze_id"),
        "email": payload.get("email"),
        # A partial alias identifies nobody, so it is sent only when whole.
        "user_alias": alias if alias.get("alias_name") and alias.get("alias_label") else None,
    }
    user = {key: value for key, value in user.items() if value}
    if not user:
        raise InvalidPayload(f"one of {', '.join(_IDENTIFIERS)} is required{where}")
    if payload.get("update_existing_only") is not None:
        user["_update_existing_only"] = bool(payload["update_existing_only"])
    return user


def _where(index: int, count: int) -> str:
    return f" (payload {index} of the batch)" if count > 1 else ""


def _gender(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return next((code for code, names in _GENDERS.items() if value.lower() in names), value)


def _attributes(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    # Traits already mapped to a standard attribute are not repeated as custom attributes.
    reserved = set(_PROFILE_FIELDS) | {"firstName", "lastName", "avatar"}
    custom = payload.get("custom_attributes") or {}
    attributes = {key: value for key, value in custom.items() if key not in reserved}
    standard = {name: payload.get(name) for name in _STANDARD_ATTRIBUTES}
    standard["gender"] = _gender(standard["gender"])
    if payload.get("dob"):
        standard["dob"] = _parse(payload["dob"], "dob").date().isoformat()  # YYYY-MM-DD
    attributes.update({key: value for key, value in standard.items() if value is not None})
    attributes.update(_user(payload, where))
    return attributes


def _event(ctx: Context, payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not payload.get("name"):
        raise InvalidPayload(f"a Braze event needs a name{where}")
    event = _user(payload, where) | {
        "app_id": ctx.settings.get("app_id"),
        "name": payload["name"],
        "time": _time(payload.get("time"), "time"),
        "properties": payload.get("properties"),
    }
    return {key: value for key, value in event.items() if value is not None}


def _purchases(ctx: Context, payload: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """One Braze purchase per product of the order, each carrying the order's properties."""
    products = payload.get("products") or []
    if not products:
        raise InvalidPayload(f"the order has no products to record as purchases{where}")
    base = _user(payload, where) | {
        "app_id": ctx.settings.get("app_id"),
        "time": _time(payload.get("time"), "time"),
    }
    order = {k: v for k, v in (payload.get("properties") or {}).items() if k != "products"}
    purchases = []
    for product in products:
        if not isinstance(product, dict) or not product.get("product_id"):
            raise InvalidPayload(f"every product needs a product_id{where}")
        if not isinstance(product.get("price"), int | float):
            raise InvalidPayload(f"every product needs a numeric price{where}")
        extra = {k: v for k, v in product.items() if k not in _PRODUCT_FIELDS}
        purchase = base | {
            "product_id": str(product["product_id"]),
            "currency": product.get("currency") or "USD",
            "price": product["price"],
            "quantity": product.get("quantity"),
            "properties": extra | order or None,
        }
        purchases.append({key: value for key, value in purchase.items() if value is not None})
    return purchases


def _track(ctx: Context, kind: str, objects: list[dict[str, Any]]) -> None:
    """Send `objects` as the `kind` array of /users/track, 75 per request."""
    base = str(ctx.settings.get("endpoint") or REST_ENDPOINT).rstrip("/")
    headers = {"Authorization": f"Bearer {ctx.settings['api_key']}"}
    for start in range(0, len(objects), TRACK_LIMIT):
        chunk = objects[start : start + TRACK_LIMIT]
        # Segment's Braze destination marks multi-object requests this way.
        batch = {"X-Braze-Batch": "true"} if len(chunk) > 1 else {}
        response = ctx.http.post(f"{base}/users/track", json={kind: chunk}, headers=headers | batch)
        # A 201 can still report objects Braze dropped ("minor errors").
        errors = reported_errors(response)
        if errors:
            listed = "; ".join(
                f"{e.get('input_array')}[{e.get('index')}]: {e.get('type')}" for e in errors
            )
            raise PermanentError(
                f"Braze refused {len(errors)} of {len(chunk)} {kind}: {listed}",
                status=response.status_code,
                response=response.text[:2_000],
            )


def update_profiles(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Update user attributes; every payload is checked before anything is sent."""
    count = len(payloads)
    _track(ctx, "attributes", [_attributes(p, _where(i, count)) for i, p in enumerate(payloads)])


def track_events(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record custom events; every payload is checked before anything is sent."""
    count = len(payloads)
    _track(ctx, "events", [_event(ctx, p, _where(i, count)) for i, p in enumerate(payloads)])


def track_purchases(ctx: Context, payloads: list[dict[str, Any]]) -> None:
    """Record each order's products as purchases; every payload is checked first."""
    count = len(payloads)
    purchases = [x for i, p in enumerate(payloads) for x in _purchases(ctx, p, _where(i, count))]
    _track(ctx, "purchases", purchases)


def update_profile(ctx: Context, payload: dict[str, Any]) -> None:
    """Update one user's attributes."""
    update_profiles(ctx, [payload])


def track_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one custom event."""
    track_events(ctx, [payload])


def track_purchase(ctx: Context, payload: dict[str, Any]) -> None:
    """Record one order's products as purchases."""
    track_purchases(ctx, [payload])


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the person's profiles: by external id (their user ids), then by email."""
    base = str(ctx.settings.get("endpoint") or REST_ENDPOINT).rstrip("/")
    headers = {"Authorization": f"Bearer {ctx.settings['api_key']}"}
    for kind, values in (("external_ids", person.user_ids), ("email_addresses", person.emails)):
        for start in range(0, len(values), DELETE_LIMIT):
            chunk = values[start : start + DELETE_LIMIT]
            ctx.http.post(f"{base}/users/delete", json={kind: chunk}, headers=headers)


def _field(label: str, description: str, path: str | None = None, type_: Any = "string") -> Field:
    return Field(label, description, type_, default={"@path": path} if path else None)


_USER_FIELDS = {
    "external_id": _field("External User ID", "The user's external id.", "$.userId"),
    "user_alias": Field(
        "User Alias Object",
        "A user alias: both alias_name and alias_label.",
        "object",
        properties={
            "alias_name": _field("Alias Name", "The alias name."),
            "alias_label": _field("Alias Label", "The alias label."),
        },
    ),
    "braze_id": _field("Braze User Identifier", "Braze's id of the user.", "$.properties.braze_id"),
    "update_existing_only": Field(
        "Update Existing Only",
        "Only update users that already exist in Braze.",
        "boolean",
        default=False,
    ),
}
_STANDARD_ATTRIBUTES = (
    "email", "first_name", "last_name", "phone", "gender", "home_city", "country", "image_url",
)  # fmt: skip
_PROFILE_FIELDS = {
    **_USER_FIELDS,
    "email": _field("Email", "The user's email.", "$.traits.email"),
    "first_name": _field("First Name", "The user's first name.", "$.traits.firstName"),
    "last_name": _field("Last Name", "The user's last name.", "$.traits.lastName"),
    "phone": _field("Phone Number", "The user's phone number.", "$.traits.phone"),
    "gender": _field(
        "Gender", "M, F, O, N or P; common spellings are converted.", "$.traits.gender"
    ),
    "home_city": _field("Home City", "The user's home city.", "$.traits.address.city"),
    "country": _field("Country", "The user's country.", "$.context.location.country"),
    "image_url": _field("Image URL", "The user's avatar.", "$.traits.avatar"),
    "dob": _field("Date of Birth", "The user's date of birth.", type_="datetime"),
    "custom_attributes": _field("Custom Attributes", "Other attributes.", "$.traits", "object"),
}
_EVENT_FIELDS = {
    **_USER_FIELDS,
    "email": _field("Email", "The user's email.", "$.traits.email"),
    "time": Field("Time", "When it happened.", "datetime", True, default={"@path": "$.receivedAt"}),
}
_PRODUCT_FIELDS = {
    "product_id": Field("Product ID", "The product's id.", "string", required=True),
    "currency": _field("Currency", "ISO 4217 code; USD when unset."),
    "price": Field("Price", "The unit price.", "number", required=True),
    "quantity": Field("Quantity", "How many; 1 when unset.", "integer"),
}

DESTINATION = Destination(
    slug="braze",
    name="Braze",
    description="Send user attributes, custom events and purchases to Braze's REST API.",
    settings={
        "api_key": Setting(
            "REST API key", "A key with the users.track permission.", required=True, secret=True
        ),
        "endpoint": Setting(
            "REST endpoint",
            "Your instance's REST endpoint, e.g. https://rest.iad-01.braze.com or "
            "https://rest.fra-01.braze.eu.",
            required=True,
            default=REST_ENDPOINT,
            target=True,
        ),
        "app_id": Setting("App ID", "The app identifier sent with events and purchases."),
    },
    actions={
        "update_user_profile": Action(
            title="Update User Profile",
            description="Update a user's profile attributes in Braze.",
            fields=_PROFILE_FIELDS,
            perform=update_profile,
            perform_batch=update_profiles,
            max_batch=TRACK_LIMIT,
            default_trigger='type = "identify"',
            ordered=True,
        ),
        "track_event": Action(
            title="Track Event",
            description="Record a custom event in Braze.",
            fields={
                **_EVENT_FIELDS,
                "name": Field(
                    "Event Name", "The event name.", "string", True, default={"@path": "$.event"}
                ),
                "properties": _field(
                    "Event Properties", "Properties of the event.", "$.properties", "object"
                ),
            },
            perform=track_event,
            perform_batch=track_events,
            max_batch=TRACK_LIMIT,
            default_trigger='type = "track" and event != "Order Completed"',
        ),
        "track_purchase": Action(
            title="Track Purchase",
            description="Record each product of a completed order as a Braze purchase.",
            fields={
                **_EVENT_FIELDS,
                "products": Field(
                    "Products",
                    "The products bought; other keys of a product become purchase properties.",
                    "object",
                    required=True,
                    multiple=True,
                    default={"@path": "$.properties.products"},
                    properties=_PRODUCT_FIELDS,
                ),
                "properties": _field(
                    "Event Properties", "Properties of the order.", "$.properties", "object"
                ),
            },
            perform=track_purchase,
            perform_batch=track_purchases,
            max_batch=TRACK_LIMIT,
            default_trigger='type = "track" and event = "Order Completed"',
        ),
    },
    delete=delete_person,
    presets=(
        Preset("Track Calls", "track_event", 'type = "track" and event != "Order Completed"'),
        Preset(
            "Order Completed Calls",
            "track_purchase",
            'type = "track" and event = "Order Completed"',
        ),
        Preset("Identify Calls", "update_user_profile", 'type = "identify"'),
    ),
    # /users/track: 3,000 requests per 3 seconds (Braze's base limit since October 2024).
    rate_limit=1000.0,
)

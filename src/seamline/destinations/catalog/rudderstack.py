"""RudderStack: every message forwarded to a RudderStack source through its data plane's HTTP
API (`POST {data plane}/v1/batch`, Basic auth with the source's write key), which takes
Segment's Spec unchanged.

RudderStack takes at most 32 KB per message and 4 MB per batch request. It answers 200 `OK`,
400 for a body it cannot read, 401 `Invalid write key` (permanent), 413 for a body over its
limit, and 429 or 5xx when overloaded (retried). Messages keep their messageId, which its
deduplication uses.

Deletion: with a personal access token and the destination ids to delete from, a
`suppress_with_delete` regulation (the User Suppression API, `POST /v2/regulations`, an
Enterprise feature). RudderStack has no delete-only regulation, so the person is also
suppressed there from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog._tracking_api import (
    PRESETS,
    Limits,
    forward,
    forward_action,
)
from seamline.destinations.definition import Context, Destination, Setting
from seamline.destinations.errors import CannotDelete, DeliveryError, PermanentError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

LIMITS = Limits(message=32_000, request=4_000_000)
REGIONS = {"us": "https://api.rudderstack.com", "eu": "https://api.eu.rudderstack.com"}


def _data_plane(ctx: Context) -> str:
    url = ctx.settings.get("data_plane_url")
    if not isinstance(url, str) or not url.strip():
        raise PermanentError("the data_plane_url setting is missing")
    return url.strip()


def send_batch(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Forward a batch; one outcome per payload."""
    return forward(ctx, _data_plane(ctx), payloads, LIMITS)


def send(ctx: Context, payload: dict[str, Any]) -> None:
    """Forward one message."""
    outcome = send_batch(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def delete_person(ctx: Context, person: Person) -> None:
    """Ask RudderStack to suppress and delete the person in the configured destinations."""
    token = ctx.settings.get("personal_access_token")
    destinations = [
        d.strip() for d in str(ctx.settings.get("deletion_destination_ids") or "").split(",")
    ]
    destinations = [d for d in destinations if d]
    if not token or not destinations:
        raise CannotDelete(
            "set personal_access_token and deletion_destination_ids to delete people"
        )
    users: list[dict[str, str]] = [{"userId": u} for u in person.user_ids]
    users += [{"anonymousId": a} for a in person.anonymous_ids]
    if not users:
        return  # nobody RudderStack could have heard of
    region = str(ctx.settings.get("region") or "us")
    base = str(ctx.settings.get("api_endpoint") or REGIONS.get(region, REGIONS["us"]))
    ctx.http.post(
        base.rstrip("/") + "/v2/regulations",
        json={
            "regulationType": "suppress_with_delete",
            "destinationIds": destinations,
            "users": users,
        },
        headers={"Authorization": f"Bearer {token}"},
    )


DESTINATION = Destination(
    slug="rudderstack",
    name="RudderStack",
    description="Forward every message to a RudderStack source through its data plane.",
    settings={
        "write_key": Setting(
            "Write key", "The RudderStack source's write key.", required=True, secret=True
        ),
        "data_plane_url": Setting(
            "Data plane URL",
            "Your data plane, like https://yourcompany.dataplane.rudderstack.com.",
            required=True,
            target=True,
        ),
        "region": Setting(
            "Region", "us or eu: where the RudderStack workspace is (for deletion).", default="us"
        ),
        "personal_access_token": Setting(
            "Personal access token",
            "A RudderStack token allowed to create regulations.",
            secret=True,
        ),
        "deletion_destination_ids": Setting(
            "Destinations to delete from",
            "RudderStack destination ids, comma-separated, that deletions are sent to.",
        ),
        "api_endpoint": Setting(
            "API endpoint", "Overrides the region's API URL (for deletion).", target=True
        ),
    },
    actions={"send": forward_action("RudderStack", send, send_batch)},
    test_authentication=None,  # no read-only call takes a write key
    delete=delete_person,
    presets=PRESETS,
)

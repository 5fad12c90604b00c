"""Segment: every message forwarded to a Segment source through its HTTP Tracking API
(`POST /v1/batch`, Basic auth with the source's write key), so a workspace can keep Segment
fed while it moves to Seamline, or feed both.

Segment takes at most 32 KB per message and 500 KB per batch request. It answers 200 to every
request it can read, even with an unknown write key (so there is no way to check the key), and
400 to a body that is too large or not JSON (permanent); a 429 or 5xx is retried. Messages
keep their messageId, which Segment deduplicates on.

Deletion: with a Public API token, a `DELETE_ONLY` regulation for the person's user ids
(`POST /regulations` on the Public API, at most 5,000 ids per call). Segment regulates by
userId only, so a person known only by anonymous ids cannot be deleted there.
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
from seamline.destinations.errors import CannotDelete, DeliveryError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

LIMITS = Limits(message=32_000, request=500_000)
MAX_REGULATED = 5_000  # user ids per Public API regulation
REGIONS = {
    "us": ("https://api.segment.io", "https://api.segmentapis.com"),
    "eu": ("https://events.eu1.segmentapis.com", "https://eu1.api.segmentapis.com"),
}


def _endpoints(ctx: Context) -> tuple[str, str]:
    tracking, public = REGIONS.get(str(ctx.settings.get("region") or "us"), REGIONS["us"])
    return (
        str(ctx.settings.get("endpoint") or tracking),
        str(ctx.settings.get("public_api_endpoint") or public),
    )


def send_batch(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Forward a batch; one outcome per payload."""
    return forward(ctx, _endpoints(ctx)[0], payloads, LIMITS)


def send(ctx: Context, payload: dict[str, Any]) -> None:
    """Forward one message."""
    outcome = send_batch(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def delete_person(ctx: Context, person: Person) -> None:
    """Ask Segment to delete the person's user ids (a DELETE_ONLY regulation)."""
    token = ctx.settings.get("public_api_token")
    if not token:
        raise CannotDelete("set public_api_token (a Segment Public API token) to delete people")
    if not person.user_ids:
        raise CannotDelete("Segment deletes by userId, and this person has none")
    url = _endpoints(ctx)[1].rstrip("/") + "/regulations"
    for start in range(0, len(person.user_ids), MAX_REGULATED):
        ctx.http.post(
            url,
            json={
                "regulationType": "DELETE_ONLY",
                "subjectType": "USER_ID",
                "subjectIds": person.user_ids[start : start + MAX_REGULATED],
            },
            headers={"Authorization": f"Bearer {token}"},
        )


DESTINATION = Destination(
    slug="segment",
    name="Segment",
    description="Forward every message to a Segment source through its HTTP Tracking API.",
    settings={
        "write_key": Setting(
            "Write key", "The Segment source's write key.", required=True, secret=True
        ),
        "region": Setting("Region", "us or eu: where the Segment workspace is.", default="us"),
        "endpoint": Setting(
            "Tracking API endpoint",
            "Overrides the region's Tracking API URL (a proxy, say).",
            target=True,
        ),
        "public_api_token": Setting(
            "Public API token",
            "A Segment Public API token with the Source Admin role, to delete people.",
            secret=True,
        ),
        "public_api_endpoint": Setting(
            "Public API endpoint", "Overrides the region's Public API URL.", target=True
        ),
    },
    actions={"send": forward_action("Segment", send, send_batch)},
    test_authentication=None,  # Segment answers 200 to any write key
    delete=delete_person,
    presets=PRESETS,
)

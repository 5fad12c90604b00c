"""Customer Match: Engage audience membership synced to a Google Ads customer list.

For each user list and direction in a batch, one offline user data job:
`POST customers/{id}/offlineUserDataJobs:create` with `{job: {type: CUSTOMER_MATCH_USER_LIST,
customerMatchUserListMetadata: {userList: customers/{id}/userLists/{list}}}}` answers the job's
`resourceName`; `POST {resourceName}:addOperations` with `{operations: [{create | remove:
{userIdentifiers}}], enablePartialFailure: true}` sends the people, at most 10,000 identifiers
per request (Google's recommendation; its hard limit is 100,000, and 20 per person); `POST
{resourceName}:run` starts the job, which Google processes within hours. An operation the
partial failure names fails only its own payload.

Adds and removals go to separate jobs, so Google never sees both for one list at once; a
person changing twice in one batch is sent once, with the later change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog._ad_events import (
    AUDIENCE_TRIGGER,
    in_audience,
    latest_changes,
    raise_outcome,
)
from seamline.destinations.catalog.google_ads import api
from seamline.destinations.catalog.google_ads.identifiers import user_identifiers
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    CannotDelete,
    DeliveryError,
    InvalidPayload,
    PermanentError,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

MAX_IDENTIFIERS = 10_000  # per addOperations request
MAX_PEOPLE = 5_000  # payloads per delivery batch
TRIGGER = AUDIENCE_TRIGGER
_LIST_ID = re.compile(r"[0-9]{1,20}")

Change = tuple[str, bool, str]  # (user list id, add rather than remove, identifiers as JSON key)


def _list_id(raw: Any) -> str:
    text = str(raw or "").strip().rsplit("/", 1)[-1]  # an id, or a userLists resource name
    if not _LIST_ID.fullmatch(text):
        raise InvalidPayload(f"user_list_id must be a Customer Match list id, got {raw!r}")
    return text


def _run_job(
    ctx: Context, customer: str, user_list: str, operation: str, people: list[list[dict[str, Any]]]
) -> list[DeliveryError | None]:
    """One job adding (`create`) or removing (`remove`) people; each person's outcome."""
    job = {
        "job": {
            "type": "CUSTOMER_MATCH_USER_LIST",
            "customerMatchUserListMetadata": {
                "userList": f"customers/{customer}/userLists/{user_list}"
            },
        }
    }
    created = api.call(ctx, f"customers/{customer}/offlineUserDataJobs:create", job).json()
    resource = created.get("resourceName") if isinstance(created, dict) else None
    if not isinstance(resource, str) or not resource.startswith(f"customers/{customer}/"):
        raise PermanentError(f"Google Ads created no offline user data job: {created}")
    outcomes: list[DeliveryError | None] = []
    start = 0
    while start < len(people):
        end, count = start, 0
        while end < len(people) and (end == start or count + len(people[end]) <= MAX_IDENTIFIERS):
            count += len(people[end])
            end += 1
        operations = [{operation: {"userIdentifiers": ids}} for ids in people[start:end]]
        answer = api.call(
            ctx,
            f"{resource}:addOperations",
            {"operations": operations, "enablePartialFailure": True},
        ).json()
        outcomes += api.item_failures(answer, "operations", end - start)
        start = end
    api.call(ctx, f"{resource}:run")
    return outcomes


def _change(payload: Mapping[str, Any]) -> tuple[str, bool, list[dict[str, Any]]]:
    """(user list, add rather than remove, the person's identifiers) or InvalidPayload."""
    user_list = _list_id(payload.get("user_list_id"))
    ids = user_identifiers(payload)
    if not ids:
        raise InvalidPayload("no email, phone or whole address to match the person with")
    return user_list, in_audience(payload), ids


def sync_audiences(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Add and remove people, one job per (user list, direction); each payload's outcome."""
    outcomes: list[DeliveryError | None] = [None] * len(payloads)
    groups = latest_changes(payloads, _change, outcomes)
    customer = api.customer_id(ctx.settings.get("customer_id"))
    for (user_list, add), members in groups.items():
        try:
            results = _run_job(
                ctx, customer, user_list, "create" if add else "remove", [ids for ids, _ in members]
            )
        except DeliveryError as error:
            results = [error] * len(members)
        for (_, indexes), result in zip(members, results, strict=True):
            for index in indexes:
                outcomes[index] = result
    return outcomes


def sync_audience(ctx: Context, payload: dict[str, Any]) -> None:
    """Add or remove one person."""
    raise_outcome(sync_audiences(ctx, [payload]))


def delete_person(ctx: Context, person: Person) -> None:
    """Remove the person from every user list the subscriptions name by a literal id."""
    lists = []
    for raw in ctx.mapped_literals("user_list_id", "customer_match"):
        try:
            lists.append(_list_id(raw))
        except InvalidPayload:
            continue
    if not lists:
        raise CannotDelete("no subscription names a Customer Match list id to remove them from")
    people = [ids for e in person.emails if (ids := user_identifiers({"email": e}))]
    people += [ids for p in person.values_of("phone") if (ids := user_identifiers({"phone": p}))]
    if not people:
        return  # nothing Google could match the person by
    customer = api.customer_id(ctx.settings.get("customer_id"))
    for user_list in lists:
        failed = [r for r in _run_job(ctx, customer, user_list, "remove", people) if r]
        if failed:
            raise failed[0]

"""Deleting a person from one destination instance, for a privacy regulation.

The regulation engine calls `delete_person` once per destination instance of the workspace
with the resolved `Person` and records what comes back: FINISHED (the tool accepted the
deletion; several tools then take days to carry it out), NOT_SUPPORTED with the reason, or
an exception: `RetryableError` (try again later, with `retry_in`'s backoff) or
`PermanentError` (FAILED, its message the reason).

The destination's `delete` gets the same Context a delivery gets: the instance's settings
with secrets unsealed, an `Http` over `destination_client` (so the private-network guard
applies to deletions exactly as to deliveries), the delivery timeout, and the instance's
subscriptions, which say where people were sent when that is mapped per subscription.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import httpx

from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context, Subscribed
from seamline.destinations.delivery import RetryPolicy
from seamline.destinations.errors import CannotDelete, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.instances import CompiledDestination

if TYPE_CHECKING:
    from seamline.privacy.subject import Person


@dataclass(frozen=True)
class Deletion:
    """What one destination did with a deletion; `reason` says why when NOT_SUPPORTED."""

    status: Literal["FINISHED", "NOT_SUPPORTED"]
    reason: str = ""


def context_for(instance: CompiledDestination, client: httpx.Client, timeout: float) -> Context:
    """The Context a delivery to `instance` would get, with its subscriptions' mappings."""
    return Context(
        settings=instance.settings,
        http=Http(client, timeout, instance.secret_values()),
        subscriptions=tuple(
            Subscribed(s.action_key, s.mapper.mapping) for s in instance.subscriptions
        ),
    )


def delete_now(
    instance: CompiledDestination, person: Person, client: httpx.Client, timeout: float
) -> Deletion:
    """Delete `person` from `instance` through `client` (blocking); Retryable and
    PermanentError propagate."""
    delete = instance.definition.delete
    if delete is None:
        return Deletion("NOT_SUPPORTED", f"{instance.definition.name} has no deletion API")
    try:
        delete(context_for(instance, client, timeout), person)
    except CannotDelete as error:
        return Deletion("NOT_SUPPORTED", error.message)
    return Deletion("FINISHED")


async def delete_person(
    instance: CompiledDestination,
    person: Person,
    *,
    timeout: float,
    allow_private: Sequence[str] = (),
) -> Deletion:
    """Delete `person` from `instance` in a worker thread, through a client that reaches only
    public addresses plus `allow_private` (the `destinations_allow_private` setting)."""

    def run() -> Deletion:
        with destination_client(allow_private) as client:
            return delete_now(instance, person, client, timeout)

    return await asyncio.to_thread(run)


def retry_in(
    error: RetryableError,
    attempts: int,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before attempt `attempts + 1` of a deletion that failed with `error`: the
    tool's Retry-After, else the deliveries' exponential backoff with jitter."""
    return (policy or RetryPolicy()).delay(attempts, error.retry_after, rng or random.Random())

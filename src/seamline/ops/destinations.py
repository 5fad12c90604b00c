"""Operations on a destination instance that cross layers: replaying stored events, the
event tester and the credentials check. The API and CLI call these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from seamline.destinations.client import destination_client
from seamline.destinations.definition import Action, Context
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.destinations.instances import CompiledDestination
from seamline.destinations.mapping import validate_payload
from seamline.errors import InvalidInput, NotFound
from seamline.pipeline.route_stage import route
from seamline.privacy.egress import Egress
from seamline.store.events_lake import LakeEventStore
from seamline.store.outbox_sql import SqlOutbox, new_delivery

PAGE = 1_000


class DestinationOps:
    def __init__(
        self,
        destinations: Callable[[str], dict[str, CompiledDestination]],
        egress: Callable[[str], Egress],
        outbox: SqlOutbox,
        events: LakeEventStore,
        queued: Callable[[], None],
        timeout: float,
        allow_private: Sequence[str] = (),
    ) -> None:
        self._destinations = destinations
        self._egress = egress
        self._outbox = outbox
        self._events = events
        self._queued = queued
        self._timeout = timeout
        self._allow_private = tuple(allow_private)

    def instance(self, workspace_id: str, name: str) -> CompiledDestination:
        found = self._destinations(workspace_id).get(name)
        if found is None:
            raise NotFound(f"no enabled destination named {name!r}")
        return found

    async def replay(self, workspace_id: str, name: str, start: datetime, end: datetime) -> int:
        return await asyncio.to_thread(self.replay_now, workspace_id, name, start, end)

    def replay_now(self, workspace_id: str, name: str, start: datetime, end: datetime) -> int:
        """Queue the stored events with start <= timestamp < end for `name` again, through
        today's consent, controls, filters, triggers and mappings. Each replay is its own
        delivery (a replay's key carries its time), so replayed events are sent again."""
        instance = self.instance(workspace_id, name)
        egress = self._egress(workspace_id)
        stamp = datetime.now(UTC)
        tag = stamp.strftime("%Y%m%dT%H%M%S%f")
        after, queued = -1, 0
        while True:
            page = self._events.messages_between(start, end, after, PAGE)
            if not page:
                return queued
            rows: list[dict[str, Any]] = []
            for offset, message in page:
                routed = route(instance, egress, message)
                if isinstance(routed, str):
                    continue
                message_id = str(message.get("messageId") or offset)
                for subscription, payload in routed:
                    if isinstance(payload, InvalidPayload):
                        continue
                    rows.append(
                        new_delivery(
                            workspace_id,
                            name,
                            subscription,
                            message_id,
                            payload,
                            stamp,
                            delivery_key=f"{message_id}#replay-{tag}",
                            profile_key=message.get("userId") or message.get("anonymousId"),
                        )
                    )
            self._outbox.enqueue(rows)
            queued += len(rows)
            self._queued()
            after = page[-1][0]

    async def test(
        self, workspace_id: str, name: str, event: dict[str, Any], only: str | None
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._test, workspace_id, name, event, only)

    def _test(
        self, workspace_id: str, name: str, event: dict[str, Any], only: str | None
    ) -> list[dict[str, Any]]:
        """Send one event through the instance's subscriptions (or `only` that one) for
        real, and report what each did: triggered or not, the payload, every request sent
        with its response, and the error if any."""
        instance = self.instance(workspace_id, name)
        subscriptions = [s for s in instance.subscriptions if only in (None, s.name)]
        if only is not None and not subscriptions:
            raise NotFound(f"destination {name!r} has no enabled subscription {only!r}")
        prepared = self._egress(workspace_id).prepare(name, event)
        view = instance.filtered(prepared.message) if prepared.message is not None else None
        results: list[dict[str, Any]] = []
        with destination_client(self._allow_private) as client:
            for subscription in subscriptions:
                result: dict[str, Any] = {"subscription": subscription.name}
                results.append(result)
                if view is None:
                    result["filtered"] = prepared.reason or "filter"
                    continue
                result["triggered"] = subscription.trigger(view)
                if not result["triggered"]:
                    continue
                try:
                    payload = validate_payload(
                        subscription.mapper(view), subscription.action.fields
                    )
                except InvalidPayload as error:
                    result["error"] = error.message
                    continue
                result["payload"] = payload
                http = Http(client, self._timeout, instance.secret_values())
                context = Context(settings=instance.settings, http=http)
                result.update(_outcome(subscription.action, context, payload))
                result["requests"] = [
                    {
                        "method": x.method,
                        "url": x.url,
                        "headers": x.request_headers,
                        "body": x.request_body,
                        "status": x.status,
                        "response": x.response_body,
                    }
                    for x in http.exchanges
                ]
        return results

    async def check_authentication(self, workspace_id: str, name: str) -> None:
        instance = self.instance(workspace_id, name)
        check = instance.definition.test_authentication
        if check is None:
            raise InvalidInput(f"{instance.definition.name} has no credentials check")

        def run() -> None:
            with destination_client(self._allow_private) as client:
                try:
                    http = Http(client, self._timeout, instance.secret_values())
                    check(Context(settings=instance.settings, http=http))
                except PermanentError as error:
                    raise InvalidInput(f"the credentials were refused: {error.message}") from None
                except DeliveryError as error:
                    raise InvalidInput(f"the check could not finish: {error.message}") from None

        await asyncio.to_thread(run)


def _outcome(action: Action, context: Context, payload: dict[str, Any]) -> dict[str, Any]:
    """Whether the action delivered: it raised nothing, a batch call reported no failed
    item, and its last request (if it sent one) was answered 2xx. Otherwise the error, with
    the answer's status and body when there was one."""
    try:
        if action.perform_batch is not None and action.max_batch > 1:
            # A batch call reports failed items in what it returns instead of raising.
            results = action.perform_batch(context, [payload])
            failed = next((r for r in results or () if isinstance(r, DeliveryError)), None)
            if failed is not None:
                raise failed
        else:
            action.perform(context, payload)
    except DeliveryError as error:
        found: dict[str, Any] = {
            "delivered": False,
            "error": error.message,
            "retryable": error.retryable,
        }
        if error.status is not None:
            found["status"] = error.status
        if error.response is not None:
            found["response"] = error.response
        return found
    last = context.http.exchanges[-1] if context.http.exchanges else None
    if last is not None and not (last.status is not None and 200 <= last.status < 300):
        return {
            "delivered": False,
            "error": f"{last.method} {last.url} answered {last.status}",
            "retryable": False,
            "status": last.status,
            "response": last.response_body,
        }
    return {"delivered": True}

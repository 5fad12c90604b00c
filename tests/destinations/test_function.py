"""Destination functions: Python handlers in the sandbox reaching a local sink through `fetch`,
and what each outcome means for delivery (delivered, retried, dead letter, not supported)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline.destinations.catalog.function import DESTINATION, delete, send, send_batch
from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    CannotDelete,
    DeliveryError,
    PermanentError,
    RetryableError,
)
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import HANG, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.protocols.conftest import Workspace

API_KEY = "sk_live_0123456789"

# A custom integration for an "orders API": the documented shape is checked by `orders_api`.
CODE = textwrap.dedent("""
    import json

    def on_track(event, settings):
        name = event["event"]
        if name == "Order Completed":
            response = fetch(
                settings["url"] + "/v1/orders?key=" + settings["api_key"],
                method="POST",
                headers={"Authorization": "Bearer " + settings["api_key"]},
                json={"order_id": event["properties"]["order_id"], "user": event["userId"]},
            )
            if response.status == 429 or response.status >= 500:
                raise RetryError(f"orders API answered {response.status}")
            if not response.ok:
                raise ValidationError(f"orders API refused: {response.status} {response.text}")
            return response.json()
        if name == "catch fetch":
            try:
                fetch(settings["url"] + "/v1/orders")
            except FetchError as error:
                raise InvalidEventPayload("caught: " + str(error))
        if name == "unsupported":
            raise EventNotSupported("refunds are not sent")
        if name == "invalid":
            raise InvalidEventPayload("no order id")
        if name == "retry":
            raise RetryError("the orders API is down")
        if name == "bug":
            return {}["missing"]
        if name == "crash":
            import os
            os._exit(9)
        if name == "many":
            for _ in range(20):
                fetch(settings["url"] + "/v1/ping")
        if name == "bypass":
            fetch.__self__._max_requests = 1000  # the worker's own check is the function's
            for _ in range(20):
                fetch(settings["url"] + "/v1/ping")
        if name == "thread":
            import threading
            failed = []
            def ping():
                try:
                    fetch(settings["url"] + "/v1/ping")
                except RuntimeError as error:
                    failed.append(str(error))
            thread = threading.Thread(target=ping)
            thread.start()
            thread.join()
            raise ValidationError(failed[0])

    def on_identify(event, settings):
        fetch(
            settings["url"] + "/v1/people/" + event["userId"],
            method="PUT",
            headers={"Content-Type": "application/json", "X-Api-Key": settings["api_key"]},
            body=json.dumps({"email": event["traits"]["email"]}),
        )

    def on_delete(event, settings):
        fetch(settings["url"] + "/v1/people/" + event["userId"], method="DELETE")
""")

BATCH_CODE = textwrap.dedent("""
    def on_track(event, settings):
        raise RetryError("single events are not used when on_batch is defined")

    def on_batch(events, settings):
        if events[0]["event"] == "retry all":
            raise RetryError("batch endpoint down")
        response = fetch(settings["url"] + "/v1/batch", method="POST", json=events)
        return [{"status": item["status"], "errormessage": item.get("error")}
                for item in response.json()["results"]]
""")


def orders_api(received: Received) -> Reply | None:
    """The orders API's documented requests: a bearer token, JSON bodies."""
    if received.headers.get("authorization", "").startswith("Bearer "):
        return None
    if received.path.startswith("/v1/people") and received.headers.get("x-api-key") == API_KEY:
        return None
    if received.path in ("/v1/batch", "/v1/ping"):
        return None
    return Reply(401, {"error": "unauthorized"})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"id": "ord_1"}), orders_api)


STATE: dict[str, Any] = {}  # one runner per code for the module: workers take time to start


@pytest.fixture(scope="module", autouse=True)
def close_runners() -> Iterator[None]:
    yield
    for value in STATE.values():
        if hasattr(value, "close"):
            value.close()


def context(tool: Sink, http: Http, code: str = CODE, **extra: Any) -> Context:
    state = STATE.setdefault(code + repr(sorted(extra.items())), {})
    settings = {
        "function": "orders",
        "code": code,
        "settings": {"url": tool.url},
        "secret_settings": {"api_key": API_KEY},
        **extra,
    }
    return Context(settings=settings, http=http, state=state)


def track(event: str, **properties: Any) -> dict[str, Any]:
    return {
        "event": {
            "type": "track",
            "event": event,
            "userId": "u1",
            "properties": properties,
            "messageId": f"m-{event}",
        }
    }


def test_on_track_sends_the_request_it_builds_and_the_key_is_hidden_in_the_records(
    tool: Sink, http: Http
) -> None:
    ctx = context(tool, http)
    send(ctx, track("Order Completed", order_id="o-17"))

    [got] = tool.received
    assert (got.method, got.path, got.query) == ("POST", "/v1/orders", {"key": [API_KEY]})
    assert got.headers["authorization"] == f"Bearer {API_KEY}"
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {"order_id": "o-17", "user": "u1"}
    [exchange] = ctx.http.exchanges
    assert API_KEY not in exchange.request_text() and API_KEY not in exchange.url
    assert exchange.url.endswith("/v1/orders?key=[hidden]")


def test_on_identify_sends_a_text_body_with_the_secret_in_a_custom_header(
    tool: Sink, http: Http
) -> None:
    event = {"type": "identify", "userId": "u 2", "traits": {"email": "a@example.com"}}
    ctx = context(tool, http)
    send(ctx, {"event": event})

    [got] = tool.received
    assert (got.method, got.path) == ("PUT", "/v1/people/u%202")
    assert got.json() == {"email": "a@example.com"}
    assert API_KEY not in ctx.http.exchanges[-1].request_text()


@pytest.mark.parametrize(
    ("reply", "error", "says"),
    [
        (Reply(401, {"error": "bad key"}), PermanentError, "orders API refused: 401"),
        (Reply(422, {"error": "unknown order"}), PermanentError, "unknown order"),
        (Reply(429, headers={"Retry-After": "30"}), RetryableError, "answered 429"),
        (Reply(500), RetryableError, "answered 500"),
        (Reply(delay=HANG), RetryableError, "timed out"),
    ],
    ids=["401", "422", "429", "500", "hang"],
)
def test_the_tools_answers_become_retry_or_dead_letter_as_the_function_decides(
    tool: Sink, http: Http, reply: Reply, error: type[DeliveryError], says: str
) -> None:
    tool.replies.append(reply)
    with pytest.raises(error) as raised:
        send(context(tool, http), track("Order Completed", order_id="o-1"))
    assert type(raised.value) is error and says in raised.value.message
    if reply.delay:  # an uncaught fetch timeout is a RetryError's kin: retried
        assert "FetchError" in raised.value.message


@pytest.mark.parametrize(
    ("name", "error", "says"),
    [
        ("invalid", PermanentError, "InvalidEventPayload: no order id"),
        ("unsupported", PermanentError, "not supported by the function: EventNotSupported"),
        ("retry", RetryableError, "RetryError: the orders API is down"),
        ("bug", PermanentError, "the function failed: KeyError: 'missing'"),
        ("many", PermanentError, "at most 10 requests"),
        ("crash", RetryableError, "worker exited with code 9"),
        ("thread", PermanentError, "fetch can only be called by a handler, in its own thread"),
    ],
)
def test_what_a_handler_raises_decides_retry_or_dead_letter(
    tool: Sink, patient_http: Http, name: str, error: type[DeliveryError], says: str
) -> None:
    # Not about timeouts: `many` sends ten requests, and one of them outran the short
    # TIMEOUT on a machine twice as slow as usual (a CI run).
    http = patient_http
    with pytest.raises(error) as raised:
        send(context(tool, http), track(name))
    assert type(raised.value) is error and says in raised.value.message
    if name == "bug":
        assert raised.value.response is not None
        assert 'return {}["missing"]' in raised.value.response
    # The runner carries on with the next event.
    send(context(tool, http), track("Order Completed", order_id="o-2"))


def test_the_request_limit_holds_even_when_the_function_lifts_the_workers(
    tool: Sink, patient_http: Http
) -> None:
    with pytest.raises(PermanentError, match="FetchError: a call may send at most 10 requests"):
        send(context(tool, patient_http), track("bypass"))
    assert len(tool.received) == 10


def test_a_type_without_a_handler_is_not_supported(tool: Sink, http: Http) -> None:
    with pytest.raises(PermanentError, match=r"not supported by the function.*no on_page"):
        send(context(tool, http), {"event": {"type": "page", "userId": "u1"}})


def test_a_handler_over_its_time_limit_is_retried(tool: Sink, http: Http) -> None:
    code = "def on_track(event, settings):\n    while True:\n        pass\n"
    with pytest.raises(RetryableError, match=r"the handler took longer than 0\.3 s"):
        send(context(tool, http, code, time_limit=0.3), track("hang"))


def test_fetch_to_a_private_address_is_refused_when_not_allowed(tool: Sink) -> None:
    with destination_client() as client:  # public addresses only, as in production
        ctx = context(tool, Http(client, timeout=1.0))
        with pytest.raises(PermanentError, match=r"caught: .*not sent"):
            send(ctx, track("catch fetch"))
        with pytest.raises(PermanentError, match="FetchError"):
            send(ctx, track("Order Completed", order_id="o-3"))
    assert tool.received == []


def test_on_batch_reports_per_event_statuses(tool: Sink, http: Http) -> None:
    tool.default = Reply(
        200,
        {
            "results": [
                {"status": 200},
                {"status": 400, "error": "bad email"},
                {"status": 503, "error": "busy"},
            ]
        },
    )
    ctx = context(tool, http, BATCH_CODE)
    results = send_batch(ctx, [track("a"), track("b"), track("c")])

    [got] = tool.received
    assert [event["event"] for event in got.json()] == ["a", "b", "c"]
    assert results[0] is None
    assert isinstance(results[1], PermanentError) and "bad email" in results[1].message
    assert isinstance(results[2], RetryableError) and results[2].status == 503
    with pytest.raises(RetryableError, match="batch endpoint down"):
        send_batch(ctx, [track("retry all"), track("b")])


def test_without_on_batch_a_chunk_goes_to_each_events_handler_at_once(
    tool: Sink, http: Http
) -> None:
    results = send_batch(
        context(tool, http),
        [track("Order Completed", order_id="o-4"), track("invalid"), track("retry")],
    )
    assert results[0] is None
    assert isinstance(results[1], PermanentError) and isinstance(results[2], RetryableError)
    assert [got.json()["order_id"] for got in tool.received] == ["o-4"]


def test_on_delete_is_called_per_user_id_and_missing_means_not_supported(
    tool: Sink, http: Http
) -> None:
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u1"), Identifier("email", "a@b.c")}),
        profile_ids=frozenset({"p1"}),
    )
    delete(context(tool, http), person)
    [got] = tool.received
    assert (got.method, got.path) == ("DELETE", "/v1/people/u1")
    with pytest.raises(CannotDelete, match="no on_delete"):
        delete(context(tool, http, BATCH_CODE), person)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("def on_track(event, settings)\n", "could not be loaded"),
        ("def transform(event):\n    return event\n", "defines no handler"),
        ("", "no code for destination function"),
    ],
    ids=["syntax", "no handler", "no code"],
)
def test_code_that_cannot_run_is_a_dead_letter_that_says_why(
    tool: Sink, http: Http, code: str, says: str
) -> None:
    with pytest.raises(PermanentError, match=says):
        send(context(tool, http, code), track("Order Completed", order_id="o-5"))


def test_sealed_secret_settings_read_back_as_text_are_merged(tool: Sink, http: Http) -> None:
    # A sealed object setting is unsealed as the text of a dict.
    ctx = context(tool, http, secret_settings=str({"api_key": API_KEY}))
    send(ctx, track("Order Completed", order_id="o-6"))
    assert tool.received[0].query == {"key": [API_KEY]}
    assert API_KEY not in ctx.http.exchanges[-1].request_text()


def test_the_integration_shown_in_the_docs_sends_what_brevo_documents(
    tool: Sink, http: Http
) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "destinations.md").read_text()
    section = docs.split("## Destination functions", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None and len(code[1].splitlines()) <= 15
    source = code[1].replace("https://api.brevo.com", tool.url)
    tool.check = None
    tool.default = Reply(201, {"id": 42})
    ctx = Context(
        settings={
            "function": "brevo-out",
            "code": source,
            "settings": {"list_id": 7},
            "secret_settings": {"api_key": "xkeysib-0123456789"},
        },
        http=http,
        state=STATE.setdefault("docs", {}),
    )
    identify = {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}
    send(ctx, {"event": identify})

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/v3/contacts")
    assert got.headers["api-key"] == "xkeysib-0123456789"
    assert got.json() == {
        "email": "a@example.com",
        "listIds": [7],
        "updateEnabled": True,
        "attributes": {"FIRSTNAME": ""},
    }
    with pytest.raises(PermanentError, match="InvalidEventPayload"):
        send(ctx, {"event": {"type": "identify", "userId": "u2", "traits": {}}})


def test_definition() -> None:
    action = DESTINATION.actions["send"]
    assert action.perform_batch is not None and action.max_batch == 100
    assert action.fields["event"].default == {"@path": "$."}
    assert DESTINATION.secret_settings() == {"secret_settings"}
    assert DESTINATION.delete is delete
    for kind in ("track", "identify", "group", "page", "screen", "alias"):
        assert f'type = "{kind}"' in action.default_trigger


@pytest.mark.anyio
async def test_a_destination_function_runs_behind_delivery_with_its_secrets_sealed(
    workspace: Workspace, tool: Sink
) -> None:
    await workspace.put("functions", "orders", {"code": CODE, "time_limit": 2})
    await workspace.put(
        "destinations",
        "orders",
        {
            "type": "function",
            "settings": {
                "function": "orders",
                "settings": {"url": tool.url},
                "secret_settings": {"api_key": API_KEY},
            },
        },
    )
    await workspace.put(
        "subscriptions",
        "orders-all",
        {
            "destination": "orders",
            "action": "send",
            "trigger": DESTINATION.actions["send"].default_trigger,
            "mapping": {"event": {"@path": "$."}},
        },
    )
    shown = await workspace.get("destinations/orders")
    assert API_KEY not in str(shown)
    await workspace.send(
        [
            {**track("Order Completed", order_id="o-9")["event"], "messageId": "m1"},
            {**track("invalid")["event"], "messageId": "m2"},
        ]
    )
    for _ in range(300):
        status = await workspace.get("destinations/orders/status")
        if status["pending"] == 0 and status["dead_letters"] == 1 and tool.received:
            break
        await asyncio.sleep(0.05)
    [got] = tool.received
    assert got.json() == {"order_id": "o-9", "user": "u1"}
    assert got.headers["authorization"] == f"Bearer {API_KEY}"
    [dead] = (await workspace.get("destinations/orders/dead-letters"))["data"]
    assert "InvalidEventPayload: no order id" in str(dead)
    assert status["pending"] == 0 and status["dead_letters"] == 1

"""SourceFunctionRunner: `on_request(request, settings)` in the sandboxed worker, emitting Spec
messages through its helpers; whatever a request makes it do, that request gets its outcome and
the runner carries on with the next."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from seamline.errors import InvalidInput
from seamline.protocols.source_functions import SourceFunctionRunner, SourceOutcome

# One function for most tests, choosing what to do by the request's `case` query parameter:
# workers take a tenth of a second to start, so the module shares one.
CODE = textwrap.dedent("""
    import datetime
    import os

    def on_request(request, settings):
        case = request.query.get("case", "stripe")
        if case == "stripe":
            body = request.json()
            customer = body["data"]["object"]
            identify(
                user_id=customer["id"],
                traits={"email": customer["email"]},
                context={"signature": request.headers.get("stripe-signature")},
            )
            track(
                event="Order Completed",
                user_id=customer["id"],
                properties={"total": 12.5, "currency": settings["currency"]},
                timestamp="2026-01-02T03:04:05Z",
                message_id="order-1",
            )
        elif case == "every helper":
            group(group_id="g1", user_id="u1", traits={"name": "Acme"})
            page(name="Home", category="Docs", anonymous_id="a1", properties={"path": "/"})
            screen(name="Feed", user_id="u1", timestamp=datetime.datetime(2026, 1, 2))
            alias(previous_id="old", user_id="u1")
            set("products", "p1", {"name": "Shoe"})
            set(collection="rooms", id=7, properties={})
            track(event=request.method + " " + request.url, user_id=7, properties=request.form())
        elif case == "sets still work":
            seen = set(["a", "a", "b"])
            assert isinstance(seen, set) and seen == {"a", "b"} and set() == frozenset()
            track(event="sets", user_id="u1", properties={"count": len(seen)})
        elif case == "raise":
            raise ValueError("no customer in " + request.text)
        elif case == "settings":
            settings["currency"] = "changed"
            track(event="settings", user_id="u1", properties={"currency": settings["currency"]})
        elif case == "too many":
            try:
                for index in range(10_000):
                    track(event="spam", user_id=str(index))
            except Exception:
                pass  # the limit is not an exception the function can swallow
        elif case == "no identity":
            track(event="Signed Up")
        elif case == "not json":
            track(event="odd", user_id="u1", properties={"value": object()})
        elif case == "big":
            for index in range(20):
                track(event="big", user_id="u1", properties={"text": "x" * 2000})
        elif case == "memory":
            hoard = bytearray(2 * 1024 * 1024 * 1024)
        elif case == "exit":
            os._exit(3)
        elif case == "socket":
            import socket
            socket.socket()
        elif case == "lift the limit":
            import gc  # the worker's own limit is within the function's reach
            [emitted] = [o for o in gc.get_objects() if type(o).__name__ == "Emitted"]
            emitted.max_messages = 10_000
            for index in range(150):
                track(event="spam", user_id=str(index))
        elif case == "wrong keyword":
            track(event="x", userId="u1")
""")


@pytest.fixture(scope="module")
def runner() -> Iterator[SourceFunctionRunner]:
    with SourceFunctionRunner(
        "webhook", CODE, {"currency": "EUR"}, max_messages=100, max_bytes=30_000
    ) as started:
        yield started


def request(case: str, body: str = "", **headers: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "url": "https://seamline.example/v1/webhooks/t0k3n",
        "headers": headers,
        "query": {"case": case},
        "body": body,
    }


STRIPE_BODY = json.dumps(
    {"type": "customer.created", "data": {"object": {"id": "cus_1", "email": "a@example.com"}}}
)


def test_a_json_body_becomes_identify_and_track_messages(runner: SourceFunctionRunner) -> None:
    [outcome] = runner.run([request("stripe", STRIPE_BODY, **{"Stripe-Signature": "t=1,v1=ab"})])
    assert outcome == SourceOutcome(
        "ok",
        messages=[
            {
                "type": "identify",
                "traits": {"email": "a@example.com"},
                "userId": "cus_1",
                "context": {"signature": "t=1,v1=ab"},
            },
            {
                "type": "track",
                "event": "Order Completed",
                "properties": {"total": 12.5, "currency": "EUR"},
                "userId": "cus_1",
                "timestamp": "2026-01-02T03:04:05Z",
                "messageId": "order-1",
            },
        ],
    )


def test_every_helper_builds_its_spec_message_and_set_saves_objects(
    runner: SourceFunctionRunner,
) -> None:
    [outcome] = runner.run([request("every helper", "plan=pro&seats=3&plan=team")])
    assert outcome.status == "ok", outcome.error
    assert outcome.messages == [
        {"type": "group", "groupId": "g1", "traits": {"name": "Acme"}, "userId": "u1"},
        {
            "type": "page",
            "name": "Home",
            "category": "Docs",
            "properties": {"path": "/"},
            "anonymousId": "a1",
        },
        {
            "type": "screen",
            "name": "Feed",
            "userId": "u1",
            "timestamp": "2026-01-02T00:00:00+00:00",  # a naive datetime is UTC
        },
        {"type": "alias", "previousId": "old", "userId": "u1"},
        {
            "type": "track",
            "event": "POST https://seamline.example/v1/webhooks/t0k3n",
            "properties": {"plan": "team", "seats": "3"},
            "userId": "7",
        },
    ]
    assert outcome.objects == [
        {"collection": "products", "id": "p1", "properties": {"name": "Shoe"}},
        {"collection": "rooms", "id": "7", "properties": {}},
    ]


def test_set_is_still_pythons_set_when_not_called_as_the_objects_api(
    runner: SourceFunctionRunner,
) -> None:
    [outcome] = runner.run([request("sets still work")])
    assert outcome.status == "ok", outcome.error
    assert outcome.messages[0]["properties"] == {"count": 2}


def test_an_exception_is_an_error_with_the_users_traceback_and_the_next_request_runs(
    runner: SourceFunctionRunner,
) -> None:
    raised, fine = runner.run([request("raise", "{}"), request("stripe", STRIPE_BODY)])
    assert raised.status == "error" and raised.messages == []
    assert raised.error is not None
    assert 'raise ValueError("no customer in " + request.text)' in raised.error
    assert raised.error.rstrip().endswith("ValueError: no customer in {}")
    assert "function_worker" not in raised.error
    assert fine.status == "ok"


def test_a_body_that_is_not_json_is_the_functions_error(runner: SourceFunctionRunner) -> None:
    [outcome] = runner.run([request("stripe", "<xml/>")])
    assert outcome.status == "error"
    assert outcome.error is not None and "JSONDecodeError" in outcome.error


def test_each_call_gets_its_own_copy_of_the_settings(runner: SourceFunctionRunner) -> None:
    first, second = runner.run([request("settings"), request("stripe", STRIPE_BODY)])
    assert first.messages[0]["properties"] == {"currency": "changed"}
    assert second.messages[1]["properties"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("too many", "a call may emit at most 100 messages and objects"),
        ("lift the limit", "emitted 150 messages and objects; a call may emit at most 100"),
        ("no identity", "message 0 (track) is invalid: missing_identity:"),
        ("not json", "the function emitted something that is not JSON data"),
        ("big", "the function emitted"),
    ],
)
def test_emitting_too_much_or_what_the_tracking_api_refuses_is_invalid(
    runner: SourceFunctionRunner, case: str, reason: str
) -> None:
    outcome, after = runner.run([request(case), request("stripe", STRIPE_BODY)])
    assert outcome.status == "invalid" and outcome.messages == []
    assert outcome.error is not None and reason in outcome.error
    assert after.status == "ok"


def test_keywords_are_snake_case_and_a_camel_case_one_says_so(
    runner: SourceFunctionRunner,
) -> None:
    [outcome] = runner.run([request("wrong keyword")])
    assert outcome.status == "error"
    assert outcome.error is not None and "unexpected keyword argument 'userId'" in outcome.error


def test_memory_bombs_sockets_and_exits_get_outcomes_and_the_runner_keeps_working(
    runner: SourceFunctionRunner,
) -> None:
    memory, sock, exited, after = runner.run(
        [request("memory"), request("socket"), request("exit"), request("stripe", STRIPE_BODY)]
    )
    assert memory.status == "error" and "MemoryError" in (memory.error or "")
    assert sock.status == "error" and "PermissionError" in (sock.error or "")
    assert exited == SourceOutcome("crashed", error="worker exited with code 3")
    assert after.status == "ok"


def test_a_request_that_hangs_times_out_and_the_rest_run_in_a_fresh_worker() -> None:
    code = textwrap.dedent("""
        def on_request(request, settings):
            while request.text == "hang":
                pass
            track(event=request.text, user_id="u1")
    """)
    with SourceFunctionRunner("hangs", code, time_limit=0.3) as runner:
        outcomes = runner.run([request("", "a"), request("", "hang"), request("", "b")])
    assert [o.status for o in outcomes] == ["ok", "timeout", "ok"]
    assert outcomes[1].error == "on_request took longer than 0.3 s"
    assert outcomes[2].messages == [{"type": "track", "event": "b", "userId": "u1"}]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("def transform(event):\n    return event\n", "does not define an on_request"),
        ("def on_request(request, settings)\n", "SyntaxError"),
        ("raise RuntimeError('at import')\n", "RuntimeError: at import"),
    ],
)
def test_code_that_cannot_serve_is_refused_when_the_runner_starts(code: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        SourceFunctionRunner("broken", code)
    assert refused.value.details["function"] == "broken"
    assert reason in refused.value.message + str(refused.value.details.get("traceback"))


def test_requests_that_are_not_the_documented_shape_are_refused(
    runner: SourceFunctionRunner,
) -> None:
    with pytest.raises(InvalidInput, match="request"):
        runner.run([{"method": "POST", "url": "/", "headers": {}, "query": {}}])
    with pytest.raises(InvalidInput, match="settings must be JSON data"):
        SourceFunctionRunner("bad settings", CODE, {"when": object()})

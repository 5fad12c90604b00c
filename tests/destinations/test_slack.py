"""The Slack destination against a local sink standing in for an incoming webhook."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations.catalog.slack import DESTINATION, post_message
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from tests.destinations.contract import HANG, Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

HOOK_PATH = "/services/T0001/B0001/XXXXXXXX"
_KEYS = {"text", "channel", "username", "icon_emoji", "icon_url", "blocks"}


def incoming_webhook(received: Received) -> Reply | None:
    """Slack's documented answers: `ok`, or a 4xx with a short error code."""
    if received.method != "POST" or received.path != HOOK_PATH:
        return Reply(404, b"no_service")
    if received.headers.get("content-type") != "application/json":
        return Reply(400, b"invalid_payload")
    body = received.json()
    if not isinstance(body, dict) or set(body) - _KEYS:
        return Reply(400, b"invalid_payload")
    if not body.get("text"):
        return Reply(400, b"no_text")
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, b"ok"), incoming_webhook)


def context(tool: Sink, http: Http) -> Context:
    return Context(settings={"webhook_url": tool.url + HOOK_PATH}, http=http)


def test_a_message_is_posted_as_text(tool: Sink, http: Http) -> None:
    post_message(context(tool, http), {"text": "*Signed Up* by user u1"})

    [got] = tool.received
    assert got.json() == {"text": "*Signed Up* by user u1"}


def test_legacy_overrides_are_sent_when_set(tool: Sink, http: Http) -> None:
    message = {
        "text": "New order",
        "channel": "#sales",
        "username": "Seamline",
        "icon_emoji": ":tada:",
        "icon_url": None,
    }
    post_message(context(tool, http), message)

    [got] = tool.received
    assert got.json() == {
        "text": "New order",
        "channel": "#sales",
        "username": "Seamline",
        "icon_emoji": ":tada:",
    }


def test_slack_posts_one_message_per_request() -> None:
    # Incoming webhooks take one message per request: there is no batch to send.
    action = DESTINATION.actions["post_message"]
    assert action.perform_batch is None and action.max_batch == 1
    assert DESTINATION.rate_limit == 1.0


@failure_modes(
    unauthorized=Reply(401, b"invalid_token"),
    more={
        "404": Failure(Reply(404, b"channel_not_found"), PermanentError),
        "410": Failure(Reply(410, b"channel_is_archived"), PermanentError),
    },
    throttled=Reply(429, b"rate_limited", headers={"Retry-After": "30"}),
    hang=Reply(200, b"ok", delay=HANG),
)
def test_slack_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: post_message(context(tool, http), {"text": "hello"}))


@pytest.mark.parametrize("text", [None, "", "   ", 42], ids=["missing", "empty", "blank", "number"])
def test_a_message_without_text_is_invalid(tool: Sink, http: Http, text: Any) -> None:
    with pytest.raises(InvalidPayload):
        post_message(context(tool, http), {"text": text})
    assert tool.received == []


def test_definition() -> None:
    text = DESTINATION.actions["post_message"].fields["text"]
    assert text.required and "@template" in str(text.default)
    assert DESTINATION.secret_settings() == {"webhook_url"}

"""Discord and Microsoft Teams against a local sink standing in for their channel webhooks."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations.catalog import discord, microsoft_teams
from seamline.destinations.definition import Action, Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

DISCORD_PATH = "/api/webhooks/1234567890/s3cr3t-token"
TEAMS_PATH = "/workflows/abc/triggers/manual/paths/invoke"
_DISCORD_KEYS = {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions"}


def discord_webhook(received: Received) -> Reply | None:
    """Discord's documented answers: 204, or 400 with a JSON code for an unreadable body."""
    if received.method != "POST" or received.path != DISCORD_PATH:
        return Reply(404, {"message": "Unknown Webhook", "code": 10015})
    body = received.json()
    if set(body) - _DISCORD_KEYS or not (body.get("content") or body.get("embeds")):
        return Reply(400, {"message": "Cannot send an empty message", "code": 50006})
    if len(body.get("content", "")) > 2000:
        return Reply(400, {"message": "Invalid Form Body", "code": 50035})
    return None


def teams_webhook(received: Received) -> Reply | None:
    """A Workflows webhook: 202 for a message with an Adaptive Card attachment, else 400."""
    if received.method != "POST" or received.path != TEAMS_PATH:
        return Reply(404, {"error": {"code": "TriggerNotFound"}})
    body = received.json()
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if body.get("type") != "message" or not isinstance(attachments, list) or not attachments:
        return Reply(400, {"error": {"code": "InvalidRequestContent"}})
    card = attachments[0]
    if card.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return Reply(400, {"error": {"code": "InvalidRequestContent"}})
    if card["content"].get("type") != "AdaptiveCard" or not card["content"].get("body"):
        return Reply(400, {"error": {"code": "InvalidRequestContent"}})
    return None


def preset_payload(action: Action, event: dict[str, Any]) -> dict[str, Any]:
    """What a new subscription's default mapping gives the action for `event`."""
    mapped = compile_mapping(default_mapping(action.fields))(event)
    return validate_payload(mapped, action.fields)


def _context(url: str, http: Http) -> Context:
    return Context(settings={"webhook_url": url}, http=http)


@pytest.fixture
def discord_tool(server: Sink) -> Sink:
    return reset(server, Reply(204, b""), discord_webhook)


@pytest.fixture
def teams_tool(server: Sink) -> Sink:
    return reset(server, Reply(202, b""), teams_webhook)


SIGNED_UP: dict[str, Any] = {
    "type": "track",
    "event": "Signed Up",
    "userId": "u1",
    "properties": {"plan": "Pro", "seats": 3},
}


def test_discord_posts_the_preset_mapping_without_pinging_anyone(
    discord_tool: Sink, http: Http
) -> None:
    payload = preset_payload(discord.DESTINATION.actions["post_message"], SIGNED_UP)

    discord.post_message(_context(discord_tool.url + DISCORD_PATH, http), payload)

    [got] = discord_tool.received
    assert got.json() == {"content": "**Signed Up** by user u1", "allowed_mentions": {"parse": []}}


def test_discord_allows_only_the_mentions_the_mapping_names(discord_tool: Sink, http: Http) -> None:
    payload = {"content": "@everyone hi", "allowed_mentions": ["users", "bogus"]}
    discord.post_message(_context(discord_tool.url + DISCORD_PATH, http), payload)

    assert discord_tool.received[0].json()["allowed_mentions"] == {"parse": ["users"]}


@pytest.mark.parametrize("content", ["", "   ", None, "x" * 2001])
def test_discord_refuses_what_discord_would(discord_tool: Sink, http: Http, content: Any) -> None:
    with pytest.raises(InvalidPayload):
        discord.post_message(_context(discord_tool.url + DISCORD_PATH, http), {"content": content})
    assert discord_tool.received == []


@failure_modes(
    unauthorized=Reply(401, {"message": "401: Unauthorized", "code": 0}),
    throttled=Reply(
        429, {"message": "You are being rate limited.", "retry_after": 1.5}, {"Retry-After": "2"}
    ),
    more={
        "404": Failure(Reply(404, {"message": "Unknown Webhook", "code": 10015}), PermanentError)
    },
)
def test_discord_failures(discord_tool: Sink, http: Http, failure: Failure) -> None:
    ctx = _context(discord_tool.url + DISCORD_PATH, http)
    assert_fails(discord_tool, failure, lambda: discord.post_message(ctx, {"content": "hi"}))


def test_teams_posts_an_adaptive_card_with_title_text_and_facts(
    teams_tool: Sink, http: Http
) -> None:
    payload = preset_payload(microsoft_teams.DESTINATION.actions["post_card"], SIGNED_UP)

    microsoft_teams.post_card(_context(teams_tool.url + TEAMS_PATH, http), payload)

    [got] = teams_tool.received
    card = got.json()["attachments"][0]["content"]
    assert card["version"] == "1.4"
    assert card["body"][0]["text"] == "Signed Up"
    assert card["body"][1] == {"type": "TextBlock", "text": "Signed Up by user u1", "wrap": True}
    assert card["body"][2]["facts"] == [
        {"title": "plan", "value": "Pro"},
        {"title": "seats", "value": "3"},
    ]


def test_teams_refuses_an_empty_text(teams_tool: Sink, http: Http) -> None:
    with pytest.raises(InvalidPayload):
        microsoft_teams.post_card(_context(teams_tool.url + TEAMS_PATH, http), {"text": " "})
    assert teams_tool.received == []


@failure_modes(
    unauthorized=Reply(401, {"error": {"code": "DirectApiAuthorizationRequired"}}),
    throttled=Reply(429, {"error": {"code": "WorkflowTriggerIsThrottled"}}, {"Retry-After": "3"}),
    more={"404": Failure(Reply(404, {"error": {"code": "TriggerNotFound"}}), PermanentError)},
)
def test_teams_failures(teams_tool: Sink, http: Http, failure: Failure) -> None:
    ctx = _context(teams_tool.url + TEAMS_PATH, http)
    assert_fails(teams_tool, failure, lambda: microsoft_teams.post_card(ctx, {"text": "hi"}))

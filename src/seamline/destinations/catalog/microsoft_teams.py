"""Microsoft Teams: a card posted to a channel through a webhook.

Two kinds of webhook take the same body: a Workflows webhook ("Post to a channel when a
webhook request is received", which replaces Office 365 connectors) and a legacy Incoming
Webhook. Both take `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <Adaptive Card>}]}`. A Workflows webhook
answers 202 Accepted, a legacy one 200 with `1`. Both answer 400 for a body they cannot read,
401/403/404 for a revoked or unknown URL (permanent) and 429 when throttled (about 4 requests
per second per webhook).

The card is a title and a text block, with optional facts (name/value pairs): Adaptive Card
1.4, which every Teams client renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload

MAX_TEXT = 20_000  # characters; Teams refuses messages past about 28 KB


def card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The Adaptive Card for a payload of `title`, `text` and `facts`."""
    body: list[dict[str, Any]] = []
    title = payload.get("title")
    if isinstance(title, str) and title.strip():
        body.append({"type": "TextBlock", "text": title, "size": "Medium", "weight": "Bolder"})
    body.append({"type": "TextBlock", "text": payload["text"], "wrap": True})
    facts = payload.get("facts")
    if isinstance(facts, Mapping) and facts:
        shown = [{"title": str(k), "value": _shown(v)} for k, v in facts.items()]
        body.append({"type": "FactSet", "facts": shown[:50]})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }


def _shown(value: Any) -> str:
    return "" if value is None else str(value)[:500]


def post_card(ctx: Context, payload: dict[str, Any]) -> None:
    """Post one card; an empty or over-long text is refused before Teams would."""
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidPayload("a Teams message needs a non-empty text")
    if len(text) > MAX_TEXT:
        raise InvalidPayload(f"a Teams message holds at most {MAX_TEXT} characters")
    message = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(payload),
            }
        ],
    }
    ctx.http.post(str(ctx.settings["webhook_url"]), json=message)


DESTINATION = Destination(
    slug="microsoft-teams",
    name="Microsoft Teams",
    description="Post a card to a Microsoft Teams channel through a Workflows or Incoming Webhook.",
    settings={
        "webhook_url": Setting(
            "Webhook URL",
            "The URL of the channel's Workflows webhook (or legacy Incoming Webhook). Anyone "
            "holding it can post, so it is kept secret.",
            required=True,
            secret=True,
            target=True,
        ),
    },
    actions={
        "post_card": Action(
            title="Post Card",
            description="Post a card with a title, a text and facts to the channel.",
            fields={
                "title": Field(
                    "Title", "The card's heading.", "string", default={"@path": "$.event"}
                ),
                "text": Field(
                    "Text",
                    "The card's text; Teams renders a subset of Markdown.",
                    "text",
                    required=True,
                    default={
                        "@if": {
                            "exists": {"@path": "$.userId"},
                            "then": {"@template": "{{event}} by user {{userId}}"},
                            "else": {"@template": "{{event}} by anonymous {{anonymousId}}"},
                        }
                    },
                ),
                "facts": Field(
                    "Facts",
                    "Name/value pairs shown as a list under the text (at most 50).",
                    "object",
                    default={"@path": "$.properties"},
                ),
            },
            perform=post_card,
            default_trigger='type = "track"',
        ),
    },
    test_authentication=None,  # the only check is posting a card, which people would see
    presets=(Preset("Post sign-ups", "post_card", 'type = "track" and event = "Signed Up"'),),
    rate_limit=4.0,
)

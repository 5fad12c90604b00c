"""Discord: a message posted through a channel webhook (`POST` JSON to
`https://discord.com/api/webhooks/{id}/{token}`).

Discord answers 204 (or 200 with the message when `?wait=true`). A message needs `content` (at
most 2,000 characters) or an embed. It answers 400 with a JSON `code` for an invalid body,
401/403 for a bad token, 404 `Unknown Webhook` (code 10015) for a deleted webhook (all
permanent), and 429 with a JSON `retry_after` in seconds and a Retry-After header past its rate
limit (about 5 requests per 2 seconds per webhook).

Event data can hold `@everyone` or a user mention; `allowed_mentions` is sent empty so a message
from an event never pings anyone unless the mapping says which mentions to allow.
"""

from __future__ import annotations

from typing import Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload

MAX_CONTENT = 2_000  # Discord's limit on a message's content
_OPTIONAL = ("username", "avatar_url")


def post_message(ctx: Context, payload: dict[str, Any]) -> None:
    """Post one message; empty or over-long content is refused before Discord would."""
    content = payload.get("content")
    if not isinstance(content, str) or not content.strip():
        raise InvalidPayload("a Discord message needs a non-empty content")
    if len(content) > MAX_CONTENT:
        raise InvalidPayload(f"a Discord message holds at most {MAX_CONTENT} characters")
    message: dict[str, Any] = {"content": content, "allowed_mentions": {"parse": []}}
    mentions = payload.get("allowed_mentions")
    if mentions:
        allowed = [m for m in mentions if m in ("users", "roles", "everyone")]
        message["allowed_mentions"] = {"parse": allowed}
    message.update({key: payload[key] for key in _OPTIONAL if payload.get(key)})
    if payload.get("tts"):
        message["tts"] = True
    ctx.http.post(str(ctx.settings["webhook_url"]), json=message)


DESTINATION = Destination(
    slug="discord",
    name="Discord",
    description="Post a message to a Discord channel through a channel webhook.",
    settings={
        "webhook_url": Setting(
            "Webhook URL",
            "The channel webhook's URL (https://discord.com/api/webhooks/…), from the channel's "
            "Integrations settings. Anyone holding it can post, so it is kept secret.",
            required=True,
            secret=True,
            target=True,
        ),
    },
    actions={
        "post_message": Action(
            title="Post Message",
            description="Post a message to the webhook's channel.",
            fields={
                "content": Field(
                    "Message",
                    "The message, in Discord's markdown, at most 2,000 characters.",
                    "text",
                    required=True,
                    default={
                        "@if": {
                            "exists": {"@path": "$.userId"},
                            "then": {"@template": "**{{event}}** by user {{userId}}"},
                            "else": {"@template": "**{{event}}** by anonymous {{anonymousId}}"},
                        }
                    },
                ),
                "username": Field("User", "The name shown as the sender.", "string"),
                "avatar_url": Field("Avatar URL", "An image shown as the sender's.", "string"),
                "tts": Field("Text to speech", "Read the message aloud in the channel.", "boolean"),
                "allowed_mentions": Field(
                    "Allowed mentions",
                    "Which mentions in the message may ping: users, roles, everyone. None by "
                    "default, so event data cannot ping the channel.",
                    "string",
                    multiple=True,
                    choices=("users", "roles", "everyone"),
                ),
            },
            perform=post_message,
            default_trigger='type = "track"',
        ),
    },
    test_authentication=None,  # a GET of the webhook would do, but it returns its token
    presets=(Preset("Post sign-ups", "post_message", 'type = "track" and event = "Signed Up"'),),
    rate_limit=2.5,  # Discord: 5 requests per 2 seconds per webhook
)

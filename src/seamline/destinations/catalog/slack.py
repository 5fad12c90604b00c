"""Slack: a message posted through an incoming webhook (`POST {"text": …}` to the webhook URL).

`channel`, `username`, `icon_emoji` and `icon_url` are honoured only by legacy custom-integration
webhooks; a Slack app's webhook always posts to the channel and as the identity chosen when it
was installed, and ignores them. Slack answers `200 ok`, or 400 `invalid_payload`/`no_text`,
403 `action_prohibited`, 404 `channel_not_found`/`no_service`, 410 `channel_is_archived`
(all permanent), and 429 with Retry-After past about one message per second per webhook.
"""

from __future__ import annotations

from typing import Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload

_OPTIONAL = ("channel", "username", "icon_emoji", "icon_url")


def post_message(ctx: Context, payload: dict[str, Any]) -> None:
    """Post one message; an empty text is refused before Slack would (400 `no_text`)."""
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidPayload("a Slack message needs a non-empty text")
    message: dict[str, Any] = {"text": text}
    message.update({key: payload[key] for key in _OPTIONAL if payload.get(key)})
    ctx.http.post(str(ctx.settings["webhook_url"]), json=message)


DESTINATION = Destination(
    slug="slack",
    name="Slack",
    description="Post a message to a Slack channel through an incoming webhook.",
    settings={
        "webhook_url": Setting(
            "Webhook URL",
            "The incoming webhook URL from your Slack app (https://hooks.slack.com/services/…). "
            "Anyone holding it can post to the channel, so it is kept secret.",
            required=True,
            secret=True,
            target=True,
        ),
    },
    actions={
        "post_message": Action(
            title="Post Message",
            description="Post a message to the webhook's Slack channel.",
            fields={
                "text": Field(
                    "Message",
                    "The message, in Slack's mrkdwn formatting (*bold*, _italic_, <url|link>).",
                    "text",
                    required=True,
                    default={
                        "@if": {
                            "exists": {"@path": "$.userId"},
                            "then": {"@template": "*{{event}}* by user {{userId}}"},
                            "else": {"@template": "*{{event}}* by anonymous {{anonymousId}}"},
                        }
                    },
                ),
                "channel": Field(
                    "Channel",
                    "The channel to post to, like #general (legacy webhooks only).",
                    "string",
                ),
                "username": Field(
                    "User", "The name shown as the sender (legacy webhooks only).", "string"
                ),
                "icon_emoji": Field(
                    "Icon emoji",
                    "An emoji shown as the sender's icon, like :tada: (legacy webhooks only).",
                    "string",
                ),
                "icon_url": Field(
                    "Icon URL",
                    "An image URL shown as the sender's icon (legacy webhooks only).",
                    "string",
                ),
            },
            perform=post_message,
            default_trigger='type = "track"',
        ),
    },
    test_authentication=None,  # the only check is posting a message, which people would see
    presets=(Preset("Post sign-ups", "post_message", 'type = "track" and event = "Signed Up"'),),
    rate_limit=1.0,  # Slack: about one message per second per incoming webhook
)

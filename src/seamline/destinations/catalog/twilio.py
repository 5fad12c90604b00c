"""Twilio: an SMS (or WhatsApp) message through the Programmable Messaging API,
`POST https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages.json` with a
form-encoded body (`To`, `From` or `MessagingServiceSid`, `Body`, `MediaUrl`,
`StatusCallback`), authenticated by HTTP Basic with the Account SID and auth token (or an API
key SID and its secret).

Twilio queues the message and answers 201 with its SID; a body over 1,600 characters is refused.
Twilio has no idempotency key for messages, so a delivery that timed out after Twilio accepted
it can be sent twice when retried. Answers: 400 with Twilio's error code (21211 an invalid `To`,
21408 a region not enabled, 21610 a recipient who replied STOP, 21614 not a mobile number,
21606 a `From` that cannot send there), 401 (20003, wrong credentials), 404 (unknown account):
permanent. 429 (20429, past the account's concurrency) and 5xx are retried.

Twilio has no API to delete what was sent to one person, so privacy deletions report
NOT_SUPPORTED.
"""

from __future__ import annotations

import re
from typing import Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.shaping import basic_auth, first_of

API_HOST = "https://api.twilio.com"
BODY_LIMIT = 1_600  # characters Twilio accepts in a message body
MEDIA_LIMIT = 10  # media URLs per message
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_ADDRESS = re.compile(r"(whatsapp:)?\+[1-9][0-9]{6,14}")


def _account(ctx: Context) -> str:
    sid = str(ctx.settings.get("account_sid") or "")
    # The SID becomes part of the path: only a SID's shape is accepted.
    if not _ACCOUNT_SID.fullmatch(sid):
        raise PermanentError("a Twilio Account SID is AC followed by 32 hexadecimal digits")
    return sid


def _url(ctx: Context, where: str) -> str:
    host = str(ctx.settings.get("endpoint") or API_HOST).rstrip("/")
    return f"{host}/2010-04-01/Accounts/{_account(ctx)}{where}"


def _headers(ctx: Context) -> dict[str, str]:
    user = str(ctx.settings.get("api_key_sid") or _account(ctx))
    return {"Authorization": basic_auth(user, str(ctx.settings["auth_token"]))}


def send_sms(ctx: Context, payload: dict[str, Any]) -> None:
    """Send one message; what Twilio would refuse for its shape is refused before sending."""
    to = str(payload.get("to") or "").replace(" ", "")
    if not _ADDRESS.fullmatch(to):
        raise InvalidPayload(f"To must be an E.164 number like +15005550006, got {to!r}")
    body = payload.get("body")
    media = [str(url) for url in payload.get("media_url") or []]
    if not (isinstance(body, str) and body.strip()) and not media:
        raise InvalidPayload("a Twilio message needs a body or media")
    if isinstance(body, str) and len(body) > BODY_LIMIT:
        raise InvalidPayload(f"the body is {len(body)} characters; Twilio takes {BODY_LIMIT}")
    if len(media) > MEDIA_LIMIT:
        raise InvalidPayload(f"{len(media)} media URLs; Twilio takes {MEDIA_LIMIT}")
    sender = payload.get("from") or ctx.settings.get("from")
    service = payload.get("messaging_service_sid") or ctx.settings.get("messaging_service_sid")
    form: dict[str, Any] = {"To": to}
    if service:
        if not _SERVICE_SID.fullmatch(str(service)):
            raise InvalidPayload("a Messaging Service SID is MG followed by 32 hexadecimal digits")
        form["MessagingServiceSid"] = str(service)
    elif sender:
        form["From"] = str(sender)
    else:
        raise InvalidPayload("a Twilio message needs a From number or a Messaging Service SID")
    if isinstance(body, str) and body.strip():
        form["Body"] = body
    if media:
        form["MediaUrl"] = media  # repeated MediaUrl parameters
    if payload.get("status_callback"):
        form["StatusCallback"] = str(payload["status_callback"])
    ctx.http.post(_url(ctx, "/Messages.json"), data=form, headers=_headers(ctx))


def test_authentication(ctx: Context) -> None:
    """Reading the account checks the SID and the credentials."""
    ctx.http.request("GET", _url(ctx, ".json"), headers=_headers(ctx))


_PHONE = first_of("$.context.traits.phone", "$.traits.phone", "$.properties.phone")

DESTINATION = Destination(
    slug="twilio",
    name="Twilio",
    description="Send SMS and WhatsApp messages through Twilio Programmable Messaging.",
    settings={
        "account_sid": Setting("Account SID", "The account's SID (AC…).", required=True),
        "auth_token": Setting(
            "Auth token",
            "The account's auth token, or the secret of the API key named below.",
            required=True,
            secret=True,
        ),
        "api_key_sid": Setting(
            "API key SID", "An API key (SK…) to authenticate with instead of the account SID."
        ),
        "from": Setting("Default From", "The sending number (E.164) when an action sets none."),
        "messaging_service_sid": Setting(
            "Default Messaging Service SID",
            "A Messaging Service (MG…) that picks the sender; preferred over From.",
        ),
        "endpoint": Setting("API host", "Twilio's API host.", default=API_HOST, target=True),
    },
    actions={
        "send_sms": Action(
            title="Send SMS",
            description="Send a text message to the person's phone.",
            fields={
                "to": Field(
                    "To",
                    "The recipient, in E.164 form (+15005550006), or whatsapp:+… for WhatsApp.",
                    "string",
                    required=True,
                    default=_PHONE,
                ),
                "body": Field(
                    "Body",
                    "The message text, up to 1,600 characters; map it with a template, like "
                    "Hi {{traits.first_name}}, your order {{properties.order_id}} has shipped.",
                    "text",
                    required=True,
                ),
                "from": Field(
                    "From", "The sending number; the instance's default when unset.", "string"
                ),
                "messaging_service_sid": Field(
                    "Messaging Service SID", "A Messaging Service to send through.", "string"
                ),
                "media_url": Field(
                    "Media URLs", "Images to send as MMS (up to 10).", "string", multiple=True
                ),
                "status_callback": Field(
                    "Status Callback", "A URL Twilio calls with the message's status.", "string"
                ),
            },
            perform=send_sms,
        ),
    },
    test_authentication=test_authentication,
    delete=None,  # Twilio cannot delete the messages sent to one person
    presets=(
        Preset(
            "Send SMS on Order Shipped", "send_sms", 'type = "track" and event = "Order Shipped"'
        ),
    ),
)

"""NATS: each message published as JSON to a subject, on core NATS or into a JetStream stream.

With `jetstream` on, every publish waits for the stream's acknowledgement and carries the
messageId as `Nats-Msg-Id`, so a re-delivered batch is dropped by the stream's duplicate
window; with it off, a batch is flushed to the server (delivered to whoever subscribes now, at
most once). A subject with no stream behind it is a permanent error in JetStream mode ("no
responders"); a server that cannot be reached, or a publish not acknowledged in time, is
retried.

Subjects are mapped per message (default `seamline.<type>`); each token is checked, since a
space, a wildcard (`*`, `>`) or an empty token would publish somewhere else or be refused.

The server's address is checked like an HTTP destination's (public addresses only unless
`destinations_allow_private` opens its range), and the client connects to the checked address
itself, without reconnecting or following the servers a cluster advertises. A connection is
opened per batch: it costs about a millisecond, and holding none keeps no thread or reconnect
state between deliveries. nats-py is imported on the first delivery.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)

_TOKEN = re.compile(r"^[^\s*>.]+$")
MAX_SUBJECT = 256
MAX_BATCH = 1_000
EVERY_MESSAGE = " or ".join(
    f'type = "{kind}"' for kind in ("track", "identify", "page", "screen", "group", "alias")
)
_encode = msgspec.json.Encoder().encode


def subject_of(payload: dict[str, Any]) -> str:
    """The payload's subject, checked: dot-separated tokens with no space or wildcard."""
    subject = payload.get("subject")
    if not isinstance(subject, str) or not subject:
        raise InvalidPayload("a NATS message needs a subject")
    if len(subject) > MAX_SUBJECT or not all(_TOKEN.match(t) for t in subject.split(".")):
        raise InvalidPayload(
            f"{subject[:80]!r} is not a NATS subject to publish to: dot-separated tokens of "
            "letters, digits, - and _, with no space or wildcard (* >)"
        )
    return subject


def _server(ctx: Context) -> tuple[str, str, bool]:
    """(url to connect to, host name, tls) for the `server_url` setting, with its host
    replaced by a checked address."""
    raw = str(ctx.settings.get("server_url") or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("nats", "tls") or not parts.hostname:
        raise PermanentError("server_url must be nats://host:4222 or tls://host:4222")
    port = parts.port or 4222
    address = ctx.http.addresses(parts.hostname, port)[0]
    shown = f"[{address}]" if ":" in address else address
    return f"{parts.scheme}://{shown}:{port}", parts.hostname, parts.scheme == "tls"


def publish(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Publish a batch on one connection; one outcome per payload."""
    outcomes: list[DeliveryError | None] = []
    ready: list[tuple[int, str, bytes, str | None]] = []
    for index, payload in enumerate(payloads):
        try:
            subject = subject_of(payload)
        except InvalidPayload as error:
            outcomes.append(error)
            continue
        message_id = payload.get("message_id")
        data = _encode(payload.get("data"))
        ready.append((index, subject, data, str(message_id) if message_id else None))
        outcomes.append(None)
    if ready:
        url, host, tls = _server(ctx)
        for index, failure in asyncio.run(_publish(ctx, url, host, tls, ready)):
            outcomes[index] = failure
    return outcomes


def check_connection(ctx: Context) -> None:
    """Connect and authenticate, publishing nothing."""
    url, host, tls = _server(ctx)
    asyncio.run(_publish(ctx, url, host, tls, []))


def publish_one(ctx: Context, payload: dict[str, Any]) -> None:
    """Publish one message."""
    outcome = publish(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


async def _publish(
    ctx: Context, url: str, host: str, tls: bool, ready: list[tuple[int, str, bytes, str | None]]
) -> list[tuple[int, DeliveryError]]:
    import nats
    import nats.errors
    import nats.js.errors

    timeout = float(ctx.settings.get("timeout") or 5.0)
    options: dict[str, Any] = {
        "servers": [url],
        "allow_reconnect": False,
        # nats-py retries even a first connection (60 times, 2 s apart, by default); the
        # outbox's backoff is the retry here.
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.1,
        "connect_timeout": max(1, int(timeout)),
        "name": "seamline",
    }
    if tls:
        import ssl

        options["tls"] = ssl.create_default_context()
        options["tls_hostname"] = host
    token, user, password = (ctx.settings.get(k) for k in ("token", "user", "password"))
    if token:
        options["token"] = str(token)
    if user:
        options.update(user=str(user), password=str(password or ""))
    try:
        client = await nats.connect(**options)
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise RetryableError(f"cannot reach the NATS server at {host}: {error}") from None
    failed: list[tuple[int, DeliveryError]] = []
    try:
        if ctx.settings.get("jetstream"):
            js = client.jetstream(timeout=timeout)
            for index, subject, data, message_id in ready:
                headers = {"Nats-Msg-Id": message_id} if message_id else None
                try:
                    await js.publish(subject, data, headers=headers)
                except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
                    failed.append(
                        (index, PermanentError(f"no JetStream stream takes subject {subject!r}"))
                    )
                except (TimeoutError, nats.errors.TimeoutError):
                    failed.append((index, RetryableError(f"no acknowledgement for {subject!r}")))
                except nats.js.errors.APIError as error:
                    failed.append((index, RetryableError(f"JetStream refused: {error}")))
        else:
            for _, subject, data, _ in ready:
                await client.publish(subject, data)
            await client.flush(timeout=max(1, int(timeout)))
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise RetryableError(f"publishing to NATS at {host} failed: {error}") from None
    finally:
        await client.close()
    return failed


DESTINATION = Destination(
    slug="nats",
    name="NATS",
    description="Publish each message as JSON to a NATS subject, optionally into a JetStream "
    "stream.",
    settings={
        "server_url": Setting(
            "Server URL", "nats://host:4222, or tls://host:4222 for TLS.", required=True
        ),
        "jetstream": Setting(
            "JetStream",
            "Publish into a JetStream stream and wait for its acknowledgement (deduplicated "
            "by messageId). The stream must exist and take the subjects.",
            type="boolean",
            default=False,
        ),
        "token": Setting("Token", "A token to authenticate with.", secret=True),
        "user": Setting("User", "A user name to authenticate with."),
        "password": Setting("Password", "The user's password.", secret=True),
        "timeout": Setting(
            "Timeout",
            "Seconds to wait for a connection or acknowledgement.",
            type="number",
            default=5.0,
        ),
    },
    actions={
        "publish": Action(
            title="Publish",
            description="Publish the mapped data as JSON to the mapped subject.",
            fields={
                "subject": Field(
                    "Subject",
                    "The subject to publish to, like seamline.track.",
                    "string",
                    required=True,
                    default={"@template": "seamline.{{type}}"},
                ),
                "data": Field(
                    "Data", "What to publish, as JSON.", "object", default={"@path": "$."}
                ),
                "message_id": Field(
                    "Message id",
                    "Sent as Nats-Msg-Id in JetStream mode, for deduplication.",
                    "string",
                    default={"@path": "$.messageId"},
                ),
            },
            perform=publish_one,
            perform_batch=publish,
            max_batch=MAX_BATCH,
            default_trigger=EVERY_MESSAGE,
        )
    },
    test_authentication=check_connection,
    presets=(Preset("Publish every message", "publish", EVERY_MESSAGE),),
)

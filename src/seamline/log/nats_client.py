"""The connection to NATS that the JetStream log and its writer share, its errors, and the
stream and bucket it needs.

nats-py keeps one TCP connection to one server of the list and moves to another when that one
goes away; what was published meanwhile waits in a buffer of `pending_size` bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from seamline.errors import Unavailable

logger = logging.getLogger(__name__)

# Transient faults: a node went away, a stream leader is being elected (5-6 s measured after a
# SIGKILL), the client is reconnecting. Retrying the same request later can succeed.
TRANSIENT: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,
)

# A first connection tries each server this many times more, so a wrong URL fails in seconds;
# once connected the client reconnects for ever (an outage must not end the process).
_FIRST_CONNECT_RETRIES = 2


class NatsUnavailable(Unavailable):
    """NATS could not be reached, or did not acknowledge in time; retry later."""


def describe(servers: Sequence[str]) -> str:
    """The server list as an error message names it (credentials left out)."""
    return ", ".join(_without_credentials(url) for url in servers)


async def connect(servers: Sequence[str], *, name: str = "seamline") -> Client:
    """A connection to the first reachable server of `servers` that reconnects for ever."""
    if not servers:
        raise ValueError("no NATS server given")
    where = describe(servers)
    connected: list[Client] = []

    async def on_error(exc: Exception) -> None:
        logger.warning("NATS (%s): %s", where, exc)

    async def on_disconnect() -> None:
        if not (connected and connected[0].is_closed):  # not when we close it ourselves
            logger.warning("NATS: disconnected from %s", where)

    async def on_reconnect() -> None:
        logger.info("NATS: reconnected (%s)", where)

    try:
        client = await nats.connect(
            servers=list(servers),
            name=name,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            connect_timeout=2,
            reconnect_time_wait=0.5,  # seconds
            max_reconnect_attempts=_FIRST_CONNECT_RETRIES,
            # A peer that vanished without closing TCP (power loss) is noticed in ~30 s, not the
            # default 4 minutes.
            ping_interval=10,
            max_outstanding_pings=3,
            # What waits for the next server during a reconnect: ~200 requests of 75 KB.
            pending_size=16 * 1024 * 1024,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise NatsUnavailable(f"cannot connect to NATS at {where}: {exc}") from exc
    client.options["max_reconnect_attempts"] = -1
    connected.append(client)
    return client


def _without_credentials(url: str) -> str:
    scheme, sep, rest = url.rpartition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url


async def ensure_stream(js: JetStreamContext, wanted: api.StreamConfig) -> None:
    """Create the stream if missing; warn if it exists with other settings, and keep it."""
    assert wanted.name is not None
    try:
        info = await js.stream_info(wanted.name)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(wanted)
            return
        except nats.js.errors.BadRequestError:  # made meanwhile by another process
            info = await js.stream_info(wanted.name)
    have = info.config
    differences = [
        f"{field} is {getattr(have, field)!r}, not {getattr(wanted, field)!r}"
        for field in ("subjects", "storage", "num_replicas", "duplicate_window")
        if getattr(have, field) != getattr(wanted, field)
    ]
    if differences:
        # Never recreate it: it holds the log. An operator changes it with the nats CLI.
        logger.warning(
            "stream %s exists with other settings, kept: %s", wanted.name, "; ".join(differences)
        )


async def ensure_bucket(js: JetStreamContext, bucket: str, replicas: int) -> KeyValue:
    """The key-value bucket, created if missing."""
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        pass
    try:
        # Not `direct`: a follower may answer direct gets before it has the last commit.
        return await js.create_key_value(
            bucket=bucket, history=1, replicas=replicas, storage=api.StorageType.FILE, direct=False
        )
    except nats.js.errors.BadRequestError:  # made meanwhile by another process
        return await js.key_value(bucket)

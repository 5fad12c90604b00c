"""What every HTTP destination's tests share against the local sink: the module's sink reset
to a fresh tool before each test, and the four ways a tool's answer fails a delivery (401 refused
for good, 429 throttled with Retry-After, 500 outage, a tool that hangs past the timeout)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from seamline.destinations.errors import DeliveryError, PermanentError, RetryableError
from tests.destinations.sink import Received, Reply, Sink

TIMEOUT = 0.3
"""Seconds the `http` fixture waits for a tool's answer."""
HANG = 0.5
"""Seconds a hanging tool waits before answering: past TIMEOUT."""


def reset(server: Sink, default: Reply, check: Callable[[Received], Reply | None] | None) -> Sink:
    """The module's sink as a fresh tool: nothing received or queued, `default` answering
    what `check` (the tool's documented request shape) lets through."""
    server.received.clear()
    server.replies.clear()
    server.default, server.check = default, check
    return server


@dataclass(frozen=True)
class Failure:
    """A tool's answer and the error one delivery must raise for it."""

    reply: Reply
    error: type[DeliveryError]
    retry_after: float | None = None


def failure_modes(
    *,
    unauthorized: Reply,
    throttled: Reply,
    outage: Reply | None = None,
    hang: Reply | None = None,
    more: dict[str, Failure] | None = None,
) -> pytest.MarkDecorator:
    """Parametrizes a test's `failure` argument, in this order: `unauthorized` (a 401:
    permanent), the tool's `more` answers by id, `throttled` (a 429: retryable after its
    Retry-After), `outage` (retryable; a bare 500 by default) and `hang` (retryable as a
    timeout; a bare answer after HANG seconds by default)."""
    outage = outage or Reply(500)
    hang = hang or Reply(delay=HANG)
    assert (unauthorized.status, throttled.status) == (401, 429)
    assert outage.status >= 500 and hang.delay > TIMEOUT
    cases = {
        "401": Failure(unauthorized, PermanentError),
        **(more or {}),
        "429": Failure(throttled, RetryableError, float(throttled.headers["Retry-After"])),
        "500": Failure(outage, RetryableError),
        "hang": Failure(hang, RetryableError),
    }
    return pytest.mark.parametrize("failure", list(cases.values()), ids=list(cases))


def assert_fails(
    tool: Sink, failure: Failure, deliver: Callable[[], object], *, every_request: bool = False
) -> None:
    """`deliver()`, one delivery to `tool`, raises exactly `failure.error` (with its
    retry_after) when the tool gives `failure.reply`: to the next request, or with
    `every_request` to each one its check lets through (so that a token exchange the check
    answers first does not use it up)."""
    if every_request:
        tool.default = failure.reply
    else:
        tool.replies.append(failure.reply)
    began = time.monotonic()
    with pytest.raises(failure.error) as raised:
        deliver()
    assert type(raised.value) is failure.error
    assert getattr(raised.value, "retry_after", None) == failure.retry_after
    if failure.reply.delay:
        assert "timed out" in str(raised.value)
        # Let the late answer finish inside this test's capture: it comes `delay` seconds
        # after the request, most of which the client's timeout has waited already.
        time.sleep(max(0.0, began + failure.reply.delay - time.monotonic()) + 0.05)

"""The actions' HTTP client: failures classified for retry or dead letter, secrets hidden."""

from __future__ import annotations

import httpx
import pytest

from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.http import Http, retry_after
from tests.destinations.sink import Reply, sink


@pytest.mark.parametrize(
    ("status", "error", "after"),
    [
        (400, PermanentError, None),
        (401, PermanentError, None),
        (404, PermanentError, None),
        (408, RetryableError, None),
        (429, RetryableError, 7.0),
        (500, RetryableError, None),
        (503, RetryableError, 7.0),
    ],
)
def test_statuses_are_classified(status: int, error: type[Exception], after: float | None) -> None:
    with (
        sink(Reply(status, headers={"Retry-After": "7"} if after else {})) as tool,
        httpx.Client() as client,
    ):
        with pytest.raises(error) as raised:
            Http(client).post(f"{tool.url}/x", json={"a": 1})
        assert raised.value.status == status  # type: ignore[attr-defined]
        if after is not None:
            assert raised.value.retry_after == after  # type: ignore[attr-defined]


def test_timeouts_and_refused_connections_are_retryable() -> None:
    with (
        sink(Reply(200, delay=0.5)) as tool,
        httpx.Client() as client,
        pytest.raises(RetryableError, match="timed out"),
    ):
        Http(client, timeout=0.1).post(f"{tool.url}/slow")
    with httpx.Client() as client, pytest.raises(RetryableError, match="failed"):
        Http(client).post("http://127.0.0.1:9/closed")


def test_secrets_never_reach_records_or_errors() -> None:
    with sink(Reply(500, body={"echo": "key-12345"})) as tool, httpx.Client() as client:
        http = Http(client, secrets=["key-12345"])
        with pytest.raises(RetryableError) as raised:
            http.post(
                f"{tool.url}/collect?api_secret=key-12345",
                json={"token": "key-12345"},
                headers={"Authorization": "Bearer abc", "X-Custom": "key-12345"},
            )
    (exchange,) = http.exchanges
    recorded = exchange.request_text() + str(exchange.response_body) + str(raised.value)
    assert "key-12345" not in recorded and "abc" not in exchange.request_headers["authorization"]
    assert "[hidden]" in exchange.url


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after("soon") is None
    assert retry_after(None) is None

"""Retry timing, the circuit breaker and the rate limiter of the delivery workers."""

from __future__ import annotations

import random

import pytest

from seamline.destinations.delivery import CircuitBreaker, RetryPolicy, TokenBucket


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(0, 0.5, 1.0), (1, 1.0, 2.0), (3, 4.0, 8.0), (12, 300.0, 600.0), (40, 300.0, 600.0)],
)
def test_backoff_doubles_with_jitter_up_to_ten_minutes(
    attempts: int, low: float, high: float
) -> None:
    rng = random.Random(1)
    delays = [RetryPolicy().delay(attempts, None, rng) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high
    assert len({round(d, 3) for d in delays}) > 50  # jittered, so retries spread out


def test_retry_after_wins_but_never_beyond_the_retry_period() -> None:
    policy = RetryPolicy()
    assert policy.delay(5, 7.0, random.Random()) == 7.0
    assert policy.delay(0, 10 * 3600.0, random.Random()) == policy.period.total_seconds()


def test_the_breaker_opens_after_five_failures_and_backs_off_while_they_continue() -> None:
    breaker = CircuitBreaker(threshold=5, cool=5.0, max_cool=20.0)
    for _ in range(4):
        breaker.failure(100.0)
    assert breaker.wait(100.0) == 0 and not breaker.open
    breaker.failure(100.0)
    assert breaker.open and breaker.wait(100.0) == 5.0
    assert breaker.wait(105.0) == 0  # half-open: one call may try
    breaker.failure(105.0)
    assert breaker.wait(105.0) == 10.0  # still failing: longer
    breaker.failure(115.0)
    breaker.failure(135.0)
    assert breaker.wait(135.0) == 20.0  # capped
    breaker.success()
    assert not breaker.open and breaker.wait(135.0) == 0
    breaker.failure(200.0)
    assert breaker.wait(200.0) == 0  # closed again: one failure does not open it


def test_the_token_bucket_paces_to_its_rate() -> None:
    unlimited = TokenBucket(None)
    assert all(unlimited.take() == 0 for _ in range(1000))
    bucket = TokenBucket(10.0, burst=2)
    assert bucket.take() == 0 and bucket.take() == 0
    assert 0 < bucket.take() <= 0.1  # the third token comes about a tenth of a second later

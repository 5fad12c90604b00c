"""Schedules: intervals and 5-field cron expressions, when each is next due, and the errors a
bad one gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from seamline.errors import InvalidInput
from seamline.reverse_etl.schedule import MANUAL, Interval, next_due, parse_schedule

AT = datetime(2026, 12, 3, 17, 20, 30, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("text", "after", "due"),
    [
        ("*/15 * * * *", AT, datetime(2026, 12, 3, 17, 30, tzinfo=UTC)),
        ("0 6 * * *", AT, datetime(2026, 12, 4, 6, 0, tzinfo=UTC)),
        (
            "0 6 * * mon-fri",
            datetime(2026, 12, 4, 7, tzinfo=UTC),
            datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
        ),
        ("30 9 1 * *", AT, datetime(2027, 1, 1, 9, 30, tzinfo=UTC)),
        ("0 0 29 feb *", AT, datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        ("0 12 * * 7", AT, datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),  # 7 is Sunday too
        ("0 0 1 * 4", AT, datetime(2026, 12, 10, 0, 0, tzinfo=UTC)),  # 1st or a Thursday
        ("5,35 8-9 * dec *", AT, datetime(2026, 12, 4, 8, 5, tzinfo=UTC)),
        ("0-30/10 17 * * *", AT, datetime(2026, 12, 3, 17, 30, tzinfo=UTC)),
    ],
)
def test_a_cron_expression_is_next_due_at_its_next_minute(
    text: str, after: datetime, due: datetime
) -> None:
    assert next_due(parse_schedule(text), after, AT - timedelta(days=30)) == due


def test_an_interval_runs_at_once_then_every_interval_after_the_last_start() -> None:
    every = parse_schedule("15m")
    assert every == Interval(900)
    assert next_due(every, None, AT) == AT
    assert next_due(every, AT, AT) == AT + timedelta(minutes=15)
    assert parse_schedule("1h") == Interval(3600) and parse_schedule("1d") == Interval(86400)


def test_a_cron_model_never_run_waits_for_its_next_time_after_it_was_first_seen() -> None:
    assert next_due(parse_schedule("0 * * * *"), None, AT) == datetime(
        2026, 12, 3, 18, 0, tzinfo=UTC
    )
    assert next_due(parse_schedule(" Manual "), None, AT) is None
    assert parse_schedule("manual") == MANUAL


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("0 25 * * *", "'25' is not a hour (0-23)"),
        ("0 0 0 * *", "'0' is not a day of month (1-31)"),
        ("0 0 * foo *", "'foo' is not a month"),
        ("*/0 * * * *", "bad step '*/0'"),
        ("10-5 * * * *", "range '10-5' runs backwards"),
        ("0 0 30 2 *", "names no time that exists"),
        ("* * * *", "a cron expression of 5 fields"),
        ("0m", "an interval must be 1m to 31d"),
        ("32d", "an interval must be 1m to 31d"),
        ("hourly", "write `manual`, an interval"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_schedule(text)
    assert error in refused.value.message

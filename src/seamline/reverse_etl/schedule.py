"""When a model runs: `manual`, an interval (`15m`, `1h`, `1d`) or a 5-field cron expression
(minute hour day-of-month month day-of-week, in UTC), as Segment's and RudderStack's schedules.

Cron follows the usual rules: `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `0-30/10`),
month and weekday names (`jan`, `mon`), Sunday as 0 or 7; when both day fields are restricted a
day matching either one is due (as Vixie cron does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from seamline.errors import InvalidInput

MANUAL = "manual"
_INTERVAL = re.compile(r"^(\d+)\s*(m|min|h|d)$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names)
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_HORIZON = timedelta(days=366 * 5)
"""A cron expression with no time in five years (`0 0 31 2 *`) is refused when saved."""


@dataclass(frozen=True)
class Interval:
    seconds: int


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # Sunday = 0
        by_day, by_weekday = moment.day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def next_after(self, moment: datetime) -> datetime | None:
        """The first minute strictly after `moment` that the expression names, or None."""
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = at + _HORIZON
        while at < end:
            if at.month not in self.months:
                at = _next_month(at)
            elif not self.day_matches(at):
                at = (at + timedelta(days=1)).replace(hour=0, minute=0)
            elif at.hour not in self.hours:
                at = (at + timedelta(hours=1)).replace(minute=0)
            elif at.minute not in self.minutes:
                at += timedelta(minutes=1)
            else:
                return at
        return None


Schedule = str | Interval | Cron
"""MANUAL, an interval or a cron expression."""


def parse_schedule(text: str) -> Schedule:
    """The schedule `text` describes; InvalidInput says what is wrong with it."""
    written = text.strip().lower()
    if written == MANUAL:
        return MANUAL
    interval = _INTERVAL.match(written)
    if interval is not None:
        seconds = int(interval.group(1)) * _UNITS[interval.group(2)]
        if not 60 <= seconds <= 31 * 86400:
            raise InvalidInput(f"schedule {text!r}: an interval must be 1m to 31d")
        return Interval(seconds)
    parts = written.split()
    if len(parts) != 5:
        raise InvalidInput(
            f"schedule {text!r}: write `manual`, an interval such as 15m, 1h or 1d, or a cron "
            "expression of 5 fields (minute hour day-of-month month day-of-week)"
        )
    sets = [_field(part, *spec, text) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in sets[4])
    cron = Cron(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise InvalidInput(f"schedule {text!r}: the expression names no time that exists")
    return cron


def next_due(schedule: Schedule, last_started: datetime | None, since: datetime) -> datetime | None:
    """When a model with this schedule is next due: an interval once at first (`last_started`
    None) and then every interval after the last start; a cron expression at its next time
    after the last start (or after `since`, when the model was first seen); manual never."""
    if isinstance(schedule, Interval):
        if last_started is None:
            return since
        return last_started + timedelta(seconds=schedule.seconds)
    if isinstance(schedule, Cron):
        return schedule.next_after(last_started or since)
    return None


def _field(
    part: str, name: str, low: int, high: int, names: tuple[str, ...] | list[str], text: str
) -> frozenset[int]:
    found: set[int] = set()
    for item in part.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidInput(f"schedule {text!r}: bad step {item!r} in the {name} field")
            step = int(step_text)
        if body == "*":
            start, stop = low, high
        else:
            first, dash, last = body.partition("-")
            start = _value(first, name, low, high, names, text)
            stop = _value(last, name, low, high, names, text) if dash else start
            if slash and not dash:
                stop = high
            if stop < start:
                raise InvalidInput(f"schedule {text!r}: range {body!r} runs backwards")
        found.update(range(start, stop + 1, step))
    return frozenset(found)


def _value(
    word: str, name: str, low: int, high: int, names: tuple[str, ...] | list[str], text: str
) -> int:
    if word in names:
        return names.index(word) + (1 if name == "month" else 0)
    if word.isdigit() and low <= int(word) <= high:
        return int(word)
    raise InvalidInput(f"schedule {text!r}: {word!r} is not a {name} ({low}-{high})")


def _next_month(at: datetime) -> datetime:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=1, hour=0, minute=0)

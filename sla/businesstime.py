"""Business time: how much of a span falls inside opening hours, and when N hours have passed.

Pure functions, no Django. A `Schedule` is a week of opening intervals in local wall-clock
time (weekday → [(opens, closes)], Monday = 0), a time zone and a set of holidays (local
dates on which the desk is closed all day). Every interval is turned into two UTC instants
through zoneinfo for its own date, so a day on which the clocks change is exactly as long as
it is on the wall: 09:00–17:00 on the Sunday DST begins in Europe is 8 hours, and 00:00–00:00
that day (the whole day, see below) is 23.

* `closes` of 00:00 means midnight at the end of the day (an interval running to the end of
  the day); otherwise `closes` must be after `opens`.
* A wall time that does not exist (inside a spring-forward gap) is read with the offset before
  the change, as zoneinfo does with fold=0; an interval is clipped to a non-negative length.
* `business_seconds(s, start, end)`: seconds inside opening hours in [start, end); 0 when
  end <= start.
* `add_business_seconds(s, start, seconds)`: the earliest instant at which `seconds` business
  seconds have passed since `start`. Adding 0 returns `start` itself, even outside hours (the
  clock has not run). Raises NoOpeningHours when the week has no hours at all, or when none
  are found within MAX_DAYS (a year of holidays), rather than loop for ever.

With no schedule (`None`) time is wall-clock time: both functions are plain arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 400


class NoOpeningHours(ValueError):
    """The schedule never opens (or not within MAX_DAYS of the start)."""


@dataclass(frozen=True)
class Schedule:
    tz: ZoneInfo
    week: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for weekday, intervals in self.week.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6, not {weekday}")
            for opens, closes in intervals:
                if closes != time(0) and closes <= opens:
                    raise ValueError(f"closes ({closes}) must be after opens ({opens})")

    @property
    def is_never_open(self) -> bool:
        return not any(self.week.values())

    def open_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The UTC [start, end) spans the desk is open on local date `day`, in order."""
        if day in self.holidays:
            return
        for opens, closes in sorted(self.week.get(day.weekday(), ())):
            start = datetime.combine(day, opens, tzinfo=self.tz).astimezone(UTC)
            end_day = day + timedelta(days=1) if closes == time(0) else day
            end = datetime.combine(end_day, closes, tzinfo=self.tz).astimezone(UTC)
            if end > start:
                yield start, end


def _spans_from(schedule: Schedule, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans that end after `start`, in time order, clipped to begin no earlier."""
    if schedule.is_never_open:
        raise NoOpeningHours("the business hours have no opening times")
    # The day before too: its interval may run past midnight into `start`'s day (00:00 close).
    day = start.astimezone(schedule.tz).date() - timedelta(days=1)
    for _ in range(MAX_DAYS + 1):
        for span_start, span_end in schedule.open_spans(day):
            if span_end > start:
                yield max(span_start, start), span_end
        day += timedelta(days=1)


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def business_seconds(schedule: Schedule | None, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) inside opening hours (wall-clock seconds with no schedule)."""
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds()
    total = timedelta()  # summed exactly, as microseconds
    day = start.astimezone(schedule.tz).date() - timedelta(days=1)
    last = end.astimezone(schedule.tz).date()
    while day <= last:
        for span_start, span_end in schedule.open_spans(day):
            lo, hi = max(span_start, start), min(span_end, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds()


def add_business_seconds(schedule: Schedule | None, start: datetime, seconds: float) -> datetime:
    """The earliest instant at which `seconds` business seconds have passed since `start`."""
    _aware(start, "start")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    if schedule is None or seconds == 0:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=seconds)
    for span_start, span_end in _spans_from(schedule, start):
        length = span_end - span_start
        if left <= length:
            return span_start + left
        left -= length
    raise NoOpeningHours(f"no opening hours within {MAX_DAYS} days of {start.isoformat()}")

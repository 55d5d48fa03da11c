"""Business-time arithmetic (sla/businesstime.py): weekends, holidays, DST, time zones."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.businesstime import NoOpeningHours, Schedule, add_business_seconds, business_seconds

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = (time(9), time(17))
WEEKDAYS = dict.fromkeys(range(5), (NINE_TO_FIVE,))
HOUR = 3600


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office(**kwargs) -> Schedule:
    return Schedule(tz=kwargs.pop("tz", BERLIN), week=kwargs.pop("week", WEEKDAYS), **kwargs)


def test_a_friday_evening_case_is_due_on_monday():
    s = office()
    friday_4pm = berlin(2026, 12, 4, 16)  # a Friday
    # 1 hour on Friday, then the weekend is closed, then 1 hour on Monday.
    due = add_business_seconds(s, friday_4pm, 2 * HOUR)
    assert due == berlin(2026, 12, 7, 10)
    assert business_seconds(s, friday_4pm, due) == 2 * HOUR
    assert business_seconds(s, berlin(2026, 12, 5, 8), berlin(2026, 12, 6, 23)) == 0


def test_a_holiday_is_closed_all_day():
    s = office(holidays=frozenset({date(2026, 12, 25)}))  # a Friday
    thursday_4pm = berlin(2026, 12, 24, 16)
    assert add_business_seconds(s, thursday_4pm, 2 * HOUR) == berlin(2026, 12, 28, 10)
    assert business_seconds(s, berlin(2026, 12, 24, 0), berlin(2026, 12, 29, 0)) == 16 * HOUR


def test_a_start_before_opening_counts_from_opening():
    s = office()
    assert add_business_seconds(s, berlin(2026, 12, 7, 6), 30 * 60) == berlin(2026, 12, 7, 9, 30)
    # Adding nothing leaves the start where it is: the clock has not run.
    assert add_business_seconds(s, berlin(2026, 12, 6, 6), 0) == berlin(2026, 12, 6, 6)


def test_spring_forward_day_is_23_hours_and_office_hours_stay_on_the_wall():
    always = office(week={d: ((time(0), time(0)),) for d in range(7)})
    # 29 March 2026: Berlin goes from 02:00 CET to 03:00 CEST.
    assert business_seconds(always, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * HOUR
    assert business_seconds(always, berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * HOUR
    sunday = office(week={6: (NINE_TO_FIVE,)})
    assert business_seconds(sunday, berlin(2026, 3, 29), berlin(2026, 3, 30)) == 8 * HOUR
    # 8 business hours from Saturday noon end at 17:00 CEST on the Sunday: 15:00 UTC, where
    # the same hours a week before ended at 16:00 UTC.
    due = add_business_seconds(sunday, berlin(2026, 3, 28, 12), 8 * HOUR)
    assert due == datetime(2026, 3, 29, 15, tzinfo=UTC)
    before = add_business_seconds(sunday, berlin(2026, 3, 21, 12), 8 * HOUR)
    assert before == datetime(2026, 3, 22, 16, tzinfo=UTC)


def test_hours_are_read_in_the_teams_time_zone():
    tokyo = office(tz=ZoneInfo("Asia/Tokyo"))
    # 09:00 in Tokyo is 00:00 UTC (no DST there).
    monday_midnight_utc = datetime(2026, 12, 7, 0, tzinfo=UTC)
    assert add_business_seconds(tokyo, monday_midnight_utc, HOUR) == datetime(
        2026, 12, 7, 1, tzinfo=UTC
    )
    # The same UTC instant is Sunday evening in New York: the clock waits for Monday 09:00 EST.
    new_york = office(tz=ZoneInfo("America/New_York"))
    assert add_business_seconds(new_york, monday_midnight_utc, HOUR) == datetime(
        2026, 12, 7, 15, tzinfo=UTC
    )


def test_an_interval_to_midnight_counts_into_the_next_day():
    late = office(week={0: ((time(20), time(0)),)})
    assert add_business_seconds(late, berlin(2026, 12, 7, 23), 2 * HOUR) == berlin(2026, 12, 14, 21)


def test_without_a_schedule_time_is_wall_clock_time():
    start = berlin(2026, 12, 5, 12)
    assert add_business_seconds(None, start, 90) == start + timedelta(seconds=90)
    assert business_seconds(None, start, start + timedelta(days=2)) == 2 * 24 * HOUR


def test_a_week_without_hours_is_refused_not_looped():
    with pytest.raises(NoOpeningHours):
        add_business_seconds(office(week={}), berlin(2026, 12, 7), 60)
    every_day_off = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(800))
    with pytest.raises(NoOpeningHours):
        add_business_seconds(office(holidays=every_day_off), berlin(2026, 1, 1), 60)


def test_bad_intervals_and_naive_times_are_refused():
    with pytest.raises(ValueError, match="after opens"):
        office(week={0: ((time(17), time(9)),)})
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds(office(), datetime(2026, 12, 7), berlin(2026, 12, 8))  # noqa: DTZ001


moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=200, deadline=None)
@given(start=moments, seconds=st.integers(min_value=0, max_value=30 * 8 * HOUR))
def test_adding_then_measuring_gives_back_the_seconds(start, seconds):
    s = office(holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}))
    due = add_business_seconds(s, start, seconds)
    assert business_seconds(s, start, due) == seconds
    # And it is the earliest such instant: one second before, the clock had not got there.
    if seconds:
        assert business_seconds(s, start, due - timedelta(microseconds=1)) < seconds

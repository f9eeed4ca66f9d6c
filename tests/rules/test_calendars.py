"""The working-day calendar that every service-level deadline is computed on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendars import (
    LOCAL_CLOSURE,
    REGIONS,
    WorkingCalendar,
    bank_holidays,
    calendar_for,
)

LONDON = ZoneInfo("Europe/London")
EW = calendar_for()
HOURS_8 = timedelta(hours=8)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- days --------------------------------------------------------------------------------


def test_weekends_are_not_working_days():
    assert EW.is_working_day(date(2026, 6, 5))  # Friday
    assert not EW.is_working_day(date(2026, 6, 6))  # Saturday
    assert not EW.is_working_day(date(2026, 6, 7))  # Sunday
    assert EW.is_working_day(date(2026, 6, 8))  # Monday


@pytest.mark.parametrize(
    "closed",
    [
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 4),  # Early May bank holiday
        date(2026, 12, 25),  # Christmas Day, a Friday
        date(2026, 12, 28),  # Boxing Day falls on Saturday: substitute Monday
    ],
)
@pytest.mark.parametrize("region", ["england-and-wales", "england", "wales"])
def test_england_and_wales_bank_holidays_are_closed(region, closed):
    calendar = calendar_for(region)
    assert not calendar.is_working_day(closed)
    assert calendar.holiday_name(closed)


def test_ordinary_days_have_no_holiday_name():
    assert EW.holiday_name(date(2026, 12, 29)) is None
    assert EW.is_working_day(date(2026, 12, 29))


def test_scotland_has_its_own_bank_holidays():
    scotland = calendar_for("scotland")
    # 2 January is a holiday in Scotland only.
    assert not scotland.is_working_day(date(2026, 1, 2))
    assert EW.is_working_day(date(2026, 1, 2))
    # Easter Monday is not a bank holiday in Scotland.
    assert scotland.is_working_day(date(2026, 4, 6))
    assert not EW.is_working_day(date(2026, 4, 6))
    # St Andrew's Day, 30 November 2025, fell on a Sunday: the Monday is the substitute.
    assert not scotland.is_working_day(date(2025, 12, 1))
    assert "Andrew" in scotland.holiday_name(date(2025, 12, 1))
    assert EW.is_working_day(date(2025, 12, 1))


def test_northern_ireland_has_st_patricks_day():
    ni = calendar_for("northern-ireland")
    assert not ni.is_working_day(date(2026, 3, 17))
    assert "Patrick" in ni.holiday_name(date(2026, 3, 17))
    assert EW.is_working_day(date(2026, 3, 17))
    assert calendar_for("scotland").is_working_day(date(2026, 3, 17))


def test_extra_closures_are_skipped():
    council = calendar_for(extra_closures=[date(2026, 12, 29), date(2026, 12, 30)])
    assert not council.is_working_day(date(2026, 12, 29))
    assert council.holiday_name(date(2026, 12, 30)) == LOCAL_CLOSURE
    # Thursday 24 December 2026 + 1 working day: 25 and 28 are bank holidays, 29 and 30
    # are closed, so the deadline is Thursday 31 December.
    due = council.add_working_days(london(2026, 12, 24, 10), 1)
    assert due == london(2026, 12, 31, 17)
    assert EW.add_working_days(london(2026, 12, 24, 10), 1) == london(2026, 12, 29, 17)


def test_bank_holiday_names_win_over_local_closure():
    calendar = calendar_for(extra_closures=[date(2026, 12, 25)])
    assert calendar.holiday_name(date(2026, 12, 25)) != LOCAL_CLOSURE


def test_bank_holidays_are_built_once_per_region_and_year():
    bank_holidays.cache_clear()
    for _ in range(50):
        EW.add_working_days(london(2026, 5, 1, 10), 10)
    info = bank_holidays.cache_info()
    assert info.misses == 1
    assert info.hits > 50


def test_bank_holidays_table_is_read_only():
    table = bank_holidays("england-and-wales", 2026)
    assert date(2026, 5, 4) in table
    with pytest.raises(TypeError):
        table[date(2026, 6, 1)] = "Made up"  # type: ignore[index]


def test_working_days_between_counts_the_half_open_interval():
    # (Fri 1 May, Fri 8 May]: Mon 4 is a holiday, so Tue..Fri = 4.
    assert EW.working_days_between(date(2026, 5, 1), date(2026, 5, 8)) == 4
    assert EW.working_days_between(date(2026, 5, 8), date(2026, 5, 8)) == 0
    assert EW.working_days_between(date(2026, 5, 8), date(2026, 5, 1)) == 0


def test_next_and_previous_working_day_jump_holidays():
    assert EW.next_working_day(date(2026, 5, 1)) == date(2026, 5, 5)
    assert EW.previous_working_day(date(2026, 5, 5)) == date(2026, 5, 1)


# -- add_working_days --------------------------------------------------------------------


def test_friday_before_a_bank_holiday_weekend():
    due = EW.add_working_days(london(2026, 5, 1, 10), 1)
    assert due == utc(2026, 5, 5, 16)  # Tuesday 17:00 BST
    assert due.tzinfo is UTC


def test_start_on_a_saturday_counts_from_monday():
    # Sat 6 June: day zero is Mon 8 June, so n=1 is Tue 9 June.
    assert EW.add_working_days(london(2026, 6, 6, 11), 1) == london(2026, 6, 9, 17)
    assert EW.add_working_days(london(2026, 6, 6, 11), 0) == london(2026, 6, 8, 17)


def test_start_after_hours_counts_from_the_next_working_day():
    assert EW.add_working_days(london(2026, 6, 9, 17, 1), 1) == london(2026, 6, 11, 17)
    assert EW.add_working_days(london(2026, 6, 9, 16, 59), 1) == london(2026, 6, 10, 17)


def test_start_before_hours_counts_the_same_day():
    assert EW.add_working_days(london(2026, 6, 9, 7, 30), 1) == london(2026, 6, 10, 17)


def test_zero_days_is_close_of_business():
    assert EW.add_working_days(london(2026, 6, 9, 10), 0) == london(2026, 6, 9, 17)
    assert EW.add_working_days(london(2026, 6, 9, 20), 0) == london(2026, 6, 10, 17)
    # Exactly at close the day is still today: a deadline fed back in stays put.
    assert EW.add_working_days(london(2026, 6, 9, 17), 0) == london(2026, 6, 9, 17)


def test_deadlines_compose_across_stages():
    start = london(2026, 4, 1, 14)
    first = EW.add_working_days(start, 3)
    assert EW.add_working_days(first, 4) == EW.add_working_days(start, 7)


def test_start_in_another_zone_is_judged_in_london():
    # 23:30 UTC on Friday 5 June is 00:30 BST on Saturday: day zero is Monday.
    assert EW.add_working_days(utc(2026, 6, 5, 23, 30), 0) == london(2026, 6, 8, 17)
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 6, 5, 19, 30, tzinfo=new_york)  # 00:30 BST Saturday
    assert EW.add_working_days(start, 0) == london(2026, 6, 8, 17)


@pytest.mark.parametrize(
    ("friday", "monday_due_utc"),
    [
        (date(2026, 3, 27), utc(2026, 3, 30, 16)),  # clocks go forward Sun 29 March
        (date(2026, 10, 23), utc(2026, 10, 26, 17)),  # clocks go back Sun 25 October
    ],
)
def test_dst_weekends_keep_five_pm_wall_clock(friday, monday_due_utc):
    start = datetime.combine(friday, time(10), tzinfo=LONDON)
    due = EW.add_working_days(start, 1)
    assert due == monday_due_utc
    assert due.astimezone(LONDON).time() == time(17)


def test_dst_change_inside_a_working_week():
    # Wednesday 25 March 2026 (GMT) + 5 working days is Wednesday 1 April (BST).
    due = EW.add_working_days(london(2026, 3, 25, 9), 5)
    assert due == utc(2026, 4, 1, 16)


# -- working hours -----------------------------------------------------------------------


def test_working_hours_span_a_weekend():
    assert EW.add_working_hours(london(2026, 6, 5, 16), 2) == london(2026, 6, 8, 10)
    # Earliest instant: a deadline that uses up the day exactly is at close, not Monday.
    assert EW.add_working_hours(london(2026, 6, 5, 16), 1) == london(2026, 6, 5, 17)


def test_working_hours_across_the_spring_forward_weekend():
    due = EW.add_working_hours(london(2026, 3, 27, 16), 2)
    assert due == london(2026, 3, 30, 10)
    assert due == utc(2026, 3, 30, 9)
    assert EW.working_time_between(london(2026, 3, 27, 9), london(2026, 3, 30, 17)) == 2 * HOURS_8


def test_working_hours_from_outside_working_time():
    assert EW.add_working_hours(london(2026, 6, 6, 12), 1.5) == london(2026, 6, 8, 10, 30)
    assert EW.add_working_hours(london(2026, 6, 8, 7), 0.25) == london(2026, 6, 8, 9, 15)
    assert EW.add_working_hours(london(2026, 6, 6, 12), 0) == london(2026, 6, 6, 12)


def test_working_time_between():
    # Wed 6 May 11:00 to Fri 8 May 17:00: 6h + 8h + 8h.
    assert EW.working_time_between(london(2026, 5, 6, 11), london(2026, 5, 8, 17)) == timedelta(
        hours=22
    )
    assert EW.working_time_between(london(2026, 5, 8, 17), london(2026, 5, 6, 11)) == timedelta(0)
    # A whole bank holiday weekend, Friday close to Tuesday open, is no working time.
    assert EW.working_time_between(london(2026, 5, 1, 17), london(2026, 5, 5, 9)) == timedelta(0)


def test_pause_and_resume_keeps_the_remaining_working_time():
    due = london(2026, 5, 8, 17)
    paused_at = london(2026, 5, 6, 11)
    remaining = EW.working_time_between(paused_at, due)
    assert remaining == timedelta(hours=22)
    # Resumed Tuesday 26 May 15:00 after the Spring bank holiday Monday:
    # Tue 2h, Wed 8h, Thu 8h, Fri 4h -> Friday 29 May 13:00.
    resumed_at = london(2026, 5, 26, 15)
    new_due = EW.add_working_duration(resumed_at, remaining)
    assert new_due == london(2026, 5, 29, 13)
    assert EW.working_time_between(resumed_at, new_due) == remaining


# -- warning points ----------------------------------------------------------------------


def test_subtract_working_days_for_a_warning_point():
    due = london(2026, 5, 7, 17)  # Thursday
    # Two working days before Thursday close is Tuesday close; Monday 4 is a holiday.
    assert EW.subtract_working_days(due, 2) == london(2026, 5, 5, 17)
    assert EW.subtract_working_days(due, 3) == london(2026, 5, 1, 17)
    assert EW.subtract_working_days(due, 0) == due


def test_subtract_working_days_keeps_the_time_of_day():
    assert EW.subtract_working_days(london(2026, 5, 5, 12), 1) == london(2026, 5, 1, 12)


def test_subtract_working_days_from_outside_working_time():
    # Saturday is normalised to Friday close, Tuesday before opening to Friday close too.
    assert EW.subtract_working_days(london(2026, 6, 6, 10), 1) == london(2026, 6, 4, 17)
    assert EW.subtract_working_days(london(2026, 5, 5, 8), 0) == london(2026, 5, 1, 17)


def test_subtract_working_hours():
    assert EW.subtract_working_hours(london(2026, 6, 8, 10), 2) == london(2026, 6, 5, 16)
    assert EW.subtract_working_hours(london(2026, 6, 8, 10), 1) == london(2026, 6, 8, 9)
    assert EW.subtract_working_hours(london(2026, 5, 5, 11), 4) == london(2026, 5, 1, 15)


def test_calendar_days_keep_the_wall_clock_across_dst():
    assert EW.add_calendar_days(london(2026, 3, 28, 12), 1) == utc(2026, 3, 29, 11)
    assert EW.add_calendar_days(london(2026, 10, 24, 12), 1) == utc(2026, 10, 25, 12)
    assert EW.subtract_calendar_days(london(2026, 3, 29, 12), 1) == london(2026, 3, 28, 12)
    # Calendar days ignore holidays.
    assert EW.add_calendar_days(london(2026, 5, 1, 10), 3) == london(2026, 5, 4, 10)


# -- refusing bad input ------------------------------------------------------------------


NAIVE = datetime(2026, 5, 1, 10)  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    "call",
    [
        lambda: EW.add_working_days(NAIVE, 1),
        lambda: EW.subtract_working_days(NAIVE, 1),
        lambda: EW.add_working_hours(NAIVE, 1),
        lambda: EW.subtract_working_hours(NAIVE, 1),
        lambda: EW.add_working_duration(NAIVE, HOURS_8),
        lambda: EW.subtract_working_duration(NAIVE, HOURS_8),
        lambda: EW.add_calendar_days(NAIVE, 1),
        lambda: EW.subtract_calendar_days(NAIVE, 1),
        lambda: EW.working_time_between(NAIVE, london(2026, 5, 2)),
        lambda: EW.working_time_between(london(2026, 4, 2), NAIVE),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: EW.add_working_days(london(2026, 5, 1), -1),
        lambda: EW.add_working_hours(london(2026, 5, 1), -0.5),
        lambda: EW.add_working_hours(london(2026, 5, 1), float("nan")),
        lambda: EW.add_working_duration(london(2026, 5, 1), -HOURS_8),
        lambda: EW.subtract_calendar_days(london(2026, 5, 1), -1),
    ],
)
def test_negative_amounts_are_refused(call):
    with pytest.raises(ValueError, match="zero or more"):
        call()


def test_datetimes_are_refused_where_a_date_is_meant():
    with pytest.raises(TypeError):
        EW.is_working_day(london(2026, 5, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region": "atlantis"}, "unknown region"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"working_days": frozenset()}, "at least one working day"),
        ({"working_days": frozenset({7})}, "weekday numbers"),
        ({"day_starts": time(17), "day_ends": time(9)}, "end after it starts"),
        ({"day_starts": time(9), "day_ends": time(9)}, "end after it starts"),
        ({"day_starts": time(9, tzinfo=UTC)}, "without a time zone"),
        ({"extra_closures": frozenset({london(2026, 1, 2)})}, "not datetimes"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(**kwargs)


def test_calendar_for_refuses_an_unknown_region():
    with pytest.raises(ValueError, match="scotland"):
        calendar_for("Scotland")


def test_every_region_key_builds():
    for region in REGIONS:
        assert calendar_for(region).region == region


def test_calendars_are_values():
    a = calendar_for(extra_closures=[date(2026, 12, 29)])
    b = WorkingCalendar(extra_closures=frozenset({date(2026, 12, 29)}))
    assert a == b
    assert hash(a) == hash(b)
    assert a != EW


def test_a_calendar_with_other_hours_and_days():
    # A service open Tuesday to Saturday, 08:00-12:00.
    calendar = WorkingCalendar(
        working_days=frozenset({1, 2, 3, 4, 5}), day_starts=time(8), day_ends=time(12)
    )
    assert calendar.add_working_days(london(2026, 6, 6, 9), 1) == london(2026, 6, 9, 12)
    assert calendar.add_working_hours(london(2026, 6, 6, 11), 2) == london(2026, 6, 9, 9)


# -- properties --------------------------------------------------------------------------

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = int((datetime(2029, 1, 1, tzinfo=UTC) - BASE).total_seconds())
ZONES = [UTC, LONDON, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]

instants = st.builds(
    lambda seconds, zone: (BASE + timedelta(seconds=seconds)).astimezone(zone),
    st.integers(0, SPAN),
    st.sampled_from(ZONES),
)
calendars = st.sampled_from(
    [
        EW,
        calendar_for("scotland"),
        calendar_for("northern-ireland", extra_closures=[date(2026, 12, 29)]),
    ]
)


def opens_before_or_at(calendar: WorkingCalendar, local: datetime) -> bool:
    return calendar.is_working_day(local.date()) and local.time() <= calendar.day_starts


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, n=st.integers(0, 60))
def test_property_add_working_days(calendar, start, n):
    """For any aware start in 2025-2028 and n in 0..60, with due = add_working_days(start, n)
    and local = the calendar's zone: due is UTC, due >= start, due's local date is a working
    day and its local time is exactly day_ends; working_days_between(start local date, due
    local date) is n when start is on a working day at or before day_ends (in particular at or
    before day_starts), and n + 1 otherwise (day zero is then the next working day)."""
    due = calendar.add_working_days(start, n)
    assert due.tzinfo is UTC
    assert due >= start
    due_local = due.astimezone(LONDON)
    start_local = start.astimezone(LONDON)
    assert calendar.is_working_day(due_local.date())
    assert due_local.time() == calendar.day_ends
    counted = calendar.working_days_between(start_local.date(), due_local.date())
    if opens_before_or_at(calendar, start_local):
        assert counted == n
    same_day = (
        calendar.is_working_day(start_local.date()) and start_local.time() <= calendar.day_ends
    )
    assert counted == (n if same_day else n + 1)


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, a=st.integers(0, 30), b=st.integers(0, 30))
def test_property_deadlines_compose_and_warnings_invert_them(calendar, start, a, b):
    """add(add(s, a), b) == add(s, a + b); subtract(add(s, a + b), b) == add(s, a); and the
    working time between a warning point and its deadline is exactly b working days."""
    first = calendar.add_working_days(start, a)
    both = calendar.add_working_days(start, a + b)
    assert calendar.add_working_days(first, b) == both
    warning = calendar.subtract_working_days(both, b)
    assert warning == first
    assert calendar.working_time_between(warning, both) == b * HOURS_8


@settings(max_examples=300, deadline=None)
@given(
    calendar=calendars,
    start=instants,
    hours=st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False),
)
def test_property_working_hours_round_trip(calendar, start, hours):
    """For any aware start (inside working time or not) and 0 <= h <= 400:
    working_time_between(start, add_working_hours(start, h)) == timedelta(hours=h), the result
    is >= start, and for h > 0 it lies inside a working window (it is the earliest such
    instant); likewise working_time_between(subtract_working_hours(end, h), end) == h."""
    delta = timedelta(hours=hours)
    due = calendar.add_working_hours(start, hours)
    assert due >= start
    assert calendar.working_time_between(start, due) == delta
    if delta:
        local = due.astimezone(LONDON)
        assert calendar.is_working_day(local.date())
        assert calendar.day_starts < local.time() <= calendar.day_ends
    warning = calendar.subtract_working_hours(start, hours)
    assert warning <= start
    assert calendar.working_time_between(warning, start) == delta


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, deadline=instants, n=st.integers(0, 60))
def test_property_subtract_working_days(calendar, deadline, n):
    """For any aware deadline: the warning point is <= deadline, on a working day, and exactly
    n working days of working time before it."""
    warning = calendar.subtract_working_days(deadline, n)
    assert warning <= deadline
    assert calendar.is_working_day(warning.astimezone(LONDON).date())
    assert calendar.working_time_between(warning, deadline) == n * HOURS_8


@settings(max_examples=200, deadline=None)
@given(start=instants, n=st.integers(0, 400))
def test_property_calendar_days_keep_local_time(start, n):
    """add_calendar_days keeps the London wall-clock time (for times that exist on both days)
    and subtract_calendar_days undoes it."""
    later = EW.add_calendar_days(start, n)
    before, after = start.astimezone(LONDON), later.astimezone(LONDON)
    assert after.date() == before.date() + timedelta(days=n)
    if time(3) <= before.time() <= time(23):  # clear of the 01:00-02:00 change hours
        assert after.time() == before.time()
        assert EW.subtract_calendar_days(later, n) == start

"""Working-day calendars that service-level deadlines are computed on.

Pure: no database, no clock, no I/O. Callers pass "now" in (from `casebridge.clock`), so a
deadline is a function of its inputs and tests never sleep.

Every method takes timezone-aware datetimes and returns aware UTC datetimes. The working
day is judged in the calendar's own zone (Europe/London by default), so a deadline stays at
17:00 on the wall clock across the BST/GMT changes. All arithmetic between instants is done
in UTC: Python adds and subtracts two datetimes that share a ZoneInfo by wall clock, which
would be an hour out across a clock change.

Cost: the bank holidays for a (region, year) are built once and cached, so a working-day
test is a few set and dict look-ups. Every method walks day by day, never minute by minute:
`add_working_days` is O(n + the non-working days it passes), the hour and duration methods
are O(calendar days spanned).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DEFAULT_REGION = "england-and-wales"
DEFAULT_TIMEZONE = "Europe/London"
LOCAL_CLOSURE = "Local closure"

# Our configuration's region keys -> the `holidays` package's UnitedKingdom subdivisions.
# England and Wales share their bank holidays; Wales is kept for partnerships that say so.
REGIONS: Mapping[str, str] = MappingProxyType(
    {
        "england-and-wales": "ENG",
        "england": "ENG",
        "wales": "WLS",
        "scotland": "SCT",
        "northern-ireland": "NIR",
    }
)

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)


@lru_cache(maxsize=1024)
def bank_holidays(region: str, year: int) -> Mapping[date, str]:
    """The bank holidays of one region and year, built once per process.

    Built as a read-only dict rather than keeping the `holidays` object: that object grows
    itself on look-up (it adds years lazily), which is neither cheap nor thread-safe.
    Holidays that fall on a weekend are included under their own name next to the weekday
    that is "(observed)" in their place.
    """
    try:
        subdivision = REGIONS[region]
    except KeyError:
        raise ValueError(_unknown_region(region)) from None
    found = holidays.UnitedKingdom(subdiv=subdivision, years=year, language="en_GB")
    return MappingProxyType(dict(found))


@dataclass(frozen=True)
class WorkingCalendar:
    """When the partnership is at work: its nation's bank holidays, hours and closures.

    Working time is the window [day_starts, day_ends] in `timezone` on each working day.
    An instant exactly at day_ends still belongs to that day, so a deadline fed back in as a
    start (the next stage's clock) counts from the same day: add_working_days composes,
    add_working_days(add_working_days(s, a), b) == add_working_days(s, a + b).
    """

    region: str = DEFAULT_REGION
    timezone: str = DEFAULT_TIMEZONE
    working_days: frozenset[int] = frozenset(range(5))
    day_starts: time = time(9, 0)
    day_ends: time = time(17, 0)
    extra_closures: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(_unknown_region(self.region))
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        object.__setattr__(self, "_zone", zone)

        # Accept any iterable from configuration, but keep the frozen, hashable form.
        working_days = frozenset(self.working_days)
        if not working_days:
            raise ValueError("a calendar needs at least one working day")
        if any(type(d) is not int or not 0 <= d <= 6 for d in working_days):
            raise ValueError("working days are weekday numbers, 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "working_days", working_days)

        for name in ("day_starts", "day_ends"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{name} must be a local time of day without a time zone")
        if self.day_ends <= self.day_starts:
            raise ValueError("the working day must end after it starts")

        closures = frozenset(self.extra_closures)
        if any(isinstance(d, datetime) or not isinstance(d, date) for d in closures):
            raise ValueError("extra closures are dates, not datetimes")
        object.__setattr__(self, "extra_closures", closures)

    # -- days -----------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        _require_date(d)
        return self._is_open(d)

    def holiday_name(self, d: date) -> str | None:
        """Why a day is closed, for showing next to a deadline; None on an ordinary day."""
        _require_date(d)
        name = bank_holidays(self.region, d.year).get(d)
        if name is not None:
            return name
        return LOCAL_CLOSURE if d in self.extra_closures else None

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after d."""
        _require_date(d)
        return self._next_open(d)

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before d."""
        _require_date(d)
        return self._previous_open(d)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: the days a case has been open, not counting day one.

        Zero when b <= a. O(b - a).
        """
        _require_date(a)
        _require_date(b)
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            count += self._is_open(d)
            d += _ONE_DAY
        return count

    # -- working days ---------------------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The usual SLA deadline: close of business on the n-th working day after start.

        The start's day counts as day zero when start falls on a working day at or before
        day_ends (before hours included); otherwise (a non-working day, or after hours) day
        zero is the next working day. The result is day_ends local time on the working day
        n working days after day zero, so n=0 is close of business on day zero.
        E.g. Friday 1 May 2026 10:00 London, n=1: Monday 4 May is a bank holiday, so the
        deadline is Tuesday 5 May 17:00 BST, 16:00 UTC.
        """
        instant = self._utc(start)
        _require_count(n)
        day = self._local(instant).date()
        if not (self._is_open(day) and instant <= self._window(day)[1]):
            day = self._next_open(day)
        for _ in range(n):
            day = self._next_open(day)
        return self._window(day)[1]

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime:
        """The warning point n working days before a deadline, at the same time of day.

        A deadline at close of business gives close of business n working days earlier, so
        add_working_days(subtract_working_days(d, n), n) == d for such deadlines. A deadline
        outside working time is first moved back to the close of the last working day before
        it, which loses no working time; n=0 returns that normalised instant. The working
        time between the result and the deadline is n full working days.
        """
        instant = self._utc(deadline)
        _require_count(n)
        local = self._local(instant)
        day = local.date()
        keep_time: time | None = None
        if self._is_open(day):
            opens, closes = self._window(day)
            if instant > opens:
                keep_time = local.time() if instant < closes else None
            else:
                day = self._previous_open(day)
        else:
            day = self._previous_open(day)
        for _ in range(n):
            day = self._previous_open(day)
        opens, closes = self._window(day)
        if keep_time is None:
            return closes
        at = datetime.combine(day, keep_time, tzinfo=self._zone).astimezone(UTC)
        return min(max(at, opens), closes)

    # -- working hours --------------------------------------------------------------------

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """See add_working_duration; hours may be fractional."""
        return self.add_working_duration(start, _hours(hours))

    def subtract_working_hours(self, deadline: datetime, hours: float) -> datetime:
        """See subtract_working_duration; hours may be fractional."""
        return self.subtract_working_duration(deadline, _hours(hours))

    def add_working_duration(self, start: datetime, delta: timedelta) -> datetime:
        """The earliest instant t >= start with working_time_between(start, t) == delta.

        This is how a paused clock resumes: the remaining working time is spent again from
        the resume instant. Earliest means a deadline that uses up a day exactly lands at
        that day's close, not the next morning (Friday 16:00 + 1h is Friday 17:00, + 2h is
        Monday 10:00). delta=0 returns start itself.
        """
        instant = self._utc(start)
        remaining = _require_duration(delta)
        if remaining == _ZERO:
            return instant
        day = self._local(instant).date()
        while True:
            if self._is_open(day):
                opens, closes = self._window(day)
                begin = max(instant, opens)
                if begin < closes:
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
            day += _ONE_DAY

    def subtract_working_duration(self, deadline: datetime, delta: timedelta) -> datetime:
        """The latest instant t <= deadline with working_time_between(t, deadline) == delta.

        For warning points counted in hours ("8 working hours before the deadline").
        delta=0 returns the deadline itself.
        """
        instant = self._utc(deadline)
        remaining = _require_duration(delta)
        if remaining == _ZERO:
            return instant
        day = self._local(instant).date()
        while True:
            if self._is_open(day):
                opens, closes = self._window(day)
                end = min(instant, closes)
                if end > opens:
                    if remaining <= end - opens:
                        return end - remaining
                    remaining -= end - opens
            day -= _ONE_DAY

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from a to b (zero if b <= a): what is left on a paused clock.

        Counts real elapsed time inside working windows. O(calendar days from a to b).
        """
        start, end = self._utc(a), self._utc(b)
        total = _ZERO
        if end <= start:
            return total
        day, last = self._local(start).date(), self._local(end).date()
        while day <= last:
            if self._is_open(day):
                opens, closes = self._window(day)
                overlap = min(end, closes) - max(start, opens)
                if overlap > _ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    # -- calendar days --------------------------------------------------------------------

    def add_calendar_days(self, start: datetime, n: int) -> datetime:
        """n plain days later at the same local wall-clock time (so 24h +/- 1h across DST).

        For statutory periods stated in calendar days rather than working days.
        """
        instant = self._utc(start)
        _require_count(n)
        return self._shift_local_days(instant, n)

    def subtract_calendar_days(self, deadline: datetime, n: int) -> datetime:
        """n plain days earlier at the same local wall-clock time."""
        instant = self._utc(deadline)
        _require_count(n)
        return self._shift_local_days(instant, -n)

    # -- internals ------------------------------------------------------------------------

    def _utc(self, moment: datetime) -> datetime:
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware datetime")
        return moment.astimezone(UTC)

    def _local(self, instant: datetime) -> datetime:
        return instant.astimezone(self._zone)

    # The unchecked forms of the day tests: they run once per day walked, so they skip the
    # argument checks the public methods make once per call.

    def _is_open(self, d: date) -> bool:
        return (
            d.weekday() in self.working_days
            and d not in self.extra_closures
            and d not in bank_holidays(self.region, d.year)
        )

    def _next_open(self, d: date) -> date:
        d += _ONE_DAY
        while not self._is_open(d):
            d += _ONE_DAY
        return d

    def _previous_open(self, d: date) -> date:
        d -= _ONE_DAY
        while not self._is_open(d):
            d -= _ONE_DAY
        return d

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """The working window of one day, as UTC instants."""
        opens = datetime.combine(day, self.day_starts, tzinfo=self._zone)
        closes = datetime.combine(day, self.day_ends, tzinfo=self._zone)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def _shift_local_days(self, instant: datetime, n: int) -> datetime:
        # Adding to a zone-aware datetime moves the wall clock, which is what we want here.
        return (self._local(instant) + timedelta(days=n)).astimezone(UTC)


def calendar_for(
    region: str = DEFAULT_REGION,
    *,
    extra_closures: Iterable[date] = (),
    timezone: str = DEFAULT_TIMEZONE,
) -> WorkingCalendar:
    """The calendar for a region key from configuration, with its local closure days."""
    return WorkingCalendar(
        region=region, timezone=timezone, extra_closures=frozenset(extra_closures)
    )


def _unknown_region(region: object) -> str:
    return f"unknown region {region!r}; expected one of: {', '.join(REGIONS)}"


def _require_date(d: object) -> None:
    # A datetime is a date too, but would silently miss every holiday look-up.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")


def _require_count(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected a whole number of days, got {type(n).__name__}")
    if n < 0:
        raise ValueError("the number of days must be zero or more; use the subtract_ methods")


def _require_duration(delta: object) -> timedelta:
    if not isinstance(delta, timedelta):
        raise TypeError(f"expected a timedelta, got {type(delta).__name__}")
    if delta < _ZERO:
        raise ValueError("the duration must be zero or more; use the subtract_ methods")
    return delta


def _hours(hours: float) -> timedelta:
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise TypeError(f"expected a number of hours, got {type(hours).__name__}")
    if not math.isfinite(hours) or hours < 0:
        raise ValueError("the number of hours must be a finite number, zero or more")
    return timedelta(hours=hours)

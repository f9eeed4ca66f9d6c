"""A working calendar that remembers its day look-ups, for generating many histories.

The interpreter asks the same few hundred days again and again (is it open, when does it
close, which day is n working days on). A million histories fall on about 730 days, so the
answers of the ordinary calendar are computed once per day (and per day and count) and kept.
The deadlines are identical, only cheaper to get: tests/casebridge/test_synthetic.py checks
MemoCalendar against WorkingCalendar on random instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from rules.calendars import WorkingCalendar, calendar_for


class MemoCalendar(WorkingCalendar):
    """WorkingCalendar with its day walks memoised (same results)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("_memo_open", "_memo_window", "_memo_next", "_memo_previous",
                     "_memo_forward", "_memo_back"):
            object.__setattr__(self, name, {})

    def is_open_day(self, d: date) -> bool:
        return self._is_open(d)

    def next_open_day(self, d: date) -> date:
        return self._next_open(d)

    # The same algorithms as WorkingCalendar's, with "walk n working days" looked up.

    def add_working_days(self, start: datetime, n: int) -> datetime:
        instant = self._utc(start)
        _check_count(n)
        day = self._local(instant).date()
        if not (self._is_open(day) and instant <= self._window(day)[1]):
            day = self._next_open(day)
        return self._window(self._forward(day, n))[1]

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime:
        instant = self._utc(deadline)
        _check_count(n)
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
        day = self._back(day, n)
        opens, closes = self._window(day)
        if keep_time is None:
            return closes
        at = datetime.combine(day, keep_time, tzinfo=self._zone).astimezone(UTC)
        return min(max(at, opens), closes)

    def _forward(self, day: date, n: int) -> date:
        memo: dict[tuple[date, int], date] = self._memo_forward  # type: ignore[attr-defined]
        found = memo.get((day, n))
        if found is None:
            found = day
            for _ in range(n):
                found = self._next_open(found)
            memo[(day, n)] = found
        return found

    def _back(self, day: date, n: int) -> date:
        memo: dict[tuple[date, int], date] = self._memo_back  # type: ignore[attr-defined]
        found = memo.get((day, n))
        if found is None:
            found = day
            for _ in range(n):
                found = self._previous_open(found)
            memo[(day, n)] = found
        return found

    def _is_open(self, d: date) -> bool:
        memo: dict[date, bool] = self._memo_open  # type: ignore[attr-defined]
        found = memo.get(d)
        if found is None:
            found = memo[d] = WorkingCalendar._is_open(self, d)
        return found

    def _window(self, day: date) -> tuple[datetime, datetime]:
        memo: dict[date, Any] = self._memo_window  # type: ignore[attr-defined]
        found = memo.get(day)
        if found is None:
            found = memo[day] = WorkingCalendar._window(self, day)
        return found

    def _next_open(self, d: date) -> date:
        memo: dict[date, date] = self._memo_next  # type: ignore[attr-defined]
        found = memo.get(d)
        if found is None:
            found = memo[d] = WorkingCalendar._next_open(self, d)
        return found

    def _previous_open(self, d: date) -> date:
        memo: dict[date, date] = self._memo_previous  # type: ignore[attr-defined]
        found = memo.get(d)
        if found is None:
            found = memo[d] = WorkingCalendar._previous_open(self, d)
        return found


def _check_count(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected a whole number of days, got {type(n).__name__}")
    if n < 0:
        raise ValueError("the number of days must be zero or more; use the subtract_ methods")


def memo_calendar(region: str) -> MemoCalendar:
    base = calendar_for(region)
    return MemoCalendar(
        region=base.region, timezone=base.timezone, working_days=base.working_days,
        day_starts=base.day_starts, day_ends=base.day_ends, extra_closures=base.extra_closures,
    )

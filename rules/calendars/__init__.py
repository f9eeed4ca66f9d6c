"""Working-day calendars: the time base that workflow deadlines are computed on."""

from rules.calendars.calendar import (
    DEFAULT_REGION,
    DEFAULT_TIMEZONE,
    LOCAL_CLOSURE,
    REGIONS,
    WorkingCalendar,
    bank_holidays,
    calendar_for,
)

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_TIMEZONE",
    "LOCAL_CLOSURE",
    "REGIONS",
    "WorkingCalendar",
    "bank_holidays",
    "calendar_for",
]

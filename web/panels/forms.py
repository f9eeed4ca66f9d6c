"""Reading the meeting forms: GOV.UK date inputs, a time of day, ids and yes/no answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time

from web.dates import parse_date_boxes
from web.numbers import whole_number

_TIME = re.compile(r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s*(?P<half>am|pm)?$")


def parse_date(form: Mapping[str, str], prefix: str, *, what: str) -> tuple[date | None, str]:
    """(the date, "") or (None, the message) from the boxes `<prefix>-day/-month/-year`.
    `what` names the date in words: "the date of the meeting"."""
    return parse_date_boxes(form, prefix, what=what)


def parse_time(text: str, *, what: str) -> tuple[time | None, str]:
    """'10:00', '14:30', '9.15', '2pm', '2:30pm' -> a time; anything else -> the message."""
    value = text.strip().lower().replace(" ", "")
    if not value:
        return None, f"Enter {what}"
    match = _TIME.match(value)
    if match is None:
        return None, f"Enter {what} like 10:00 or 2:30pm"
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = match["half"]
    if half:
        if not 1 <= hour <= 12:
            return None, f"Enter {what} like 10:00 or 2:30pm"
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None, f"{what[0].upper()}{what[1:]} must be a real time"
    return time(hour, minute), ""


def to_int(value: str | None) -> int | None:
    return whole_number(value)


def yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "on", "true", "1")

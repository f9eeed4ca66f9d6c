"""Reading a GOV.UK date input (day, month, year boxes) with the design system's messages.

One reader for every page with a date on it, so a date is refused the same way, in the same
words, wherever it is typed (stage forms have their own in forms/schema.py, which also
accepts month names).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date


def parse_date_input(day: str, month: str, year: str, *, what: str) -> tuple[date | None, str]:
    """(the date, "") or (None, the message to show). `what` names the date in words, e.g.
    "the date the action is due", for "Enter the date the action is due"."""
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    missing = [name for name, value in parts.items() if not value]
    subject = what[0].upper() + what[1:]
    if len(missing) == 3:
        return None, f"Enter {what}"
    if missing:
        return None, f"{subject} must include a {' and '.join(missing)}"
    if not all(value.isdigit() for value in parts.values()):
        return None, f"{subject} must be a real date"
    if len(parts["year"]) != 4:
        return None, "Year must include 4 numbers"
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"])), ""
    except ValueError:
        return None, f"{subject} must be a real date"


def parse_date_boxes(form: Mapping[str, str], prefix: str, *, what: str
                     ) -> tuple[date | None, str]:
    """The same, from a posted form's `<prefix>-day`, `<prefix>-month` and `<prefix>-year`."""
    day, month, year = (form.get(f"{prefix}-{name}") or "" for name in ("day", "month", "year"))
    return parse_date_input(day, month, year, what=what)

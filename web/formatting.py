"""How dates, times and deadlines read on the page: in the partnership's time zone, in the
GOV.UK style ("2 March 2026, 9:00am"), with "due in 2 days" / "3 days overdue"."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from casebridge import clock


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(_zone()) if value else None


def date_text(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value).date()  # type: ignore[union-attr]
    return f"{value.day} {value:%B %Y}"


def datetime_text(value: datetime | None) -> str:
    if value is None:
        return ""
    moment = local(value)
    assert moment is not None
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    clock_text = f"{hour}:{moment:%M}{suffix}" if moment.minute else f"{hour}{suffix}"
    return f"{moment.day} {moment:%B %Y}, {clock_text}"


def due_text(due: datetime | None) -> str:
    """'due today', 'due in 3 days', '2 days overdue', counted in local calendar days."""
    if due is None:
        return "no deadline"
    now = clock.now()
    days = (local(due).date() - local(now).date()).days  # type: ignore[union-attr]
    if due < now:
        overdue = max(days * -1, 0)
        if overdue == 0:
            return "overdue today"
        return f"{overdue} day{'s' if overdue != 1 else ''} overdue"
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    return f"due in {days} days"


def is_overdue(due: datetime | None) -> bool:
    return due is not None and due < clock.now()


def humanise(key: Any) -> str:
    text = str(getattr(key, "value", key) or "")
    return text.replace("_", " ").capitalize()


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        date_text=date_text, datetime_text=datetime_text, due_text=due_text,
        humanise=humanise, local=local,
    )
    app.jinja_env.globals.update(is_overdue=is_overdue)

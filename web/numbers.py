"""Whole numbers typed into forms (ids, versions), read without surprises: only ASCII digits
("²".isdigit() is true, but int("²") fails), and at most 18 of them, so the number fits the
64-bit columns it is compared with (a longer one fails in the database driver, and over
4300 digits int() itself refuses). Anything else is not a number: the form says so."""

from __future__ import annotations

MAX_DIGITS = 18


def whole_number(text: str | None) -> int | None:
    value = (text or "").strip()
    if not value or len(value) > MAX_DIGITS or not (value.isascii() and value.isdigit()):
        return None
    return int(value)

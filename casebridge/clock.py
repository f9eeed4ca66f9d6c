"""The one clock every package reads "now" from, so tests can move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: deadlines and sweeps become deterministic."""

    def __init__(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at


_current: Clock = SystemClock()


def now() -> datetime:
    """The current instant, always timezone-aware UTC."""
    return _current.now().astimezone(UTC)


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    global _current
    previous, _current = _current, clock
    try:
        yield clock
    finally:
        _current = previous


def _require_aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("FrozenClock needs a timezone-aware datetime")
    return at

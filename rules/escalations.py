"""Escalation levels for deadlines, and who each level tells.

The smallest ladder that keeps a victim from being forgotten: a warning to whoever owes the
work when a deadline's warning point passes, and on breach the same people plus the
assignee's line manager (or the owning agency's managers). Issue 7's declarative ladders
(delays, stop conditions, digests) replace LADDER; the sweep only asks it what to do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Level(enum.StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class Step:
    level: Level
    template: str  # e-mail template under workflows/engine/templates/email
    escalate_to_manager: bool


LADDER: dict[Level, Step] = {
    Level.WARNING: Step(Level.WARNING, "deadline_warning", escalate_to_manager=False),
    Level.BREACH: Step(Level.BREACH, "deadline_breach", escalate_to_manager=True),
}

# Actions carry a due date but no warning point of their own: warn this long before.
ACTION_WARNING = timedelta(days=1)


def level_at(now: datetime, due_at: datetime | None, warn_at: datetime | None) -> Level | None:
    """The level one deadline has reached: the rule the sweep's SQL applies to all at once
    (kept here in Python for the tests and for checking one case by hand)."""
    if due_at is None:
        return None
    if due_at <= now:
        return Level.BREACH
    if warn_at is not None and warn_at <= now:
        return Level.WARNING
    return None


def escalation_key(kind: str, target_id: int, due_at: datetime, level: Level | str) -> str:
    """One escalation per deadline and level; a moved deadline is a new one (new due_at)."""
    return f"{kind}:{target_id}:due:{due_at.isoformat()}:{Level(level).value}"

"""Escalation levels for stage and action deadlines, and the ladder that says who each
level tells.

Deadlines use the same ladder machinery as the minimum standards (`rules.standards`): the
published standards name the ladder deadlines use (`deadlines_ladder`), and DEADLINES is the
one used before any is published: a warning to whoever owes the work when a deadline's
warning point passes, and on breach the same people plus the assignee's line manager (or the
owning agency's managers). A deadline has a warning and a breach level only; further levels
with delays are for the standards' ladders.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.standards.model import Ladder, LadderLevel, Recipient


class Level(enum.StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class Step:
    level: Level
    template: str  # e-mail template under workflows/engine/templates/email
    rung: int  # the ladder level: 0 the warning point, 1 the breach


LADDER: dict[Level, Step] = {
    Level.WARNING: Step(Level.WARNING, "deadline_warning", rung=0),
    Level.BREACH: Step(Level.BREACH, "deadline_breach", rung=1),
}

DEADLINES = Ladder(
    key="deadlines", name="Stage and action deadlines", warning_to=(Recipient.ASSIGNEE,),
    levels=(LadderLevel(1, (Recipient.ASSIGNEE, Recipient.LINE_MANAGER)),),
)

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

"""Minimum standards and escalation ladders as data.

Loaded from YAML by `rules.standards.loader`, measured in SQL by `storage.standards.evaluate`.
Frozen dataclasses, so a loaded set can be shared between requests and threads.

A standard is a clock on a case (or on an action raised at a meeting): it starts at an event
(the case opened, a stage started or completed), runs on the partnership's working-day
calendar (a paused case's clock stops), and is met by a later event (a stage completed,
optionally with given answers, or the action done). Its ladder says who hears at the warning
point, at the breach, and at each further level after a delay in working days.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from rules.calendars import DEFAULT_REGION, WorkingCalendar
from workflows.model import Duration


class EventKind(enum.StrEnum):
    CASE_OPENED = "case_opened"
    STAGE_STARTED = "stage_started"
    STAGE_COMPLETED = "stage_completed"
    ACTION_CREATED = "action_created"
    ACTION_DONE = "action_done"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    stage: str | None = None
    # Answers the stage's form must have given (e.g. contact_made: "yes"), compared as text.
    answers: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        text = {
            EventKind.CASE_OPENED: "the case is opened",
            EventKind.STAGE_STARTED: f"the stage '{self.stage}' starts",
            EventKind.STAGE_COMPLETED: f"the stage '{self.stage}' is completed",
            EventKind.ACTION_CREATED: "the action is raised",
            EventKind.ACTION_DONE: "the action is done",
        }[self.kind]
        if self.answers:
            text += " with " + ", ".join(f"{k} = {v}" for k, v in self.answers.items())
        return text


class Recipient(enum.StrEnum):
    """Who hears, relative to the case."""

    ASSIGNEE = "assignee"  # the lead officer (an action: its assignee), else their agency
    LINE_MANAGER = "line_manager"  # the assignee's line manager, else the agency's managers
    AGENCY_MANAGERS = "agency_managers"  # every manager of the agency that owns the case
    SPOC = "spoc"  # the owning agency's single point of contact, else its managers
    PARTNERSHIP_LEAD = "partnership_lead"  # the partnership lead(s), else its administrators

    def describe(self) -> str:
        return self.value.replace("_", " ").replace("spoc", "single point of contact")


@dataclass(frozen=True)
class LadderLevel:
    """Level n (1 = the breach itself) and who it tells; `after` is the delay in working
    days since the level before it (None for level 1)."""

    number: int
    to: tuple[Recipient, ...]
    after: Duration | None = None


@dataclass(frozen=True)
class Ladder:
    key: str
    name: str
    warning_to: tuple[Recipient, ...]  # level 0, at the warning point (before the breach)
    levels: tuple[LadderLevel, ...]
    digest: frozenset[Recipient] = frozenset()  # these get one e-mail a day, not one each

    def offsets(self) -> list[int]:
        """Working days after the breach at which each level is reached (level 1: 0)."""
        total, found = 0, []
        for level in self.levels:
            total += level.after.amount if level.after is not None else 0
            found.append(total)
        return found

    def recipients(self, level: int) -> tuple[Recipient, ...]:
        return self.warning_to if level == 0 else self.levels[level - 1].to

    def describe(self) -> list[str]:
        lines = [f"warning point: {_names(self.warning_to) or 'nobody'}"]
        for level in self.levels:
            when = "at the breach" if level.after is None else f"{level.after} later"
            lines.append(f"level {level.number}, {when}: {_names(level.to)}")
        if self.digest:
            lines.append(f"daily digest instead of single e-mails: {_names(self.digest)}")
        return lines


class Measures(enum.StrEnum):
    CASES = "cases"
    ACTIONS = "actions"


@dataclass(frozen=True)
class Standard:
    key: str
    name: str
    measures: Measures
    case_types: tuple[str, ...]
    risk: tuple[str, ...]  # empty: any risk level
    starts: tuple[Event, ...]  # the clock starts at the latest of these
    met_by: tuple[Event, ...]  # any one of these, at or after the start, meets it
    ladder: str
    within: Duration | None = None  # a one-off clock
    every: Duration | None = None  # a clock that starts again at each meeting event
    until_next_meeting: bool = False  # actions: due at the next meeting of the same kind
    raised_at: str | None = None  # actions: raised at a meeting of this kind
    warn_before: Duration | None = None
    description: str | None = None

    def describe_clock(self) -> str:
        if self.until_next_meeting:
            clock = "before the next meeting"
        elif self.every is not None:
            clock = f"every {self.every}"
        else:
            clock = f"within {self.within}"
        starts = " or ".join(e.describe() for e in self.starts)
        met = " or ".join(e.describe() for e in self.met_by)
        text = f"{clock} from when {starts}; met when {met}"
        if self.warn_before is not None:
            text += f"; warning {self.warn_before} before"
        return text


@dataclass(frozen=True)
class CalendarSpec:
    region: str = DEFAULT_REGION
    closures: tuple[date, ...] = ()
    day_starts: time = time(9, 0)
    day_ends: time = time(17, 0)

    def calendar(self, timezone: str) -> WorkingCalendar:
        return WorkingCalendar(region=self.region, timezone=timezone,
                               day_starts=self.day_starts, day_ends=self.day_ends,
                               extra_closures=frozenset(self.closures))


@dataclass(frozen=True)
class StandardsSet:
    partnership: str
    version: int
    calendar: CalendarSpec
    digest_at: time
    deadlines_ladder: str
    ladders: Mapping[str, Ladder]
    standards: Mapping[str, Standard]
    content_hash: str
    source: str
    description: str | None = None
    raw: Any = field(default=None, compare=False, repr=False)

    def ladder_of(self, standard: Standard) -> Ladder:
        return self.ladders[standard.ladder]


def _names(recipients: Any) -> str:
    return ", ".join(r.describe() for r in recipients)

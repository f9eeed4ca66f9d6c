"""A case type as data: stages, deadlines, who works them, effects and transitions.

Loaded from YAML by `workflows.loader`, checked by `workflows.validation`, run by the pure
`workflows.interpreter`. Frozen dataclasses so a loaded definition can be shared safely.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.calendars import WorkingCalendar

CLOSED = "closed"  # the reserved transition target that ends a case
RISK_LEVELS = ("standard", "medium", "high")


class DurationUnit(enum.StrEnum):
    WORKING_DAYS = "working days"
    WORKING_HOURS = "working hours"
    CALENDAR_DAYS = "calendar days"


_DURATION = re.compile(
    r"^\s*(\d{1,4})\s+(working\s+days?|working\s+hours?|calendar\s+days?|days?|hours?|weeks?)\s*$"
)


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: DurationUnit

    @classmethod
    def parse(cls, text: str) -> Duration:
        """'2 working days', '24 working hours', '28 calendar days' ('days' means calendar days,
        'hours' working hours, 'weeks' calendar weeks)."""
        match = _DURATION.match(str(text).lower())
        if not match:
            raise ValueError(
                f"'{text}' is not a duration: write e.g. '2 working days', '24 working hours' "
                "or '28 calendar days'"
            )
        amount, words = int(match.group(1)), match.group(2)
        if words.startswith("week"):
            return cls(amount * 7, DurationUnit.CALENDAR_DAYS)
        if "hour" in words:
            return cls(amount, DurationUnit.WORKING_HOURS)
        if words.startswith("working"):
            return cls(amount, DurationUnit.WORKING_DAYS)
        return cls(amount, DurationUnit.CALENDAR_DAYS)

    def after(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        if self.unit is DurationUnit.WORKING_DAYS:
            return calendar.add_working_days(start, self.amount)
        if self.unit is DurationUnit.WORKING_HOURS:
            return calendar.add_working_hours(start, self.amount)
        return calendar.add_calendar_days(start, self.amount)

    def before(self, deadline: datetime, calendar: WorkingCalendar) -> datetime:
        if self.unit is DurationUnit.WORKING_DAYS:
            return calendar.subtract_working_days(deadline, self.amount)
        if self.unit is DurationUnit.WORKING_HOURS:
            return calendar.subtract_working_hours(deadline, self.amount)
        return calendar.subtract_calendar_days(deadline, self.amount)

    def __str__(self) -> str:
        unit = self.unit.value if self.amount != 1 else self.unit.value.rstrip("s")
        return f"{self.amount} {unit}"


class WorkerKind(enum.StrEnum):
    LEAD = "lead"  # the case's lead officer
    OWNER = "owner"  # the owning agency's queue
    ROLE = "role"  # anyone with this role in the owning agency
    AGENCY_TYPE = "agency_type"  # an agency of this type working the case


@dataclass(frozen=True)
class Worker:
    kind: WorkerKind
    role: str | None = None
    agency_type: str | None = None

    def describe(self) -> str:
        if self.kind is WorkerKind.LEAD:
            return "the case's lead officer"
        if self.kind is WorkerKind.OWNER:
            return "the owning agency"
        if self.kind is WorkerKind.ROLE:
            return f"a {str(self.role).replace('_', ' ')}"
        who = str(self.agency_type).replace("_", " ")
        return f"{who} ({str(self.role).replace('_', ' ')})" if self.role else who


class AnchorKind(enum.StrEnum):
    STAGE_ENTRY = "stage_entry"
    CASE_OPENED = "case_opened"
    STAGE_COMPLETED = "stage_completed"  # when another stage last completed
    ANSWER = "answer"  # a date answered in an earlier stage's form


@dataclass(frozen=True)
class Anchor:
    kind: AnchorKind = AnchorKind.STAGE_ENTRY
    stage: str | None = None
    field: str | None = None

    def describe(self) -> str:
        return {
            AnchorKind.STAGE_ENTRY: "from entering the stage",
            AnchorKind.CASE_OPENED: "from the case being opened",
            AnchorKind.STAGE_COMPLETED: f"from completing '{self.stage}'",
            AnchorKind.ANSWER: f"from the date given in {self.stage}.{self.field}",
        }[self.kind]


@dataclass(frozen=True)
class Deadline:
    """Due date (the SLA) and an optional warning point before it. `by_risk` gives a different
    allowance per risk level (a high-risk victim is contacted within 1 working day)."""

    within: Duration | None = None
    by_risk: Mapping[str, Duration] = field(default_factory=dict)
    anchor: Anchor = Anchor()
    warn_before: Duration | None = None

    def allowance(self, risk: str | None) -> Duration | None:
        if risk and risk in self.by_risk:
            return self.by_risk[risk]
        return self.within

    def describe(self) -> str:
        if self.by_risk:
            parts = [f"{k}: {v}" for k, v in self.by_risk.items()]
            if self.within:
                parts.append(f"otherwise {self.within}")
            text = "; ".join(parts)
        else:
            text = str(self.within)
        if self.anchor.kind is AnchorKind.STAGE_ENTRY:
            return text
        return f"{text} {self.anchor.describe()}"


class EffectKind(enum.StrEnum):
    NOTIFY = "notify"
    CREATE_ACTION = "create_action"
    REFER = "refer"
    SET_STATUS = "set_status"
    SET_RISK = "set_risk"
    LETTER = "letter"


@dataclass(frozen=True)
class EffectSpec:
    """Something a stage causes on entry or exit. `when` limits it to matching answers."""

    kind: EffectKind
    to: Worker | None = None  # notify / create_action: who
    template: str | None = None  # notify: which message; letter: which letter
    title: str | None = None  # create_action
    due: Duration | None = None  # create_action
    service: str | None = None  # refer: agency type referred to
    reason: str | None = None  # refer
    status: str | None = None  # set_status: business status shown on the case
    risk_from: str | None = None  # set_risk: a name in the guard context, e.g. scores.dash.band
    recipient: str | None = None  # letter: whom on the case it is written to (victim...)
    when: str | None = None


@dataclass(frozen=True)
class Transition:
    to: tuple[str, ...]  # several stages = parallel branches; ("closed",) ends the case
    when: str | None = None
    otherwise: bool = False
    label: str | None = None
    close_reason: str | None = None

    @property
    def closes(self) -> bool:
        return self.to == (CLOSED,)


@dataclass(frozen=True)
class Recurrence:
    """A stage that opens again and again (reviews), every N by risk level, while the case is
    in one of `while_in` stages."""

    every: Duration | None
    by_risk: Mapping[str, Duration]
    while_in: tuple[str, ...]

    def interval(self, risk: str | None) -> Duration | None:
        if risk and risk in self.by_risk:
            return self.by_risk[risk]
        return self.every


@dataclass(frozen=True)
class Stage:
    key: str
    name: str
    form: str | None
    worked_by: Worker
    deadline: Deadline | None = None
    description: str | None = None
    business_status: str | None = None
    pausable: bool = False
    on_enter: tuple[EffectSpec, ...] = ()
    on_exit: tuple[EffectSpec, ...] = ()
    transitions: tuple[Transition, ...] = ()
    join: tuple[str, ...] = ()  # opens only when all of these stages have completed
    recurring: Recurrence | None = None
    max_instances: int | None = None
    completes_when_actions_settled: bool = False


@dataclass(frozen=True)
class Definition:
    key: str
    name: str
    version: int
    reference_prefix: str
    start: tuple[str, ...]
    stages: Mapping[str, Stage]
    description: str | None = None
    opened_by_roles: tuple[str, ...] = ()
    opened_by_agency_types: tuple[str, ...] = ()
    calendar_region: str = "england-and-wales"
    facts: Mapping[str, str] = field(default_factory=dict)  # rule outcomes guards may read
    content_hash: str = ""
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def stage(self, key: str) -> Stage:
        return self.stages[key]

    @property
    def recurring_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages.values() if s.recurring is not None)

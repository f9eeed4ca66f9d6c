"""Measuring the minimum standards in SQL: one statement for every standard and every case.

Each standard becomes one SELECT (joined by UNION ALL into one statement); no case is
looked at one by one in Python. Per standard:

1. the clock's start: the latest of its `from` events on the case (case opened, a stage
   started or completed), or the action's creation; for an `every` standard, the latest
   meeting event after that (each update starts the clock again);
2. whether it is met: a `met_by` event at or after the start (stage completed, optionally
   with given answers; the action done);
3. the deadline, from the calendar table (`calendar_days`, a running working-day number per
   day): close of business on working day number start + N + the working days the case
   spent paused since the start; for calendar days, the end of day start + N (+ paused
   days); for `until: next_meeting`, the next meeting of that kind after the action's;
4. the level reached at `now`: 0 at the warning point, 1 at the breach, and level n once
   the breach is (sum of the ladder's delays) working days old.

Paused and closed cases are left out: their clocks are stopped and their ladders too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from rules.standards.model import (
    Event,
    EventKind,
    Ladder,
    Measures,
    Standard,
    StandardsSet,
)
from storage.accounts.models import User
from storage.base import UTCDateTime
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseStatus,
    StageInstance,
    StageStatus,
)
from storage.meetings.models import AgendaItem, Meeting, MeetingStatus
from storage.standards.models import CalendarDay, CasePause, StandardEscalation
from workflows.model import DurationUnit


@dataclass(frozen=True)
class Finding:
    """One standard on one case (or action) at a level, with the ids recipients need."""

    standard: str
    case_id: int
    action_id: int | None
    reference: str
    started_at: datetime
    due_at: datetime
    level: int  # 0 warning, 1 breach, 2.. further ladder levels
    user_id: int | None  # the assignee, when one active person owes it
    agency_id: int  # the agency that owes it
    line_manager_id: int | None
    owning_agency_id: int

    @cached_property
    def occurrence(self) -> str:
        action = f":action:{self.action_id}" if self.action_id is not None else ""
        return (f"std:{self.standard}:case:{self.case_id}{action}"
                f":from:{self.started_at.isoformat()}")

    def key(self, level: int) -> str:
        return f"{self.occurrence}:level:{level}"


def findings(session: Session, standards: StandardsSet, calendar: str, now: datetime, *,
             only_new: bool = False, case_ids: Sequence[int] | None = None,
             scope: ColumnElement[bool] | None = None,
             names: Sequence[str] | None = None) -> list[Finding]:
    """Every standard at its warning point or breached at `now`, on open cases. `only_new`
    leaves out what is already recorded at its level (the sweep); `case_ids` and `scope`
    (a WHERE clause on Case, e.g. storage.access.visible_cases) narrow the cases."""
    query = statement(standards, calendar, now, only_new=only_new, case_ids=case_ids,
                      scope=scope, names=names)
    if query is None:
        return []
    rows = session.execute(query)
    return [Finding(standard=r.standard, case_id=r.case_id, action_id=r.action_id,
                    reference=r.reference, started_at=r.started_at, due_at=r.due_at,
                    level=int(r.level), user_id=r.user_id, agency_id=r.agency_id,
                    line_manager_id=r.line_manager_id, owning_agency_id=r.owning_agency_id)
            for r in rows]


def statement(standards: StandardsSet, calendar: str, now: datetime, *, only_new: bool = False,
              case_ids: Sequence[int] | None = None, scope: ColumnElement[bool] | None = None,
              names: Sequence[str] | None = None) -> Any:
    selects = [
        _Measure(standard, standards.ladder_of(standard), calendar, now).select(
            only_new=only_new, case_ids=case_ids, scope=scope)
        for key, standard in standards.standards.items() if names is None or key in names
    ]
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else union_all(*selects)


class _Measure:
    def __init__(self, standard: Standard, ladder: Ladder, calendar: str, now: datetime) -> None:
        self.s, self.ladder, self.calendar, self.now = standard, ladder, calendar, now

    # -- the calendar ----------------------------------------------------------------------

    def _at(self, instant: Any, value: Any) -> Any:
        """`value(day)` of the calendar row holding an instant: the first day ending after it
        (one index seek on (calendar, ends_at), the days being contiguous)."""
        day = aliased(CalendarDay)
        return (select(value(day)).where(day.calendar == self.calendar, day.ends_at > instant)
                .order_by(day.ends_at).limit(1).scalar_subquery())

    def _day_zero(self, instant: Any) -> Any:
        """Working day number zero of a clock started at `instant`: its own day if that is a
        working day and it started by close of business, else the next working day."""
        return self._at(instant, lambda day: day.wd_number + case(
            (and_(day.working.is_(True), instant <= day.closes_at), 0), else_=1))

    def _closed_by(self, instant: Any) -> Any:
        """How many working days have closed by `instant` (their close of business passed)."""
        return self._at(instant, lambda day: day.wd_number - case(
            (and_(day.working.is_(True), instant < day.closes_at), 1), else_=0))

    def _paused(self, case_id: Any, start: Any, column: str) -> Any:
        """Working days (or days) the case spent paused since `start`, by the days crossed."""
        crossed = (self._at(CasePause.resumed_at, lambda day: getattr(day, column))
                   - self._at(CasePause.paused_at, lambda day: getattr(day, column)))
        return select(func.coalesce(func.sum(crossed), 0)).where(
            CasePause.case_id == case_id, CasePause.paused_at >= start,
            CasePause.resumed_at.is_not(None)).scalar_subquery()

    # -- events ----------------------------------------------------------------------------

    def _event_time(self, case_id: Any, events: Sequence[Event], *, at_or_after: Any = None,
                    after: Any = None) -> Any:
        """The latest time any of these stage events happened on the case (NULL: never)."""
        found = []
        for kind, column in ((EventKind.STAGE_COMPLETED, "completed_at"),
                             (EventKind.STAGE_STARTED, "opened_at")):
            chosen = [e for e in events if e.kind is kind]
            if not chosen:
                continue
            stage = aliased(StageInstance)
            when = getattr(stage, column)
            conditions = [stage.case_id == case_id, or_(*(self._matches(stage, e)
                                                           for e in chosen))]
            if kind is EventKind.STAGE_COMPLETED:
                conditions.append(stage.status == StageStatus.COMPLETED)
            if at_or_after is not None:
                conditions.append(when >= at_or_after)
            if after is not None:
                conditions.append(when > after)
            found.append(select(func.max(when)).where(*conditions).scalar_subquery())
        if any(e.kind is EventKind.CASE_OPENED for e in events):
            found.append(Case.opened_at)
        return _latest(found)

    @staticmethod
    def _matches(stage: Any, event: Event) -> ColumnElement[bool]:
        conditions = [stage.stage_key == event.stage]
        for name, value in event.answers.items():
            conditions.append(stage.form_data[name].as_string() == value)
        return and_(*conditions)

    # -- one standard ----------------------------------------------------------------------

    def select(self, *, only_new: bool, case_ids: Sequence[int] | None,
               scope: ColumnElement[bool] | None) -> Select[Any]:
        inner = self._subjects(case_ids, scope).subquery(f"subjects_{self.s.key}")
        due = self._deadline(inner).subquery(f"due_{self.s.key}")
        level = self._level(due)
        query = select(
            literal(self.s.key).label("standard"), due.c.case_id, due.c.action_id,
            due.c.reference, due.c.started_at, due.c.due_at, level.label("level"),
            due.c.user_id, due.c.agency_id, due.c.line_manager_id, due.c.owning_agency_id,
        ).where(due.c.due_at.is_not(None), level.is_not(None))
        if only_new:
            query = query.where(~exists().where(
                StandardEscalation.standard == self.s.key,
                StandardEscalation.case_id == due.c.case_id,
                or_(StandardEscalation.action_id == due.c.action_id,
                    and_(StandardEscalation.action_id.is_(None), due.c.action_id.is_(None))),
                StandardEscalation.started_at == due.c.started_at,
                StandardEscalation.level == level))
        return query

    def _subjects(self, case_ids: Sequence[int] | None,
                  scope: ColumnElement[bool] | None) -> Select[Any]:
        """Open cases (or their actions) the standard measures, with the clock's start, not
        yet met, and who owes the work."""
        s = self.s
        assignee, manager = aliased(User), aliased(User)
        conditions: list[ColumnElement[bool]] = [Case.status == CaseStatus.OPEN]
        if s.case_types:
            conditions.append(Case.case_type.in_(s.case_types))
        if s.risk:
            conditions.append(Case.risk_level.in_(s.risk))
        if case_ids is not None:
            conditions.append(Case.id.in_(list(case_ids)) if case_ids else false())
        if scope is not None:
            conditions.append(scope)
        if s.measures is Measures.ACTIONS:
            start: Any = Action.created_at
            origin = aliased(Meeting)
            query = (
                select(Case.id.label("case_id"), Action.id.label("action_id"),
                       Case.reference, start.label("started_at"),
                       case((assignee.active.is_(True), Action.assigned_user_id),
                            else_=None).label("user_id"),
                       Action.assigned_agency_id.label("agency_id"),
                       manager.id.label("line_manager_id"), Case.owning_agency_id,
                       origin.scheduled_for.label("origin_at") if s.raised_at else
                       cast(null(), UTCDateTime()).label("origin_at"))
                .select_from(Action).join(Case, Case.id == Action.case_id)
                .outerjoin(assignee, assignee.id == Action.assigned_user_id)
                .where(*conditions, Action.status.in_((ActionStatus.OPEN, ActionStatus.ACCEPTED,
                                                       ActionStatus.OVERDUE))))
            if s.raised_at:
                query = (query.join(AgendaItem, AgendaItem.id == Action.agenda_item_id)
                         .join(origin, origin.id == AgendaItem.meeting_id)
                         .where(origin.kind == s.raised_at))
            return query.outerjoin(
                manager, (manager.id == assignee.line_manager_id) & manager.active.is_(True))
        base = (
            select(Case.id.label("case_id"), cast(null(), BigInteger).label("action_id"),
                   Case.reference, self._event_time(Case.id, s.starts).label("from_start"),
                   case((assignee.active.is_(True), Case.lead_officer_id),
                        else_=None).label("user_id"),
                   func.coalesce(assignee.agency_id, Case.owning_agency_id).label("agency_id"),
                   manager.id.label("line_manager_id"), Case.owning_agency_id,
                   cast(null(), UTCDateTime()).label("origin_at"))
            .select_from(Case)
            .outerjoin(assignee, assignee.id == Case.lead_officer_id)
            .outerjoin(manager,
                       (manager.id == assignee.line_manager_id) & manager.active.is_(True))
            .where(*conditions)
        ).subquery(f"cases_{s.key}")
        # Each step reads the columns of the one before, so every correlated subquery sits
        # directly inside the query whose row it is about.
        met = self._event_time(base.c.case_id, s.met_by, at_or_after=base.c.from_start)
        if s.every is not None:
            # The clock starts again at each meeting event after the first start.
            start = func.coalesce(met, base.c.from_start)
            where = [base.c.from_start.is_not(None)]
        else:
            start = base.c.from_start
            where = [base.c.from_start.is_not(None), _never(met)]
        return select(base.c.case_id, base.c.action_id, base.c.reference,
                      start.label("started_at"), base.c.user_id, base.c.agency_id,
                      base.c.line_manager_id, base.c.owning_agency_id,
                      base.c.origin_at).where(*where)

    def _deadline(self, inner: Any) -> Select[Any]:
        """The deadline, in two steps: the number of the day it falls on, then the day."""
        s = self.s
        if s.until_next_meeting:
            due: Any = select(func.min(Meeting.scheduled_for)).where(
                Meeting.kind == s.raised_at, Meeting.status != MeetingStatus.CANCELLED,
                Meeting.scheduled_for > inner.c.origin_at).scalar_subquery()
            return select(*inner.c, due.label("due_at"))
        clock = s.within or s.every
        assert clock is not None
        if clock.unit is DurationUnit.CALENDAR_DAYS:
            number = (self._at(inner.c.started_at, lambda day: day.day_number) + clock.amount
                      + self._paused(inner.c.case_id, inner.c.started_at, "day_number"))
        else:
            number = (self._day_zero(inner.c.started_at) + clock.amount
                      + self._paused(inner.c.case_id, inner.c.started_at, "wd_number"))
        numbered = select(*inner.c, number.label("due_number")).subquery(
            f"numbered_{s.key}")
        last = aliased(CalendarDay)
        if clock.unit is DurationUnit.CALENDAR_DAYS:
            due = select(last.ends_at).where(last.calendar == self.calendar,
                                             last.day_number == numbered.c.due_number)
        else:
            due = select(last.closes_at).where(last.calendar == self.calendar,
                                               last.working.is_(True),
                                               last.wd_number == numbered.c.due_number)
        return select(*(c for c in numbered.c if c.key != "due_number"),
                      due.scalar_subquery().label("due_at"))

    def _level(self, due: Any) -> Any:
        """The level reached at `now`, or NULL before the warning point."""
        now = literal(self.now, due.c.due_at.type)
        due_wd = self._closed_by(due.c.due_at)
        done = self._closed_by(now)
        whens = []
        for number, offset in reversed(list(enumerate(self.ladder.offsets(), start=1))):
            if number == 1:
                whens.append((due.c.due_at <= now, number))
            else:
                whens.append((due_wd + offset <= done, number))
        warn = self.s.warn_before
        if warn is not None:
            if warn.unit is DurationUnit.WORKING_DAYS:
                whens.append((due_wd - warn.amount <= done, 0))
            else:
                ahead = (timedelta(hours=warn.amount) if warn.unit is DurationUnit.WORKING_HOURS
                         else timedelta(days=warn.amount))
                whens.append((due.c.due_at <= literal(self.now + ahead, due.c.due_at.type), 0))
        return case(*whens, else_=None)


def _latest(times: list[Any]) -> Any:
    """The latest of several nullable times (NULLs ignored; NULL if all are), portably:
    SQLite's max() of several arguments is NULL if any is."""
    if not times:
        return literal(None)
    found = times[0]
    for other in times[1:]:
        found = case((found.is_(None), other), (other.is_(None), found),
                     (found >= other, found), else_=other)
    return found


def _never(time: Any) -> ColumnElement[bool]:
    return time.is_(None)

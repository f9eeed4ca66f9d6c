"""What the inbox lists: stages and actions waiting for one user or for their agency, on
cases they may see, filtered, ordered by urgency and paged in the database.

A fixed number of queries per page whatever its length: per section one count of stages,
one of actions, one query for the keys of the page (both kinds, ordered together), then
one load of each kind with everything the rows show joined in. Every query starts from an
indexed column (the assignee, the agency) and the case's primary key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy import case as when
from sqlalchemy.orm import InstrumentedAttribute, Session, defer, joinedload

from storage.access import visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseParticipant,
    ParticipantRole,
    RiskLevel,
    StageInstance,
    StageStatus,
)
from storage.cases.services import OUTSTANDING_ACTIONS
from storage.errors import ServiceError
from storage.people.models import Location
from storage.workflows.models import WorkflowDefinition
from storage.workflows.services import definition_of
from workflows.model import Definition

PAGE_SIZE = 50
COUNT_LIMIT = 1000  # 20 pages: past that, the filters narrow the list down
NOT_SET = "not_set"
RISK_CHOICES = (*(r.value for r in RiskLevel), NOT_SET)
DUE_CHOICES = ("all", "overdue", "week")
AREA_OPTIONS_LIMIT = 200
# What an inbox row shows of its case: the case's answers and workflow state stay unloaded.
ROW_CASE_COLUMNS = (Case.id, Case.reference, Case.case_type, Case.definition_version,
                    Case.status, Case.risk_level, Case.owning_agency_id)


@dataclass(frozen=True)
class Filters:
    case_type: str = ""
    risk: str = ""
    area: str = ""
    due: str = "all"

    @classmethod
    def from_args(cls, args: Mapping[str, str], case_types: Sequence[str]) -> Filters:
        """Read the filter form; anything unknown is the same as no filter."""
        case_type = (args.get("case_type") or "").strip()
        risk = (args.get("risk") or "").strip()
        area = (args.get("area") or "").strip()[:100]
        due = (args.get("due") or "all").strip()
        return cls(
            case_type=case_type if case_type in case_types else "",
            risk=risk if risk in RISK_CHOICES else "",
            area=area,
            due=due if due in DUE_CHOICES else "all",
        )

    def as_args(self) -> dict[str, str]:
        """The query-string arguments that reproduce these filters (defaults left out)."""
        args = {"case_type": self.case_type, "risk": self.risk, "area": self.area}
        args = {k: v for k, v in args.items() if v}
        if self.due != "all":
            args["due"] = self.due
        return args

    @property
    def any(self) -> bool:
        return bool(self.as_args())


@dataclass(frozen=True)
class Window:
    """Now, and the end of this week (midnight at the start of next Monday, local time)."""

    now: datetime
    week_end: datetime

    @classmethod
    def at(cls, now: datetime, zone: ZoneInfo) -> Window:
        today = now.astimezone(zone).date()
        monday = today + timedelta(days=7 - today.weekday())
        return cls(now=now, week_end=datetime.combine(monday, time(0), tzinfo=zone))


@dataclass
class Item:
    """One row: a stage or an action, with what the table shows about it."""

    kind: str  # "stage" or "action"
    id: int
    case: Case
    name: str
    due_at: datetime | None
    agency: Agency | None
    person: User | None
    role: str | None = None
    status: ActionStatus | None = None
    stage: StageInstance | None = None
    case_type_name: str = ""
    # What the row shows, worked out once in Python (web/inbox/views.py) rather than by
    # filters and url_for in the template for every row.
    case_url: str = ""
    url: str = ""
    overdue: bool = False
    due_date_text: str = ""
    due_words: str = ""


@dataclass
class Section:
    items: list[Item]
    total: int  # exact up to COUNT_LIMIT
    overdue: int  # exact up to COUNT_LIMIT
    page: int
    pages: int
    more: bool = False  # more than COUNT_LIMIT: only the most urgent COUNT_LIMIT are paged
    more_overdue: bool = False


@dataclass
class Inbox:
    db: Session
    user: User
    filters: Filters
    window: Window
    _definitions: dict[tuple[str, int], Definition | None] = field(default_factory=dict)

    # --- what is in each section --------------------------------------------------------

    def _case_conditions(self) -> list[ColumnElement[bool]]:
        conditions = [visible_cases(self.user)]
        if self.filters.case_type:
            conditions.append(Case.case_type == self.filters.case_type)
        if self.filters.risk == NOT_SET:
            conditions.append(Case.risk_level.is_(None))
        elif self.filters.risk:
            conditions.append(Case.risk_level == RiskLevel(self.filters.risk))
        if self.filters.area:
            conditions.append(exists(
                select(CaseParticipant.id)
                .join(Location, Location.id == CaseParticipant.location_id)
                .where(CaseParticipant.case_id == Case.id,
                       CaseParticipant.role == ParticipantRole.INCIDENT_LOCATION,
                       Location.area == self.filters.area)
            ))
        return conditions

    def _due_conditions(self, due: InstrumentedAttribute[Any]) -> list[ColumnElement[bool]]:
        if self.filters.due == "overdue":
            return [due < self.window.now]
        if self.filters.due == "week":
            return [due >= self.window.now, due < self.window.week_end]
        return []

    def _stage_conditions(self, mine: bool) -> list[ColumnElement[bool]]:
        if mine:
            who = [StageInstance.assignee_user_id == self.user.id]
        else:
            roles = sorted(role.value for role in self.user.roles)
            who = [
                StageInstance.assignee_agency_id == self.user.agency_id,
                StageInstance.assignee_user_id.is_(None),
                or_(StageInstance.assignee_role.is_(None), StageInstance.assignee_role.in_(roles)),
            ]
        return [StageInstance.status == StageStatus.ACTIVE, *who,
                *self._due_conditions(StageInstance.due_at), *self._case_conditions()]

    def _action_conditions(self, mine: bool) -> list[ColumnElement[bool]]:
        if mine:
            who = [Action.assigned_user_id == self.user.id]
        else:
            who = [Action.assigned_agency_id == self.user.agency_id,
                   Action.assigned_user_id.is_(None)]
        return [Action.status.in_(OUTSTANDING_ACTIONS), *who,
                *self._due_conditions(Action.due_at), *self._case_conditions()]

    # --- one section, one page ----------------------------------------------------------

    def section(self, *, mine: bool, page: int) -> Section:
        parts = [
            ("stage", StageInstance, StageInstance.due_at, self._stage_conditions(mine)),
            ("action", Action, Action.due_at, self._action_conditions(mine)),
        ]
        total = overdue = 0
        for _, model, due, conditions in parts:
            count, late = self._count(model, due, conditions)
            total, overdue = total + count, overdue + late
        more, more_overdue = total > COUNT_LIMIT, overdue > COUNT_LIMIT
        total, overdue = min(total, COUNT_LIMIT), min(overdue, COUNT_LIMIT)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        offset = (page - 1) * PAGE_SIZE
        keys = self._page_keys(parts, offset) if total else []
        return Section(items=self._items(keys), total=total, overdue=overdue, page=page,
                       pages=pages, more=more, more_overdue=more_overdue)

    def _count(self, model: Any, due: Any, conditions: list[ColumnElement[bool]]
               ) -> tuple[int, int]:
        """(how many, how many overdue), each counted no further than COUNT_LIMIT + 1, so a
        queue of tens of thousands costs no more than one of a thousand."""
        def capped(*extra: ColumnElement[bool]) -> Any:
            return (select(due.label("due_at")).select_from(model)
                    .join(Case, Case.id == model.case_id).where(*conditions, *extra)
                    .limit(COUNT_LIMIT + 1).subquery())

        rows = capped()
        count, late = self.db.execute(select(
            func.count(),
            func.coalesce(func.sum(when((rows.c.due_at < self.window.now, 1), else_=0)), 0),
        ).select_from(rows)).one()
        if count > COUNT_LIMIT:  # the overdue ones may not all be among those counted
            overdue = capped(due < self.window.now)
            late = self.db.scalar(select(func.count()).select_from(overdue))
        return int(count), int(late)

    def _page_keys(self, parts: list[tuple[str, Any, Any, list]], offset: int
                   ) -> list[tuple[str, int]]:
        """The page's (kind, id) in order: overdue first (most overdue first), then soonest
        due, then no deadline. Each kind is cut to what the page can need before merging."""
        selects = []
        for kind, model, due, conditions in parts:
            inner = (
                select(literal_column(f"'{kind}'").label("kind"), model.id.label("id"),
                       due.label("due_at"))
                .select_from(model).join(Case, Case.id == model.case_id).where(*conditions)
                .order_by(due.asc().nulls_last(), model.id)
                .limit(offset + PAGE_SIZE)
                .subquery()
            )
            selects.append(select(inner.c.kind, inner.c.id, inner.c.due_at))
        merged = union_all(*selects).subquery()
        rows = self.db.execute(
            select(merged.c.kind, merged.c.id)
            .order_by(merged.c.due_at.asc().nulls_last(), merged.c.kind.desc(), merged.c.id)
            .offset(offset).limit(min(PAGE_SIZE, COUNT_LIMIT - offset))
        ).all()
        return [(kind, int(key)) for kind, key in rows]

    def _items(self, keys: list[tuple[str, int]]) -> list[Item]:
        stage_ids = [key for kind, key in keys if kind == "stage"]
        action_ids = [key for kind, key in keys if kind == "action"]
        stages = {s.id: s for s in self.db.scalars(
            select(StageInstance).where(StageInstance.id.in_(stage_ids)).options(
                defer(StageInstance.form_data),
                joinedload(StageInstance.case).load_only(*ROW_CASE_COLUMNS)
                .joinedload(Case.owning_agency),
                joinedload(StageInstance.assignee_agency),
                joinedload(StageInstance.assignee_user).lazyload(User.role_grants),
            )
        )} if stage_ids else {}
        actions = {a.id: a for a in self.db.scalars(
            select(Action).where(Action.id.in_(action_ids)).options(
                defer(Action.detail), defer(Action.outcome), defer(Action.decline_reason),
                joinedload(Action.case).load_only(*ROW_CASE_COLUMNS)
                .joinedload(Case.owning_agency),
                joinedload(Action.assigned_agency),
                joinedload(Action.assigned_user).lazyload(User.role_grants),
            )
        )} if action_ids else {}
        cases = [s.case for s in stages.values()] + [a.case for a in actions.values()]
        self._load_definitions(cases)
        items = []
        for kind, key in keys:
            if kind == "stage" and key in stages:
                stage = stages[key]
                items.append(Item(
                    kind="stage", id=stage.id, case=stage.case, stage=stage,
                    name=self.stage_name(stage.case, stage.stage_key),
                    due_at=stage.due_at, agency=stage.assignee_agency,
                    person=stage.assignee_user, role=stage.assignee_role,
                    case_type_name=self.case_type_name(stage.case),
                ))
            elif kind == "action" and key in actions:
                action = actions[key]
                items.append(Item(
                    kind="action", id=action.id, case=action.case, name=action.title,
                    due_at=action.due_at, agency=action.assigned_agency,
                    person=action.assigned_user, status=action.status,
                    case_type_name=self.case_type_name(action.case),
                ))
        return items

    # --- names from the case's own definition version -----------------------------------

    def _load_definitions(self, cases: Sequence[Case]) -> None:
        wanted = {(c.case_type, c.definition_version) for c in cases} - set(self._definitions)
        if not wanted:
            return
        rows = self.db.scalars(select(WorkflowDefinition).where(or_(*(
            and_(WorkflowDefinition.case_type == case_type,
                 WorkflowDefinition.version == version)
            for case_type, version in sorted(wanted)
        ))).options(defer(WorkflowDefinition.source_text)))  # read only if not yet parsed
        for row in rows:
            try:
                self._definitions[(row.case_type, row.version)] = definition_of(row)
            except ServiceError:
                self._definitions[(row.case_type, row.version)] = None
        for pair in wanted:
            self._definitions.setdefault(pair, None)

    def _definition(self, case: Case) -> Definition | None:
        key = (case.case_type, case.definition_version)
        if key not in self._definitions:
            self._load_definitions([case])
        return self._definitions.get(key)

    def stage_name(self, case: Case, stage_key: str) -> str:
        definition = self._definition(case)
        if definition is not None and stage_key in definition.stages:
            return definition.stages[stage_key].name
        return stage_key.replace("_", " ").capitalize()

    def case_type_name(self, case: Case) -> str:
        definition = self._definition(case)
        return definition.name if definition else case.case_type.replace("_", " ").capitalize()


# --- the filter form's choices --------------------------------------------------------------


def case_type_options(db: Session) -> list[tuple[str, str]]:
    """Every case type ever published, named as its newest version names it."""
    names: dict[str, str] = {}
    for case_type, name in db.execute(
        select(WorkflowDefinition.case_type, WorkflowDefinition.name)
        .order_by(WorkflowDefinition.case_type, WorkflowDefinition.version)
    ):
        names[case_type] = name
    return sorted(names.items(), key=lambda item: item[1].lower())


def area_options(db: Session) -> list[str]:
    """The distinct areas of locations, one index step each (a "loose index scan"), so a
    million locations cost a couple of hundred index look-ups, not a scan."""
    rows = db.execute(text(
        "WITH RECURSIVE areas(area, n) AS ("
        " SELECT (SELECT min(area) FROM locations), 1"
        " UNION ALL"
        " SELECT (SELECT min(l.area) FROM locations l WHERE l.area > areas.area), n + 1"
        " FROM areas WHERE areas.area IS NOT NULL AND n < :limit"
        ") SELECT area FROM areas WHERE area IS NOT NULL"
    ), {"limit": AREA_OPTIONS_LIMIT})
    return [area for (area,) in rows]

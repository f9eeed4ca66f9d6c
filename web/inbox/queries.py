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
from sqlalchemy.orm import InstrumentedAttribute, Session, defer

from storage.access import visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseParticipant,
    CaseStatus,
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
# What an inbox row shows of its case: the case's answers and workflow state stay unread.
_ROW_CASE_LABELLED = tuple(column.label(f"case_{column.key}") for column in (
    Case.id, Case.reference, Case.case_type, Case.definition_version, Case.status,
    Case.risk_level, Case.owning_agency_id))


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


@dataclass(frozen=True, slots=True)
class RowAgency:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class RowPerson:
    id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class RowCase:
    """What a row shows of its case (the names match Case's, for the template)."""

    id: int
    reference: str
    case_type: str
    definition_version: int
    status: CaseStatus
    risk_level: RiskLevel | None
    owning_agency_id: int
    owning_agency: RowAgency | None


@dataclass
class Item:
    """One row: a stage or an action, with what the table shows about it."""

    kind: str  # "stage" or "action"
    id: int
    case: RowCase
    name: str
    due_at: datetime | None
    agency: RowAgency | None
    person: RowPerson | None
    role: str | None = None
    status: ActionStatus | None = None
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
        """The page's rows, read as plain rows rather than ORM objects: loading and
        joining fifty mapped stages or actions with their cases was a third of the
        inbox's time, for a read-only table. One query per kind, then the few agencies
        and people they name."""
        stage_ids = [key for kind, key in keys if kind == "stage"]
        action_ids = [key for kind, key in keys if kind == "action"]
        stages = {row.id: row for row in self.db.execute(
            select(StageInstance.id, StageInstance.stage_key, StageInstance.due_at,
                   StageInstance.assignee_agency_id.label("agency_id"),
                   StageInstance.assignee_user_id.label("user_id"),
                   StageInstance.assignee_role.label("role"), *_ROW_CASE_LABELLED)
            .join(Case, Case.id == StageInstance.case_id)
            .where(StageInstance.id.in_(stage_ids))
        )} if stage_ids else {}
        actions = {row.id: row for row in self.db.execute(
            select(Action.id, Action.title, Action.due_at, Action.status,
                   Action.assigned_agency_id.label("agency_id"),
                   Action.assigned_user_id.label("user_id"), *_ROW_CASE_LABELLED)
            .join(Case, Case.id == Action.case_id)
            .where(Action.id.in_(action_ids))
        )} if action_ids else {}
        rows = [*stages.values(), *actions.values()]
        agencies = self._agencies({row.agency_id for row in rows}
                                  | {row.case_owning_agency_id for row in rows})
        people = self._people({row.user_id for row in rows if row.user_id is not None})
        cases: dict[int, RowCase] = {}
        for row in rows:
            if row.case_id not in cases:
                cases[row.case_id] = RowCase(
                    id=row.case_id, reference=row.case_reference, case_type=row.case_case_type,
                    definition_version=row.case_definition_version, status=row.case_status,
                    risk_level=row.case_risk_level,
                    owning_agency_id=row.case_owning_agency_id,
                    owning_agency=agencies.get(row.case_owning_agency_id))
        self._load_definitions(list(cases.values()))
        items = []
        for kind, key in keys:
            if kind == "stage" and key in stages:
                stage = stages[key]
                case = cases[stage.case_id]
                items.append(Item(
                    kind="stage", id=stage.id, case=case,
                    name=self.stage_name(case, stage.stage_key),
                    due_at=stage.due_at, agency=agencies.get(stage.agency_id),
                    person=people.get(stage.user_id), role=stage.role,
                    case_type_name=self.case_type_name(case),
                ))
            elif kind == "action" and key in actions:
                action = actions[key]
                case = cases[action.case_id]
                items.append(Item(
                    kind="action", id=action.id, case=case, name=action.title,
                    due_at=action.due_at, agency=agencies.get(action.agency_id),
                    person=people.get(action.user_id), status=action.status,
                    case_type_name=self.case_type_name(case),
                ))
        return items

    def _agencies(self, ids: set[int | None]) -> dict[int, RowAgency]:
        wanted = sorted(i for i in ids if i is not None)
        if not wanted:
            return {}
        return {row.id: RowAgency(row.id, row.name) for row in self.db.execute(
            select(Agency.id, Agency.name).where(Agency.id.in_(wanted)))}

    def _people(self, ids: set[int]) -> dict[int, RowPerson]:
        if not ids:
            return {}
        return {row.id: RowPerson(row.id, row.display_name) for row in self.db.execute(
            select(User.id, User.display_name).where(User.id.in_(sorted(ids))))}

    # --- names from the case's own definition version -----------------------------------

    def _load_definitions(self, cases: Sequence[Case | RowCase]) -> None:
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

    def _definition(self, case: Case | RowCase) -> Definition | None:
        key = (case.case_type, case.definition_version)
        if key not in self._definitions:
            self._load_definitions([case])
        return self._definitions.get(key)

    def stage_name(self, case: Case | RowCase, stage_key: str) -> str:
        definition = self._definition(case)
        if definition is not None and stage_key in definition.stages:
            return definition.stages[stage_key].name
        return stage_key.replace("_", " ").capitalize()

    def case_type_name(self, case: Case | RowCase) -> str:
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

"""What the case page shows, gathered in one place so the view stays short."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, lazyload

from casebridge import clock
from storage.access import can_see_case
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.cases.models import (
    Case,
    CaseLink,
    CaseStatus,
    LinkKind,
    Note,
    StageInstance,
    StageStatus,
)
from storage.cases.workflow import definition_for, next_review_times
from storage.documents.models import Document
from storage.flags.models import Flag
from storage.standards.escalate import open_escalations
from workflows.model import Definition

from .chronology import chronology

OUTGOING_LINK = {
    LinkKind.RELATED: "Related to", LinkKind.SAME_INCIDENT: "Same incident as",
    LinkKind.DUPLICATE_OF: "Duplicate of", LinkKind.ESCALATED_TO: "Escalated to",
}
INCOMING_LINK = {
    LinkKind.RELATED: "Related to", LinkKind.SAME_INCIDENT: "Same incident as",
    LinkKind.DUPLICATE_OF: "Has a duplicate", LinkKind.ESCALATED_TO: "Escalated from",
}
LINK_CHOICES = [
    (LinkKind.RELATED, "Related", "The cases are connected, for example the same people"),
    (LinkKind.SAME_INCIDENT, "Same incident", "Both cases are about one incident"),
    (LinkKind.DUPLICATE_OF, "This case duplicates the other", "The other case is the one to work"),
    (LinkKind.ESCALATED_TO, "Escalated to the other case", "For example an ASB Case Review"),
]


def may_work(user: User) -> bool:
    """Anyone who sees a case may work it, except someone who only audits."""
    return any(role is not Role.AUDITOR for role in user.roles)


def may_manage(user: User, case: Case) -> bool:
    """The owning agency's managers and the partnership's administrators."""
    return user.has_role(Role.PARTNERSHIP_ADMIN) or (
        user.has_role(Role.MANAGER) and user.agency_id == case.owning_agency_id
    )


@dataclass
class StageRow:
    key: str
    name: str
    state: str  # completed, current, upcoming, skipped
    active: StageInstance | None = None
    completed: list[StageInstance] = field(default_factory=list)
    next_due: datetime | None = None
    recurring: bool = False


def stage_rows(definition: Definition, case: Case) -> tuple[list[StageRow], list[StageRow]]:
    """(main stages, recurring stages), each in the definition's order."""
    by_key: dict[str, list[StageInstance]] = {}
    for instance in sorted(case.stages, key=lambda s: (s.sequence, s.id or 0)):
        by_key.setdefault(instance.stage_key, []).append(instance)
    main_keys = [k for k, s in definition.stages.items() if not s.recurring]
    visited = [i for i, k in enumerate(main_keys) if by_key.get(k)]
    furthest = max(visited, default=-1)
    reviews = next_review_times(case)
    main, recurring = [], []
    for key, stage in definition.stages.items():
        runs = by_key.get(key, [])
        active = next((r for r in runs if r.status is StageStatus.ACTIVE), None)
        completed = [r for r in runs if r.status is StageStatus.COMPLETED]
        if active is not None:
            state = "current"
        elif completed:
            state = "completed"
        elif runs or case.status is CaseStatus.CLOSED:
            state = "skipped"
        elif stage.recurring:
            state = "upcoming"
        else:
            state = "skipped" if main_keys.index(key) < furthest else "upcoming"
        row = StageRow(key=key, name=stage.name, state=state, active=active,
                       completed=completed, next_due=reviews.get(key),
                       recurring=stage.recurring is not None)
        (recurring if stage.recurring else main).append(row)
    return main, recurring


def worker_text(stage: StageInstance) -> str:
    if stage.assignee_user is not None:
        return f"{stage.assignee_user.display_name} ({stage.assignee_user.agency.name})"
    agency = stage.assignee_agency.name if stage.assignee_agency else "the owning agency"
    if stage.assignee_role:
        role = stage.assignee_role.replace("_", " ")
        return f"{role[0].upper()}{role[1:]}s at {agency}"
    return agency


def active_flags(session: Session, case: Case) -> list[tuple[Flag, str]]:
    """Warning markers on the case or on anyone or anywhere on it: (flag, on whom)."""
    now = clock.now()
    subjects: dict[tuple[str, int], str] = {}
    for p in case.participants:
        if p.person is not None:
            subjects[("person", p.person.id)] = p.person.full_name
        if p.location is not None:
            subjects[("location", p.location.id)] = p.location.one_line()
        if p.group is not None:
            subjects[("group", p.group.id)] = p.group.name
    conditions = [Flag.case_id == case.id]
    for kind, column in (("person", Flag.person_id), ("location", Flag.location_id),
                         ("group", Flag.group_id)):
        ids = [i for (k, i) in subjects if k == kind]
        if ids:
            conditions.append(column.in_(ids))
    flags = session.scalars(
        select(Flag).where(or_(*conditions), Flag.cleared_at.is_(None),
                           or_(Flag.expires_at.is_(None), Flag.expires_at > now))
        .order_by(Flag.raised_at, Flag.id)
    ).all()
    shown = []
    for flag in flags:
        if flag.case_id is not None:
            on = "this case"
        elif flag.person_id is not None:
            on = subjects.get(("person", flag.person_id), "")
        elif flag.location_id is not None:
            on = subjects.get(("location", flag.location_id), "")
        else:
            on = subjects.get(("group", flag.group_id or 0), "")
        shown.append((flag, on))
    return shown


def linked_cases(session: Session, user: User, case: Case) -> list[dict[str, Any]]:
    links = session.scalars(
        select(CaseLink)
        .where(or_(CaseLink.from_case_id == case.id, CaseLink.to_case_id == case.id))
        .order_by(CaseLink.linked_at, CaseLink.id)
    ).all()
    rows = []
    for link in links:
        outgoing = link.from_case_id == case.id
        other = session.get(Case, link.to_case_id if outgoing else link.from_case_id)
        if other is None:
            continue
        rows.append({
            "words": (OUTGOING_LINK if outgoing else INCOMING_LINK)[link.kind],
            "case": other if can_see_case(session, user, other) else None,
            "reason": link.reason, "at": link.linked_at,
        })
    return rows


def visible_notes(session: Session, user: User, case: Case) -> list[Note]:
    """Newest first; a note restricted to its author's agency shows only there."""
    author = User.__table__.alias("note_author")
    return list(session.scalars(
        select(Note).outerjoin(author, author.c.id == Note.author_id)
        .where(Note.case_id == case.id,
               or_(Note.restricted_to_agency.is_(False), author.c.agency_id == user.agency_id))
        .order_by(Note.created_at.desc(), Note.id.desc())
    ))


def people_by_id(session: Session, ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(
        select(User).where(User.id.in_(wanted)).options(lazyload(User.role_grants)))}


def case_page(session: Session, user: User, case: Case, *, chronology_page: int = 1) -> dict:
    """Everything the case page template needs."""
    definition = definition_for(session, case)
    main, recurring = stage_rows(definition, case)
    documents = list(session.scalars(
        select(Document).where(Document.case_id == case.id)
        .order_by(Document.uploaded_at.desc(), Document.id.desc())
    ))
    notes = visible_notes(session, user, case)
    agencies = list(session.scalars(
        select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)
    ))
    on_case = {case.owning_agency_id, *(s.agency_id for s in case.shares)}
    workers = list(session.scalars(
        select(User).where(User.agency_id.in_(on_case), User.active.is_(True))
        .order_by(User.display_name).options(lazyload(User.role_grants))  # names only
    ))
    people = people_by_id(
        session,
        {d.uploaded_by_id for d in documents}
        | {s.completed_by_id for s in case.stages},
    )
    return {
        "case": case,
        "definition": definition,
        "business_status": (case.workflow_state or {}).get("business_status"),
        "stages": main,
        "recurring": recurring,
        "flags": active_flags(session, case),
        "actions": sorted(case.actions, key=lambda a: (a.due_at, a.id)),
        "chronology": chronology(session, user, case, definition, chronology_page),
        # Minimum standards breached (or at their warning point) now: standard, level, since.
        "escalations": open_escalations(session, case.id, clock.now()),
        "people": [p for p in case.participants if p.person is not None],
        "locations": [p for p in case.participants if p.location is not None],
        "groups": [p for p in case.participants if p.group is not None],
        "documents": documents,
        "links": linked_cases(session, user, case),
        "link_choices": LINK_CHOICES,
        "notes": notes,
        "agencies": agencies,
        "share_agencies": [a for a in agencies if a.id not in on_case],
        "workers": workers,
        "users_by_id": people,
        "can_work": may_work(user),
        "can_manage": may_manage(user, case),
        "move_stages": [(k, s.name) for k, s in definition.stages.items() if not s.recurring],
        "worker_text": worker_text,
    }


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"

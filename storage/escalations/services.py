"""Finding the deadlines that need escalating, and recording each escalation once.

`due_query` is one set-based query over stage and action deadlines (no per-case loop): it
leaves out paused and closed cases and deadlines already escalated at that level and due
date, and decides the level in SQL (breach once due, warning once at the warning point).
`record` inserts escalations with INSERT ... ON CONFLICT DO NOTHING and, for the rows it
really inserted, queues their e-mails and audits them, all in the caller's transaction:
no escalation without its e-mail, no e-mail without its escalation. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import CompoundSelect, case, exists, literal_column, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from rules.escalations import ACTION_WARNING, DEADLINES, LADDER, Level, escalation_key
from rules.standards.model import Ladder
from storage.accounts.models import User
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record as audit
from storage.bulk import insert_rows
from storage.cases.models import Action, ActionStatus, Case, CaseStatus, StageInstance, StageStatus
from storage.escalations.models import Escalation
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue_many
from storage.standards.recipients import Lookups, Parties

OUTSTANDING = (ActionStatus.OPEN, ActionStatus.ACCEPTED, ActionStatus.OVERDUE)


@dataclass(frozen=True)
class Due:
    """One deadline at a level, with what deciding its recipients needs (ids only)."""

    kind: str  # "stage" or "action"
    target_id: int
    case_id: int
    due_at: datetime
    level: Level
    user_id: int | None  # the assignee, when one active person owes it
    agency_id: int | None  # the agency that owes it
    line_manager_id: int | None  # the assignee's active line manager
    owning_agency_id: int

    @cached_property
    def key(self) -> str:
        return escalation_key(self.kind, self.target_id, self.due_at, self.level)


def due_query(now: datetime, *, action_warning: timedelta = ACTION_WARNING,
              limit: int | None = None) -> CompoundSelect:
    """Stage and action deadlines at their warning point or past due, not yet escalated."""
    assignee, manager = aliased(User), aliased(User)

    def level(due_at: Any) -> Any:
        return case((due_at <= now, literal_column("'breach'")), else_=literal_column("'warning'"))

    def person(column: Any) -> Any:
        return case((assignee.active.is_(True), column), else_=None)

    def not_escalated(column: Any, target: Any, due_at: Any) -> Any:
        return ~exists().where(column == target, Escalation.due_at == due_at,
                               Escalation.level == level(due_at))

    stages = (
        select(literal_column("'stage'").label("kind"), StageInstance.id.label("target_id"),
               StageInstance.case_id, StageInstance.due_at, level(StageInstance.due_at)
               .label("level"), person(StageInstance.assignee_user_id).label("user_id"),
               StageInstance.assignee_agency_id.label("agency_id"),
               manager.id.label("line_manager_id"), Case.owning_agency_id)
        .join(Case, Case.id == StageInstance.case_id)
        .outerjoin(assignee, assignee.id == StageInstance.assignee_user_id)
        .outerjoin(manager, (manager.id == assignee.line_manager_id) & manager.active.is_(True))
        .where(StageInstance.status == StageStatus.ACTIVE, Case.status == CaseStatus.OPEN,
               StageInstance.due_at.is_not(None),
               or_(StageInstance.due_at <= now, StageInstance.warn_at <= now),
               not_escalated(Escalation.stage_instance_id, StageInstance.id,
                             StageInstance.due_at))
    )
    actions = (
        select(literal_column("'action'"), Action.id, Action.case_id, Action.due_at,
               level(Action.due_at), person(Action.assigned_user_id), Action.assigned_agency_id,
               manager.id, Case.owning_agency_id)
        .join(Case, Case.id == Action.case_id)
        .outerjoin(assignee, assignee.id == Action.assigned_user_id)
        .outerjoin(manager, (manager.id == assignee.line_manager_id) & manager.active.is_(True))
        .where(Action.status.in_(OUTSTANDING), Case.status == CaseStatus.OPEN,
               Action.due_at <= now + action_warning,
               not_escalated(Escalation.action_id, Action.id, Action.due_at))
    )
    query = union_all(stages, actions)
    return query.limit(limit) if limit is not None else query


def find_due(session: Session, now: datetime, *, action_warning: timedelta = ACTION_WARNING,
             limit: int | None = None) -> list[Due]:
    rows = session.execute(due_query(now, action_warning=action_warning, limit=limit))
    return [Due(kind=r.kind, target_id=r.target_id, case_id=r.case_id, due_at=r.due_at,
                level=Level(r.level), user_id=r.user_id, agency_id=r.agency_id,
                line_manager_id=r.line_manager_id, owning_agency_id=r.owning_agency_id)
            for r in rows]


def record(session: Session, actor: Actor, due: Sequence[Due], now: datetime,
           ladder: Ladder = DEADLINES) -> dict[str, int]:
    """Record these escalations once each, queue one e-mail per new one (its idempotency key
    is the escalation's key) and audit it on its case. Returns {key: id} of the new ones:
    a key recorded before, by this sweep or a concurrent one, is left out. Who is told is
    the ladder's level 0 (warning) or level 1 (breach); a digest is for standards only, so
    everyone on a deadline's ladder is e-mailed at once."""
    if not due:
        return {}
    lookups = Lookups.load(session, {d.owning_agency_id for d in due},
                           {r for d in due for r in ladder.recipients(LADDER[d.level].rung)})
    values = [_row(d, ladder, lookups, now) for d in due]
    inserted = insert_rows(session, Escalation.__table__, values, skip_conflicts_on="key",
                           returning=("id", "key"))
    new = {key: escalation_id for escalation_id, key in inserted}
    fresh = [row | {"id": new[row["key"]]} for row in values if row["key"] in new]
    enqueue_many(session, EffectKind.EMAIL, [
        {"idempotency_key": row["key"], "case_id": row["case_id"],
         "payload": {"template": LADDER[row["level"]].template, "escalation_id": row["id"],
                     "case_id": row["case_id"]}}
        for row in fresh
    ])
    for row in fresh:
        audit(session, actor, AuditAction.CREATE, entity_type="escalations",
              entity_id=row["id"], case_id=row["case_id"],
              after={"level": row["level"].value, "stage_instance_id": row["stage_instance_id"],
                     "action_id": row["action_id"], "due_at": row["due_at"].isoformat(),
                     "recipient_user_ids": row["recipient_user_ids"],
                     "notify_agency_id": row["notify_agency_id"]})
    session.flush()
    return new


def _row(due: Due, ladder: Ladder, lookups: Lookups, now: datetime) -> dict[str, Any]:
    users, notify = lookups.resolve(
        ladder.recipients(LADDER[due.level].rung),
        Parties(due.user_id, due.agency_id, due.line_manager_id, due.owning_agency_id))
    return {
        "key": due.key, "case_id": due.case_id, "level": due.level, "due_at": due.due_at,
        "stage_instance_id": due.target_id if due.kind == "stage" else None,
        "action_id": due.target_id if due.kind == "action" else None,
        "recipient_user_ids": users,
        # No one person owes it: the agency that does is told (its contact or its people).
        "notify_agency_id": notify,
        "created_at": now,
    }

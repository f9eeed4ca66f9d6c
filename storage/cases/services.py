"""Write paths for a case's record: actions, participants, sharing, notes and links, and
the shared checks the workflow module builds on (storage.cases.workflow opens, advances and
closes cases). Each function flushes and leaves the commit to its caller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from casebridge import clock
from storage.access import may_share_with
from storage.accounts.models import User
from storage.actors import Actor
from storage.agencies.models import Agency, WebhookEvent
from storage.agencies.webhooks import queue_webhooks
from storage.audit.models import AuditAction
from storage.audit.services import changed_fields, record, snapshot
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseLink,
    CaseParticipant,
    CaseShare,
    CaseStatus,
    LinkKind,
    Note,
    ParticipantRole,
    StageInstance,
)
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState, NotFound
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue
from storage.people.models import Group, Location, Person

CASE_FIELDS = [
    "reference", "case_type", "definition_version", "definition_hash", "title", "status",
    "risk_level", "owning_agency_id", "lead_officer_id", "restricted", "closure_reason",
]
STAGE_FIELDS = [
    "stage_key", "sequence", "status", "form_key", "assignee_user_id", "assignee_agency_id",
    "opened_at", "warn_at", "due_at", "completed_at",
]
ACTION_FIELDS = [
    "title", "assigned_agency_id", "assigned_user_id", "status", "due_at", "decline_reason",
    "outcome", "completed_at",
]

# Which action statuses may follow which: done and declined are final.
ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.OPEN: frozenset(
        {ActionStatus.ACCEPTED, ActionStatus.DECLINED, ActionStatus.DONE, ActionStatus.OVERDUE}
    ),
    ActionStatus.ACCEPTED: frozenset(
        {ActionStatus.DONE, ActionStatus.DECLINED, ActionStatus.OVERDUE}
    ),
    ActionStatus.OVERDUE: frozenset(
        {ActionStatus.ACCEPTED, ActionStatus.DONE, ActionStatus.DECLINED}
    ),
    ActionStatus.DONE: frozenset(),
    ActionStatus.DECLINED: frozenset(),
}
OUTSTANDING_ACTIONS = (ActionStatus.OPEN, ActionStatus.ACCEPTED, ActionStatus.OVERDUE)


def opening_problems(
    session: Session,
    title: str,
    owning_agency_id: int,
    lead_officer_id: int | None,
    share_with_agency_ids: Sequence[int],
) -> dict[str, str]:
    """What is wrong with the details of a case about to be opened, field by field."""
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Enter a short title for the case"
    owner = session.get(Agency, owning_agency_id)
    if owner is None or not owner.active:
        errors["owning_agency"] = "Choose an active agency to own the case"
    if lead_officer_id is not None:
        lead = session.get(User, lead_officer_id)
        if lead is None or not lead.active:
            errors["lead_officer"] = "Choose a lead officer with an active account"
        elif lead.agency_id not in {owning_agency_id, *share_with_agency_ids}:
            errors["lead_officer"] = "The lead officer must work for an agency on the case"
    for agency_id in share_with_agency_ids:
        if session.get(Agency, agency_id) is None:
            errors["share_with"] = f"Agency {agency_id} does not exist"
    return errors


def assign_action(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    title: str,
    assigned_agency_id: int,
    due_at: datetime,
    assigned_user_id: int | None = None,
    detail: str | None = None,
    stage_instance_id: int | None = None,
) -> Action:
    """Give an agency (or one of its people) a task on the case, and tell them through the outbox.

    The agency is added to the case's sharing if it was not on it: it cannot act on a case
    it cannot see.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    if case.status is CaseStatus.CLOSED:
        raise InvalidState(f"{case.reference} is closed; reopen it before adding actions")
    now = clock.now()
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Say what needs doing"
    agency = session.get(Agency, assigned_agency_id)
    if agency is None or not agency.active:
        errors["assigned_agency"] = "Choose an active agency to do this"
    elif (agency.id != case.owning_agency_id
          and not may_share_with(session, case, agency.agency_type)):
        errors["assigned_agency"] = refused_by_agreement(case, agency)
    if assigned_user_id is not None:
        user = session.get(User, assigned_user_id)
        if user is None or not user.active:
            errors["assigned_user"] = "Choose a person with an active account"
        elif user.agency_id != assigned_agency_id:
            errors["assigned_user"] = "Choose someone who works for the agency doing this"
    if due_at.tzinfo is None:
        errors["due_at"] = "The due date needs a time zone"
    elif due_at < now:
        errors["due_at"] = "The due date must be in the future"
    if stage_instance_id is not None:
        stage = session.get(StageInstance, stage_instance_id)
        if stage is None or stage.case_id != case.id:
            errors["stage"] = "That stage is not on this case"
    if errors:
        raise InvalidRequest(errors)

    action = Action(
        case_id=case.id,
        stage_instance_id=stage_instance_id,
        title=title.strip(),
        detail=detail,
        assigned_agency_id=assigned_agency_id,
        assigned_user_id=assigned_user_id,
        status=ActionStatus.OPEN,
        due_at=due_at,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(action)
    ensure_shared(session, actor, case, assigned_agency_id)
    touch(case, now)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=action, case_id=case.id,
           after=snapshot(action, ACTION_FIELDS))
    enqueue(
        session,
        kind=EffectKind.NOTIFY_AGENCY,
        idempotency_key=f"action-assigned:{action.id}",
        payload={"template": "action_assigned", "action_id": action.id},
        case_id=case.id,
    )
    queue_webhooks(session, WebhookEvent.ACTION_ASSIGNED,
                   agencies=Agency.id == assigned_agency_id,
                   key=f"action-assigned:{action.id}",
                   payload={"case_id": case.id, "action_id": action.id}, case_id=case.id)
    return action


def change_action_status(
    session: Session,
    actor: Actor,
    *,
    action_id: int,
    status: ActionStatus,
    reason: str | None = None,
    outcome: str | None = None,
) -> Action:
    """Accept, decline (with a reason), complete or mark overdue an action. Callers use
    storage.cases.workflow.respond_to_action, which also lets a waiting stage move on."""
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound("Action", action_id)
    status = ActionStatus(status)
    if status not in ACTION_TRANSITIONS[action.status]:
        raise InvalidState(
            f"An action that is {action.status.value} cannot become {status.value}"
        )
    if status is ActionStatus.DECLINED and not (reason or "").strip():
        raise InvalidRequest({"reason": "Say why the action is declined"})
    before = snapshot(action, ACTION_FIELDS)
    action.status = status
    if status is ActionStatus.DECLINED:
        action.decline_reason = reason.strip()  # type: ignore[union-attr]
    if status is ActionStatus.DONE:
        action.completed_at = clock.now()
        action.outcome = outcome
    session.flush()
    old, new = changed_fields(before, snapshot(action, ACTION_FIELDS))
    record(session, actor, AuditAction.UPDATE, entity=action, case_id=action.case_id,
           before=old, after=new)
    return action


def add_participant(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    role: ParticipantRole,
    person_id: int | None = None,
    location_id: int | None = None,
    group_id: int | None = None,
) -> CaseParticipant:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    role = ParticipantRole(role)
    subjects = [s for s in (person_id, location_id, group_id) if s is not None]
    if len(subjects) != 1:
        raise InvalidRequest({"subject": "Choose exactly one person, location or group"})
    if location_id is not None:
        if session.get(Location, location_id) is None:
            raise NotFound("Location", location_id)
        role = ParticipantRole.INCIDENT_LOCATION
    elif role is ParticipantRole.INCIDENT_LOCATION:
        raise InvalidRequest({"role": "Only a location can be the incident location"})
    if person_id is not None and session.get(Person, person_id) is None:
        raise NotFound("Person", person_id)
    if group_id is not None:
        if session.get(Group, group_id) is None:
            raise NotFound("Group", group_id)
        if role not in (ParticipantRole.SUBJECT_GROUP, ParticipantRole.PERPETRATOR,
                        ParticipantRole.ALLEGED_PERPETRATOR):
            raise InvalidRequest({"role": "A group can be a subject or (alleged) perpetrator"})
    participant = CaseParticipant(
        case_id=case.id, role=role, person_id=person_id, location_id=location_id,
        group_id=group_id,
    )
    session.add(participant)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=participant, case_id=case.id,
           after={"role": role, "person_id": person_id, "location_id": location_id,
                  "group_id": group_id})
    return participant


def share_case(session: Session, actor: Actor, *, case_id: int, agency_id: int) -> CaseShare | None:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Agency", agency_id)
    if (agency.id != case.owning_agency_id
            and not may_share_with(session, case, agency.agency_type)):
        raise InvalidRequest({"agency_id": refused_by_agreement(case, agency)})
    share = ensure_shared(session, actor, case, agency_id)
    session.flush()
    return share


def add_note(
    session: Session, actor: Actor, *, case_id: int, body: str, restricted_to_agency: bool = False
) -> Note:
    if session.get(Case, case_id) is None:
        raise NotFound("Case", case_id)
    if not body.strip():
        raise InvalidRequest({"body": "Write the note before saving it"})
    note = Note(case_id=case_id, author_id=actor.user_id, body=body.strip(),
                restricted_to_agency=restricted_to_agency)
    session.add(note)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=note, case_id=case_id,
           after={"body": note.body, "restricted_to_agency": restricted_to_agency})
    return note


def link_cases(
    session: Session, actor: Actor, *, from_case_id: int, to_case_id: int, kind: LinkKind,
    reason: str | None = None,
) -> CaseLink:
    if from_case_id == to_case_id:
        raise InvalidRequest({"to_case": "A case cannot be linked to itself"})
    for case_id in (from_case_id, to_case_id):
        if session.get(Case, case_id) is None:
            raise NotFound("Case", case_id)
    kind = LinkKind(kind)
    existing = session.scalar(
        select(CaseLink).where(
            CaseLink.from_case_id == from_case_id,
            CaseLink.to_case_id == to_case_id,
            CaseLink.kind == kind,
        )
    )
    if existing is not None:
        return existing
    link = CaseLink(from_case_id=from_case_id, to_case_id=to_case_id, kind=kind, reason=reason,
                    linked_by_id=actor.user_id)
    session.add(link)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=link, case_id=from_case_id,
           after={"to_case_id": to_case_id, "kind": kind, "reason": reason})
    return link


def touch(case: Case, now: datetime) -> None:
    """Mark the case changed: its version moves even when only its stages or actions did."""
    case.version += 1
    case.updated_at = now


def case_by_reference(session: Session, reference: str, *options: Any) -> Case | None:
    """The case with this reference; `options` are loader options (what to load with it)."""
    return session.scalar(select(Case).where(Case.reference == reference.strip().upper())
                          .options(*options))


def refuse_outstanding_actions(case: Case, pending: Sequence[str] = ()) -> None:
    """A case cannot close while an agency still owes it something (`pending`: actions the
    same step would create)."""
    titles = [a.title for a in case.actions if a.status in OUTSTANDING_ACTIONS]
    titles += list(pending)
    if titles:
        listed = "; ".join(f"'{t}'" for t in titles[:5])
        raise InvalidState(
            f"{case.reference} has {len(titles)} outstanding action(s) ({listed}): "
            "complete or decline them before closing the case"
        )


def refused_by_agreement(case: Case, agency: Agency) -> str:
    kind = agency.agency_type.value.replace("_", " ")
    return (f"The information sharing agreement does not allow {kind} agencies to see "
            f"{case.case_type.replace('_', ' ')} cases, so {agency.name} cannot be given "
            "this case: choose another agency")


def ensure_shared(
    session: Session, actor: Actor, case: Case, agency_id: int
) -> CaseShare | None:
    if agency_id == case.owning_agency_id or any(s.agency_id == agency_id for s in case.shares):
        return None
    share = CaseShare(agency_id=agency_id, shared_by_id=actor.user_id)
    case.shares.append(share)
    record(session, actor, AuditAction.CREATE, entity_type="case_shares",
           entity_id=f"{case.id}/{agency_id}", case_id=case.id, after={"agency_id": agency_id})
    return share


def load_case_for_change(
    session: Session, case_id: int, expected_version: int, *, submitted: dict[str, Any],
    allow_closed: bool = False,
) -> Case:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFound("Case", case_id)
    if case.version != expected_version:
        raise ConcurrencyConflict(
            f"Case {case.reference}",
            expected_version=expected_version,
            current_version=case.version,
            submitted=submitted,
        )
    if case.status is CaseStatus.CLOSED and not allow_closed:
        raise InvalidState(f"{case.reference} is closed")
    return case


def flush_case(
    session: Session, case: Case, expected_version: int, submitted: dict[str, Any]
) -> None:
    """Flush, turning a lost race into the same conflict a stale form gets."""
    label = f"Case {case.reference}"
    try:
        session.flush()
    except StaleDataError:
        raise ConcurrencyConflict(
            label, expected_version=expected_version, current_version=None, submitted=submitted
        ) from None
    except OperationalError as exc:
        if _is_sqlite_stale_snapshot(exc):
            raise ConcurrencyConflict(
                label, expected_version=expected_version, current_version=None,
                submitted=submitted,
            ) from None
        raise


def _is_sqlite_stale_snapshot(exc: OperationalError) -> bool:
    """SQLite's SQLITE_BUSY_SNAPSHOT: another connection wrote after this one read."""
    original = exc.orig
    return isinstance(original, sqlite3.OperationalError) and (
        getattr(original, "sqlite_errorcode", None) == 517  # SQLITE_BUSY_SNAPSHOT
    )


# --- the task inbox: taking queued work and recording progress on actions ------------------
# (Imports are local so this block only appends to the module.)


def claim_stage(session: Session, actor: Actor, *, stage_instance_id: int) -> StageInstance:
    """Take a stage waiting in your agency's queue (for your role, if it names one), so it
    becomes yours. The write only matches a stage nobody has taken, so when two people take
    the same stage at once the second is told "Someone else took it first" and nothing
    changes. Taking a stage that is already yours changes nothing either. The case's version
    does not move: who works a stage is not part of the case's state, so nobody's open form
    goes stale."""
    from sqlalchemy import update

    from storage.cases.models import StageStatus

    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise InvalidState("Only a person with an active account can take work")
    stage = session.get(StageInstance, stage_instance_id, populate_existing=True)
    if stage is None:
        raise NotFound("Stage", stage_instance_id)
    if stage.status is not StageStatus.ACTIVE:
        raise InvalidState(f"This stage is {stage.status.value}: there is nothing to take")
    if stage.assignee_agency_id != user.agency_id:
        raise InvalidState("This stage is waiting for another agency: only they can take it")
    if stage.assignee_role and stage.assignee_role not in {r.value for r in user.roles}:
        role = stage.assignee_role.replace("_", " ")
        raise InvalidState(f"This stage is for your agency's {role}s: ask one of them to take it")
    if stage.assignee_user_id == user.id:
        return stage
    if stage.assignee_user_id is not None:
        raise InvalidState("Someone else took it first")
    try:
        taken = session.execute(
            update(StageInstance)
            .where(StageInstance.id == stage.id, StageInstance.assignee_user_id.is_(None),
                   StageInstance.status == StageStatus.ACTIVE)
            .values(assignee_user_id=user.id)
            .execution_options(synchronize_session=False)
        )
    except OperationalError as exc:
        # SQLite: another writer holds the write lock, or used it after we read.
        if getattr(exc.orig, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY,
                                                           sqlite3.SQLITE_BUSY_SNAPSHOT):
            raise InvalidState("Someone else changed this at the same moment: reload the "
                               "page to see who has it") from None
        raise
    session.expire(stage, ["assignee_user_id", "assignee_user"])
    if taken.rowcount != 1:
        raise InvalidState("Someone else took it first")
    record(session, actor, AuditAction.UPDATE, entity=stage, case_id=stage.case_id,
           before={"assignee_user_id": None}, after={"assignee_user_id": user.id})
    return stage


def claim_action(session: Session, actor: Actor, *, action_id: int) -> Action:
    """Take an action your agency owes that no one there has been named for (see
    claim_stage: the second of two people taking it at once is refused, nothing changes)."""
    from sqlalchemy import update

    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.active:
        raise InvalidState("Only a person with an active account can take work")
    action = session.get(Action, action_id, populate_existing=True)
    if action is None:
        raise NotFound("Action", action_id)
    if action.status not in OUTSTANDING_ACTIONS:
        raise InvalidState(f"This action is {action.status.value}: there is nothing to take")
    if action.assigned_agency_id != user.agency_id:
        raise InvalidState("This action is for another agency: only they can take it")
    if action.assigned_user_id == user.id:
        return action
    if action.assigned_user_id is not None:
        raise InvalidState("Someone else took it first")
    try:
        taken = session.execute(
            update(Action)
            .where(Action.id == action.id, Action.assigned_user_id.is_(None),
                   Action.status.in_(OUTSTANDING_ACTIONS))
            .values(assigned_user_id=user.id, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    except OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY,
                                                           sqlite3.SQLITE_BUSY_SNAPSHOT):
            raise InvalidState("Someone else changed this at the same moment: reload the "
                               "page to see who has it") from None
        raise
    session.expire(action, ["assigned_user_id", "assigned_user", "updated_at"])
    if taken.rowcount != 1:
        raise InvalidState("Someone else took it first")
    record(session, actor, AuditAction.UPDATE, entity=action, case_id=action.case_id,
           before={"assigned_user_id": None}, after={"assigned_user_id": user.id})
    return action


def record_action_progress(session: Session, actor: Actor, *, action_id: int, body: str) -> Any:
    """Note progress on an action still owed (done and declined actions take no more).
    Returns the new storage.cases.models.ActionUpdate."""
    from storage.cases.models import ActionUpdate

    action = session.get(Action, action_id)
    if action is None:
        raise NotFound("Action", action_id)
    if not (body or "").strip():
        raise InvalidRequest({"body": "Describe the progress made"})
    if action.status not in OUTSTANDING_ACTIONS:
        raise InvalidState(
            f"This action is {action.status.value}: progress can only be recorded while it "
            "is still owed"
        )
    progress = ActionUpdate(author_id=actor.user_id, body=body.strip(), created_at=clock.now())
    action.updates.append(progress)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=progress, case_id=action.case_id,
           after={"action_id": action.id, "body": progress.body})
    return progress

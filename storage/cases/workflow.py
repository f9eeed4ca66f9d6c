"""Running a case's workflow: the interpreter decides, this module makes it so.

Each function loads the case and the exact definition version it runs on, asks the pure
interpreter what the event means, then writes the stage rows, actions, outbox messages and
audit entries in the caller's transaction. Nothing is sent from here: notifications and
referrals are outbox rows, carried out after commit by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from forms.loader import shipped_forms
from storage.accounts.models import Role, User
from storage.actors import Actor
from storage.agencies.models import Agency, WebhookEvent
from storage.agencies.webhooks import queue_webhooks
from storage.audit.models import AuditAction
from storage.audit.services import changed_fields, record, snapshot
from storage.cases import services as low
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseParticipant,
    CaseShare,
    CaseStatus,
    ParticipantRole,
    RiskLevel,
    StageInstance,
    StageStatus,
)
from storage.cases.references import next_reference
from storage.errors import InvalidRequest, InvalidState, NotFound
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue
from storage.sharing.services import agreement_in_force
from storage.standards.pauses import record_pause, record_resume
from storage.workflows.services import current_version, definition_of, version_row
from workflows import interpreter as wf
from workflows.model import Definition, Worker, WorkerKind

# Effects that only reach out (messages, referrals, tasks) leave the case's own state, and so
# a practitioner's open form, untouched.
_SIDE_EFFECTS = (wf.Notification, wf.Referral, wf.ActionRequested)
CASE_FIELDS = low.CASE_FIELDS
STAGE_FIELDS = low.STAGE_FIELDS


def open_case(
    session: Session,
    actor: Actor,
    *,
    case_type: str,
    title: str,
    owning_agency_id: int,
    lead_officer_id: int | None = None,
    risk_level: RiskLevel | None = None,
    summary: str | None = None,
    restricted: bool = False,
    share_with_agency_ids: Sequence[int] = (),
    facts: Mapping[str, Any] | None = None,
) -> Case:
    """Open a case on the newest published version of its type, in its start stages."""
    row = current_version(session, case_type)
    definition = definition_of(row)
    now = clock.now()
    errors = _check_opening(session, actor, definition, title, owning_agency_id,
                            lead_officer_id, share_with_agency_ids)
    if errors:
        raise InvalidRequest(errors)
    outcome = _interpreter(definition).start(
        wf.OpenCase(at=now, risk=RiskLevel(risk_level).value if risk_level else None,
                    facts=dict(facts or {}))
    )
    case = Case(
        reference=next_reference(session, definition.reference_prefix, now.year),
        case_type=definition.key,
        definition_version=definition.version,
        definition_hash=definition.content_hash,
        title=title.strip(),
        summary=summary,
        status=CaseStatus.OPEN,
        risk_level=RiskLevel(risk_level) if risk_level else None,
        owning_agency_id=owning_agency_id,
        lead_officer_id=lead_officer_id,
        restricted=restricted,
        workflow_state={},
        opened_at=now,
        created_by_id=actor.user_id,
        shares=[CaseShare(agency_id=a, shared_by_id=actor.user_id)
                for a in dict.fromkeys(share_with_agency_ids) if a != owning_agency_id],
    )
    session.add(case)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=case, case_id=case.id,
           after=snapshot(case, CASE_FIELDS) | {"shared_with": list(share_with_agency_ids)})
    _apply(session, actor, case, definition, outcome)
    return case


def record_stage_submission(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    stage_instance_id: int,
    expected_version: int,
    form_data: dict[str, Any],
    facts: Mapping[str, Any] | None = None,
) -> Case:
    """Complete a stage with its (already validated) form answers; the workflow decides what
    opens next. A stale `expected_version` is a ConcurrencyConflict carrying the answers."""
    case = low.load_case_for_change(session, case_id, expected_version, submitted=form_data)
    stage = session.get(StageInstance, stage_instance_id)
    if stage is None or stage.case_id != case.id:
        raise NotFound("Stage", stage_instance_id)
    if stage.status is not StageStatus.ACTIVE:
        raise InvalidState(f"The stage '{stage.stage_key}' on {case.reference} is already "
                           f"{stage.status.value}; it cannot be submitted again")
    event = wf.SubmitStage(at=clock.now(), stage=stage.stage_key, sequence=stage.sequence,
                           answers=form_data, facts=dict(facts or {}))
    return _run(session, actor, case, event, expected_version, submitted=form_data)


def close_case(
    session: Session, actor: Actor, *, case_id: int, expected_version: int, reason: str
) -> Case:
    _require_reason(reason, "Say why the case is being closed")
    case = low.load_case_for_change(session, case_id, expected_version,
                                    submitted={"reason": reason})
    return _run(session, actor, case, wf.Close(at=clock.now(), reason=reason.strip()),
                expected_version, submitted={"reason": reason})


def reopen_case(
    session: Session, actor: Actor, *, case_id: int, expected_version: int, reason: str,
    to_stages: Sequence[str] = (),
) -> Case:
    _require_reason(reason, "Say why the case is being reopened")
    case = low.load_case_for_change(session, case_id, expected_version,
                                    submitted={"reason": reason}, allow_closed=True)
    return _run(session, actor, case,
                wf.Reopen(at=clock.now(), reason=reason.strip(), to=tuple(to_stages)),
                expected_version, submitted={"reason": reason})


def override(
    session: Session, actor: Actor, *, case_id: int, expected_version: int, reason: str,
    to_stages: Sequence[str],
) -> Case:
    """A manager moves a case by hand (with a reason on the chronology)."""
    _require_reason(reason, "Say why the case is being moved by hand")
    user = session.get(User, actor.user_id) if actor.user_id else None
    by_manager = actor.user_id is None or bool(
        user and (user.has_role(Role.MANAGER) or user.has_role(Role.PARTNERSHIP_ADMIN))
    )
    case = low.load_case_for_change(session, case_id, expected_version,
                                    submitted={"reason": reason})
    return _run(session, actor, case,
                wf.Override(at=clock.now(), reason=reason, to=tuple(to_stages),
                            by_manager=by_manager),
                expected_version, submitted={"reason": reason})


def pause_case(session: Session, actor: Actor, *, case_id: int, expected_version: int,
               reason: str) -> Case:
    _require_reason(reason, "Say why the case is paused, e.g. waiting for the victim")
    case = low.load_case_for_change(session, case_id, expected_version,
                                    submitted={"reason": reason})
    return _run(session, actor, case, wf.Pause(at=clock.now(), reason=reason), expected_version,
                submitted={"reason": reason})


def resume_case(session: Session, actor: Actor, *, case_id: int, expected_version: int) -> Case:
    case = low.load_case_for_change(session, case_id, expected_version, submitted={})
    case = _run(session, actor, case, wf.Resume(at=clock.now()), expected_version, submitted={})
    # Actions settled while the case was paused could not move their stage on; do it now.
    for stage in list(case.active_stages):
        settled = [a for a in case.actions if a.stage_instance_id == stage.id]
        if settled and not any(a.status in low.OUTSTANDING_ACTIONS for a in settled):
            action_settled(session, actor, action=settled[-1])
    return case


def deadline_reached(
    session: Session, actor: Actor, *, stage_instance_id: int, kind: str
) -> Case | None:
    """Called by the deadline sweep; a stage that has moved on meanwhile is left alone."""
    stage = session.get(StageInstance, stage_instance_id)
    if stage is None or stage.status is not StageStatus.ACTIVE:
        return None
    case = stage.case
    event = wf.DeadlineReached(at=clock.now(), stage=stage.stage_key, sequence=stage.sequence,
                               kind=kind)
    return _run(session, actor, case, event, case.version, submitted={}, bump=False)


def review_due(session: Session, actor: Actor, *, case_id: int, stage_key: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    return _run(session, actor, case, wf.ReviewDue(at=clock.now(), stage=stage_key),
                case.version, submitted={}, bump=False)


def respond_to_action(
    session: Session,
    actor: Actor,
    *,
    action_id: int,
    status: ActionStatus,
    reason: str | None = None,
    outcome: str | None = None,
) -> Action:
    """Accept, decline (with a reason), complete or mark overdue an action. When the last
    action of a stage that waits for its actions is settled, that stage completes."""
    action = low.change_action_status(session, actor, action_id=action_id, status=status,
                                      reason=reason, outcome=outcome)
    if action.status in (ActionStatus.DONE, ActionStatus.DECLINED):
        action_settled(session, actor, action=action)
    return action


def action_settled(session: Session, actor: Actor, *, action: Action) -> Case | None:
    """After an action is done or declined: a stage waiting on its actions may complete."""
    if action.stage_instance_id is None:
        return None
    stage = session.get(StageInstance, action.stage_instance_id)
    if stage is None or stage.status is not StageStatus.ACTIVE:
        return None
    siblings = session.scalars(
        select(Action).where(Action.stage_instance_id == stage.id)
    ).all()
    counts = {s: sum(1 for a in siblings if a.status.value == s) for s in ("done", "declined")}
    outstanding = sum(1 for a in siblings if a.status in low.OUTSTANDING_ACTIONS)
    event = wf.ActionsSettled(at=clock.now(), stage=stage.stage_key, sequence=stage.sequence,
                              done=counts["done"], declined=counts["declined"],
                              outstanding=outstanding)
    case = stage.case
    return _run(session, actor, case, event, case.version, submitted={}, bump=False)


def definition_for(session: Session, case: Case) -> Definition:
    row = version_row(session, case.case_type, case.definition_version)
    if row.content_hash != case.definition_hash:
        raise InvalidState(f"{case.reference} records a definition hash that does not match "
                           f"{case.case_type} v{case.definition_version}")
    return definition_of(row)


def state_of(case: Case) -> wf.CaseState:
    """The interpreter's view of a case, rebuilt from its rows and workflow_state."""
    runs = tuple(
        wf.StageRun(
            key=s.stage_key, sequence=s.sequence, status=s.status.value, opened_at=s.opened_at,
            due_at=s.due_at, warn_at=s.warn_at, completed_at=s.completed_at,
            answers=s.form_data,
        )
        for s in sorted(case.stages, key=lambda s: s.id or 0)
    )
    return wf.CaseState(
        status=case.status.value,
        risk=case.risk_level.value if case.risk_level else None,
        opened_at=case.opened_at,
        stages=runs,
        closed_at=case.closed_at,
        close_reason=case.closure_reason,
        **wf.CaseState.variables_from(case.workflow_state or {}),
    )


# --- internals ---------------------------------------------------------------------------


def _interpreter(definition: Definition) -> wf.Interpreter:
    return wf.Interpreter(definition, shipped_forms())


def _run(
    session: Session, actor: Actor, case: Case, event: wf.Event, expected_version: int, *,
    submitted: dict[str, Any], bump: bool = True,
) -> Case:
    definition = definition_for(session, case)
    try:
        outcome = _interpreter(definition).handle(state_of(case), event)
    except wf.WorkflowError as exc:
        raise InvalidState(f"{case.reference}: {exc}") from None
    if any(isinstance(e, wf.CaseClosed) for e in outcome.effects):
        # However a case closes (by hand, by a stage, by a manager), nothing owed is dropped.
        low.refuse_outstanding_actions(case, pending=_requested_actions(outcome))
    before = snapshot(case, CASE_FIELDS)
    if bump or any(not isinstance(e, _SIDE_EFFECTS) for e in outcome.effects):
        # Claim the case first: a writer who lost the race learns it here, as a conflict,
        # before anything else is written.
        low.touch(case, clock.now())
        low.flush_case(session, case, expected_version, submitted)
    _apply(session, actor, case, definition, outcome, completed_by=actor.user_id)
    low.flush_case(session, case, expected_version, submitted)
    old, new = changed_fields(before, snapshot(case, CASE_FIELDS))
    if new:
        record(session, actor, AuditAction.UPDATE, entity=case, case_id=case.id,
               before=old, after=new)
    return case


def _require_reason(reason: str, message: str) -> None:
    if not (reason or "").strip():
        raise InvalidRequest({"reason": message})


def _requested_actions(outcome: wf.Outcome) -> list[str]:
    return [e.title for e in outcome.effects if isinstance(e, wf.ActionRequested)]


def _apply(
    session: Session, actor: Actor, case: Case, definition: Definition, outcome: wf.Outcome,
    completed_by: int | None = None,
) -> None:
    rows = {(s.stage_key, s.sequence): s for s in case.stages}
    for effect in outcome.effects:
        if isinstance(effect, wf.StageOpened):
            agency_id, user_id, role = _resolve_worker(session, actor, case, effect.worker)
            stage = StageInstance(
                case=case, stage_key=effect.key, sequence=effect.sequence,
                status=StageStatus.ACTIVE, form_key=effect.form, assignee_user_id=user_id,
                assignee_agency_id=agency_id, assignee_role=role, opened_at=effect.opened_at,
                warn_at=effect.warn_at, due_at=effect.due_at,
            )
            session.add(stage)
            session.flush()
            rows[(effect.key, effect.sequence)] = stage
            record(session, actor, AuditAction.CREATE, entity=stage, case_id=case.id,
                   after=snapshot(stage, STAGE_FIELDS))
        elif isinstance(effect, wf.StageCompleted):
            stage = rows[(effect.key, effect.sequence)]
            stage.status = StageStatus.COMPLETED
            stage.form_data = dict(effect.answers)
            stage.completed_at = effect.at
            stage.completed_by_id = completed_by
            record(session, actor, AuditAction.UPDATE, entity=stage, case_id=case.id,
                   before={"status": StageStatus.ACTIVE},
                   after={"status": StageStatus.COMPLETED, "form_data": dict(effect.answers)})
        elif isinstance(effect, wf.StageCancelled):
            stage = rows[(effect.key, effect.sequence)]
            stage.status = StageStatus.CANCELLED
            record(session, actor, AuditAction.UPDATE, entity=stage, case_id=case.id,
                   before={"status": StageStatus.ACTIVE},
                   after={"status": StageStatus.CANCELLED}, detail={"reason": effect.reason})
        elif isinstance(effect, wf.StageRescheduled):
            stage = rows[(effect.key, effect.sequence)]
            before = {"due_at": stage.due_at, "warn_at": stage.warn_at}
            stage.due_at, stage.warn_at = effect.due_at, effect.warn_at
            record(session, actor, AuditAction.UPDATE, entity=stage, case_id=case.id,
                   before=before, after={"due_at": effect.due_at, "warn_at": effect.warn_at})
        elif isinstance(effect, wf.ActionRequested):
            agency_id, user_id, _ = _resolve_worker(session, actor, case, effect.to)
            stage = rows.get((effect.stage, effect.sequence))
            session.flush()
            low.assign_action(
                session, actor, case_id=case.id, title=effect.title,
                detail=_missing_agency_note(session, effect.to),
                assigned_agency_id=agency_id, assigned_user_id=user_id,
                due_at=effect.due_at, stage_instance_id=stage.id if stage else None,
            )
        elif isinstance(effect, wf.Notification):
            enqueue(session, kind=EffectKind.EMAIL,
                    idempotency_key=f"notify:{case.id}:{effect.stage}:{effect.sequence}:"
                                    f"{effect.reason}:{_worker_key(effect.to)}",
                    payload={"template": effect.template, "case_id": case.id,
                             "stage": effect.stage, "sequence": effect.sequence,
                             "recipient": _worker_payload(effect.to)},
                    case_id=case.id)
        elif isinstance(effect, wf.Referral):
            key = f"refer:{case.id}:{effect.stage}:{effect.sequence}:{effect.service}"
            enqueue(session, kind=EffectKind.REFERRAL, idempotency_key=key,
                    payload={"service": effect.service, "case_id": case.id,
                             "stage": effect.stage, "sequence": effect.sequence,
                             "reason": effect.reason},
                    case_id=case.id)
            queue_webhooks(session, WebhookEvent.CASE_REFERRED,
                           agencies=Agency.agency_type == effect.service, key=key,
                           payload={"case_id": case.id, "service": effect.service},
                           case_id=case.id)
        elif isinstance(effect, wf.LetterRequested):
            _queue_letters(session, case, effect)
        elif isinstance(effect, wf.RiskChanged):
            case.risk_level = RiskLevel(effect.new)
        elif isinstance(effect, wf.CaseClosed):
            case.status, case.closed_at = CaseStatus.CLOSED, effect.at
            case.closure_reason = effect.reason[:200]
        elif isinstance(effect, wf.CaseReopened):
            case.status, case.closed_at, case.closure_reason = CaseStatus.OPEN, None, None
            record(session, actor, AuditAction.UPDATE, entity=case, case_id=case.id,
                   detail={"reopened": effect.reason})
        elif isinstance(effect, wf.CasePaused):
            case.status = CaseStatus.PAUSED
            record_pause(session, case.id, clock.now())
            record(session, actor, AuditAction.UPDATE, entity=case, case_id=case.id,
                   detail={"paused": effect.reason})
        elif isinstance(effect, wf.CaseResumed):
            case.status = CaseStatus.OPEN
            record_resume(session, case.id, clock.now())
        elif isinstance(effect, wf.OverrideRecorded):
            record(session, actor, AuditAction.UPDATE, entity=case, case_id=case.id,
                   detail={"override": effect.reason, "to": list(effect.to)})
    case.workflow_state = outcome.state.variables()
    session.flush()


def _queue_letters(session: Session, case: Case, effect: wf.LetterRequested) -> None:
    """One LETTER row per person on the case in the role written to (none if nobody is):
    ids and the template only, the engine reads the name and address when it renders."""
    people = session.scalars(
        select(CaseParticipant.person_id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.role == ParticipantRole(effect.to),
            CaseParticipant.person_id.is_not(None))
        .order_by(CaseParticipant.id)
    ).all()
    for person_id in dict.fromkeys(people):
        enqueue(session, kind=EffectKind.LETTER,
                idempotency_key=f"letter:{case.id}:{effect.stage}:{effect.sequence}:"
                                f"{effect.template}:{person_id}",
                payload={"case_id": case.id, "person_id": person_id,
                         "template": effect.template},
                case_id=case.id)


def _resolve_worker(
    session: Session, actor: Actor, case: Case, worker: Worker
) -> tuple[int, int | None, str | None]:
    """Who a stage or action goes to: (agency, user or None, role or None)."""
    if worker.kind is WorkerKind.LEAD:
        if case.lead_officer_id is not None:
            lead = session.get(User, case.lead_officer_id)
            return (lead.agency_id if lead else case.owning_agency_id), case.lead_officer_id, None
        return case.owning_agency_id, None, None
    if worker.kind is WorkerKind.OWNER:
        return case.owning_agency_id, None, None
    if worker.kind is WorkerKind.ROLE:
        return case.owning_agency_id, None, worker.role
    agency = _agency_of_type(session, case, str(worker.agency_type))
    if agency is None:
        # The partnership has no agency of that type: the work stays with the owning agency
        # rather than blocking the practitioner's submission (see _missing_agency_note).
        return case.owning_agency_id, None, worker.role
    low.ensure_shared(session, actor, case, agency.id)
    return agency.id, None, worker.role


def _missing_agency_note(session: Session, worker: Worker) -> str | None:
    if worker.kind is not WorkerKind.AGENCY_TYPE:
        return None
    exists = session.scalar(select(Agency.id).where(
        Agency.agency_type == worker.agency_type, Agency.active.is_(True)).limit(1))
    if exists is not None:
        return None
    kind = str(worker.agency_type).replace("_", " ")
    return (f"The partnership has no {kind} agency on Casebridge, so this stays with the "
            f"owning agency: pass it to the {kind} contact, or ask an administrator to add "
            "the agency.")


def _agency_of_type(session: Session, case: Case, agency_type: str) -> Agency | None:
    """Prefer an agency of that type already working the case, else the partnership's first."""
    on_case = [case.owning_agency_id, *(s.agency_id for s in case.shares)]
    candidates = session.scalars(
        select(Agency).where(Agency.agency_type == agency_type, Agency.active.is_(True))
        .order_by(Agency.id)
    ).all()
    for agency in candidates:
        if agency.id in on_case:
            return agency
    return candidates[0] if candidates else None


def _check_opening(
    session: Session, actor: Actor, definition: Definition, title: str, owning_agency_id: int,
    lead_officer_id: int | None, share_with: Sequence[int],
) -> dict[str, str]:
    errors = low.opening_problems(session, title, owning_agency_id, lead_officer_id, share_with)
    agreement = agreement_in_force(session)
    for agency_id in share_with:
        agency = session.get(Agency, agency_id)
        if (agency is not None and agency_id != owning_agency_id
                and not agreement.allows(definition.key, agency.agency_type)):
            errors["share_with"] = (
                f"The information sharing agreement does not allow "
                f"{agency.agency_type.value.replace('_', ' ')} agencies to see "
                f"{definition.name} cases: {agency.name} cannot be given this case")
    if actor.user_id is not None and not errors:
        user = session.get(User, actor.user_id)
        roles = {r.value for r in user.roles} if user else set()
        if definition.opened_by_roles and not roles & set(definition.opened_by_roles):
            errors["case_type"] = (f"Your roles cannot open a {definition.name} case "
                                   f"(it needs one of: {', '.join(definition.opened_by_roles)})")
        owner = session.get(Agency, owning_agency_id)
        if (definition.opened_by_agency_types and owner is not None
                and owner.agency_type.value not in definition.opened_by_agency_types):
            errors["owning_agency"] = (
                f"A {definition.name} case is owned by one of: "
                + ", ".join(t.replace("_", " ") for t in definition.opened_by_agency_types)
            )
    return errors


def _worker_key(worker: Worker) -> str:
    return ":".join(p for p in (worker.kind.value, worker.role, worker.agency_type) if p)


def _worker_payload(worker: Worker) -> dict[str, Any]:
    return {"kind": worker.kind.value, "role": worker.role, "agency_type": worker.agency_type}


def next_review_times(case: Case) -> dict[str, datetime]:
    return dict(state_of(case).next_reviews)

"""One action: anyone who may see its case reads it; the agency it is for (and the agency
that owns the case) accept it, decline it with a reason, record progress and complete it
with an outcome. Completing or declining the last action of a stage that waits for its
actions lets that stage move on (storage.cases.workflow.respond_to_action)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.access import can_see_case
from storage.accounts.models import Role, User
from storage.audit.models import AuditAction, AuditEntry
from storage.audit.services import record
from storage.cases.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Case,
    StageInstance,
    StageStatus,
)
from storage.cases.services import OUTSTANDING_ACTIONS, record_action_progress
from storage.cases.workflow import definition_for, respond_to_action
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState, ServiceError
from web.auth import current_actor, current_user
from web.database import session
from web.errors import refuse

blueprint = Blueprint("actions", __name__)

# What each form is called on the page, and which service field its text is.
FIELDS = ("reason", "progress", "outcome")
SERVICE_FIELDS = {"reason": "reason", "body": "progress", "outcome": "outcome"}
STATUS_TAGS = {
    ActionStatus.OPEN: "govuk-tag--blue", ActionStatus.ACCEPTED: "govuk-tag--turquoise",
    ActionStatus.OVERDUE: "govuk-tag--red", ActionStatus.DONE: "govuk-tag--green",
    ActionStatus.DECLINED: "govuk-tag--grey",
}


@dataclass
class Event:
    """One line of the action's history."""

    at: datetime
    label: str
    by: str | None
    text: str | None = None
    seq: int = 0  # the audit chain's order, for events in the same instant


@blueprint.route("/actions/<int:action_id>", methods=["GET", "POST"])
def show(action_id: int) -> Any:
    db, user = session(), current_user()
    action = _visible_action(db, user, action_id)
    if request.method == "POST":
        if not may_act(user, action):
            abort(403)
        return _respond(db, user, action)
    record(db, current_actor(), AuditAction.VIEW, entity=action, case_id=action.case_id)
    return _render(db, user, action)


def may_act(user: User, action: Action) -> bool:
    """People of the agency the action is for, or of the agency that owns the case (not
    someone who only audits)."""
    if not any(role is not Role.AUDITOR for role in user.roles):
        return False
    return user.agency_id in (action.assigned_agency_id, action.case.owning_agency_id)


def _visible_action(db: Session, user: User, action_id: int) -> Action:
    action = db.scalar(
        select(Action).where(Action.id == action_id).options(
            joinedload(Action.case).selectinload(Case.shares),
            joinedload(Action.case).joinedload(Case.owning_agency),
            joinedload(Action.assigned_agency),
            joinedload(Action.assigned_user),
            selectinload(Action.updates).joinedload(ActionUpdate.author),
        )
    )
    if action is None:
        abort(404)
    if not can_see_case(db, user, action.case):
        # a case the user may not see is not there for them; the attempt is audited
        refuse(404, entity=action, case_id=action.case_id)
    return action


def _respond(db: Session, user: User, action: Action) -> Any:
    intent = request.form.get("intent", "")
    typed = {name: request.form.get(name, "") for name in FIELDS}
    errors: dict[str, str] = {}
    problem: str | None = None
    actor = current_actor()
    try:
        if intent == "accept":
            respond_to_action(db, actor, action_id=action.id, status=ActionStatus.ACCEPTED)
            message = "You accepted this action"
        elif intent == "decline":
            if not typed["reason"].strip():
                errors["reason"] = "Say why your agency is declining this action"
            else:
                respond_to_action(db, actor, action_id=action.id, status=ActionStatus.DECLINED,
                                  reason=typed["reason"])
                message = "You declined this action"
        elif intent == "progress":
            record_action_progress(db, actor, action_id=action.id, body=typed["progress"])
            message = "Your progress note has been saved"
        elif intent == "complete":
            if not typed["outcome"].strip():
                errors["outcome"] = "Describe the outcome: what was done"
            else:
                respond_to_action(db, actor, action_id=action.id, status=ActionStatus.DONE,
                                  outcome=typed["outcome"].strip())
                message = "The action is done"
        else:
            abort(400)
    except InvalidRequest as invalid:
        errors.update({SERVICE_FIELDS.get(k, k): v for k, v in invalid.field_errors.items()})
    except (InvalidState, ConcurrencyConflict) as refused:
        problem = str(refused)
    if errors or problem:
        # Nothing of the attempt is kept (the request rolls back); show the action as it is.
        db.rollback()
        action = _visible_action(db, user, action.id)
        return _render(db, user, action, typed=typed, errors=errors, problem=problem,
                       intent=intent), (400 if errors else 409)
    flash(message, "success")
    stage = db.get(StageInstance, action.stage_instance_id) if action.stage_instance_id else None
    if (stage is not None and intent in ("decline", "complete")
            and stage.status is StageStatus.COMPLETED):
        flash(f"“{_stage_name(db, action.case, stage)}” is complete: every action it was "
              "waiting for is settled", "success")
    return redirect(url_for("actions.show", action_id=action.id), 303)


def _render(db: Session, user: User, action: Action, *, typed: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, problem: str | None = None,
            intent: str | None = None) -> str:
    errors = errors or {}
    error_list = [{"text": message, "href": f"#{field}"} for field, message in errors.items()]
    if problem:
        error_list.append({"text": problem})
    stage = db.get(StageInstance, action.stage_instance_id) if action.stage_instance_id else None
    outstanding = action.status in OUTSTANDING_ACTIONS
    return render_template(
        "actions/show.html",
        action=action,
        case=action.case,
        stage=stage,
        stage_name=_stage_name(db, action.case, stage) if stage else None,
        history=_history(db, action),
        may_act=may_act(user, action),
        may_take=(outstanding and action.assigned_user_id is None
                  and user.agency_id == action.assigned_agency_id
                  and any(role is not Role.AUDITOR for role in user.roles)),
        can_accept=action.status in (ActionStatus.OPEN, ActionStatus.OVERDUE),
        outstanding=outstanding,
        typed=typed or {},
        errors=errors or ({"problem": problem} if problem else {}),
        error_list=error_list,
        problem=problem,
        intent=intent,
        status_tag=STATUS_TAGS[action.status],
    )


def _stage_name(db: Session, case: Case, stage: StageInstance) -> str:
    try:
        definition = definition_for(db, case)
    except ServiceError:
        definition = None
    if definition is not None and stage.stage_key in definition.stages:
        return definition.stages[stage.stage_key].name
    return stage.stage_key.replace("_", " ").capitalize()


def _history(db: Session, action: Action) -> list[Event]:
    """Progress notes, and from the audit chain the action's creation and every change of
    status or of who has it: newest first."""
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == Action.__tablename__,
               AuditEntry.entity_id == str(action.id),
               AuditEntry.action.in_((AuditAction.CREATE, AuditAction.UPDATE)))
        .order_by(AuditEntry.seq)
    ).all()
    changes = [(entry, json.loads(entry.changes or "{}")) for entry in entries]
    people_ids = {e.actor_user_id for e in entries if e.actor_user_id is not None}
    people_ids |= {action.created_by_id} - {None}
    people_ids |= {c.get("after", {}).get("assigned_user_id") for _, c in changes} - {None}
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_(people_ids)))
              } if people_ids else {}

    def who(user_id: int | None) -> str:
        person = people.get(user_id) if user_id is not None else None
        if person is None:
            return "Casebridge" if user_id is None else "a former user"
        return f"{person.display_name} ({person.agency.name})"

    events: list[Event] = []
    for entry, change in changes:
        after = change.get("after", {})
        by = who(entry.actor_user_id)
        if entry.action is AuditAction.CREATE:
            events.append(Event(entry.occurred_at, "Action set", by,
                                f"For {action.assigned_agency.name}", seq=entry.seq))
            continue
        status = after.get("status")
        if status == ActionStatus.ACCEPTED:
            events.append(Event(entry.occurred_at, "Accepted", by, seq=entry.seq))
        elif status == ActionStatus.DECLINED:
            events.append(Event(entry.occurred_at, "Declined", by, after.get("decline_reason"),
                                seq=entry.seq))
        elif status == ActionStatus.DONE:
            events.append(Event(entry.occurred_at, "Done", by, after.get("outcome"), seq=entry.seq))
        elif status == ActionStatus.OVERDUE:
            events.append(Event(entry.occurred_at, "Past its due date", by, seq=entry.seq))
        if after.get("assigned_user_id") is not None:
            taker = after["assigned_user_id"]
            label = "Taken" if taker == entry.actor_user_id else f"Given to {who(taker)}"
            events.append(Event(entry.occurred_at, label, by, seq=entry.seq))
    # Records loaded in bulk (an import, the demo) have no entries of their own.
    if not any(entry.action is AuditAction.CREATE for entry in entries):
        events.append(Event(action.created_at, "Action set", who(action.created_by_id),
                            f"For {action.assigned_agency.name}", seq=-2))
    if action.completed_at is not None and not any(
        change.get("after", {}).get("status") == ActionStatus.DONE for _, change in changes
    ):
        events.append(Event(action.completed_at, "Done", None, action.outcome, seq=-1))
    update_seqs = dict(db.execute(
        select(AuditEntry.entity_id, AuditEntry.seq)
        .where(AuditEntry.entity_type == ActionUpdate.__tablename__,
               AuditEntry.entity_id.in_([str(u.id) for u in action.updates]),
               AuditEntry.action == AuditAction.CREATE)
    ).all()) if action.updates else {}
    for update in action.updates:
        author = (f"{update.author.display_name} ({update.author.agency.name})"
                  if update.author else "Casebridge")
        events.append(Event(update.created_at, "Progress", author, update.body,
                            seq=update_seqs.get(str(update.id), 0)))
    return sorted(events, key=lambda e: (e.at, e.seq), reverse=True)

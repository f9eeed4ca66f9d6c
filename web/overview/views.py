"""The partnership overview: what the shared record holds, in totals only (no names,
addresses or case details)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from casebridge import clock
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.audit.models import AuditChainHead
from storage.cases.models import Action, Case, StageInstance, StageStatus
from storage.cases.services import OUTSTANDING_ACTIONS
from storage.outbox.models import OutboxMessage, OutboxStatus
from web import navigation
from web.database import session

blueprint = Blueprint("overview", __name__)
navigation.add("Overview", "overview.index")


@blueprint.get("/overview")
def index():  # type: ignore[no-untyped-def]
    db, now = session(), clock.now()
    agencies = db.execute(
        select(Agency.name, Agency.agency_type, func.count(User.id))
        .outerjoin(User, User.agency_id == Agency.id)
        .group_by(Agency.id, Agency.name, Agency.agency_type)
        .order_by(Agency.name)
    ).all()
    cases_by_type = db.execute(
        select(Case.case_type, Case.status, func.count())
        .group_by(Case.case_type, Case.status)
        .order_by(Case.case_type, Case.status)
    ).all()
    overdue_stages = db.scalar(
        select(func.count()).where(
            StageInstance.status == StageStatus.ACTIVE, StageInstance.due_at < now
        )
    )
    overdue_actions = db.scalar(
        select(func.count()).where(Action.status.in_(OUTSTANDING_ACTIONS), Action.due_at < now)
    )
    pending_effects = db.scalar(
        select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    head = db.get(AuditChainHead, 1)
    return render_template(
        "overview/index.html",
        agencies=agencies,
        cases_by_type=cases_by_type,
        overdue_stages=overdue_stages,
        overdue_actions=overdue_actions,
        pending_effects=pending_effects,
        audit_entries=head.last_seq if head else 0,
    )

"""E-mails of the minimum standards: one escalation (a warning, a breach, a further level of
its ladder), and the daily digest a recipient gets instead of one e-mail per escalation.

Composed at send time like every e-mail (`workflows.engine.effects`): nothing is sent if the
breach was remedied, the case paused or closed, or its clock started again since it was
recorded. Templates get the case reference, the case type, the standard's name, the level
and the dates: never a person's name, an address or the case's free text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.settings import Settings
from storage.agencies.models import Agency
from storage.cases.models import Case, CaseStatus
from storage.outbox.models import OutboxMessage
from storage.standards.escalate import in_force, level_name, still_holds
from storage.standards.models import DigestItem, StandardEscalation
from workflows.engine.effects import (
    Outgoing,
    Undeliverable,
    _link,
    _unique,
    _user_address,
    _when,
    agency_addresses,
    case_context,
    get_row,
    payload_id,
)


def compose_standard_escalation(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    escalation = get_row(session, StandardEscalation,
                         payload_id(message.payload, "standard_escalation_id"))
    if escalation is None:
        raise Undeliverable(
            f"standard escalation {message.payload.get('standard_escalation_id')} does not exist")
    case = get_row(session, Case, escalation.case_id)
    assert case is not None  # a foreign key
    if case.status is not CaseStatus.OPEN or not still_holds(session, escalation, clock.now()):
        return None
    context = {**case_context(session, case, settings), **_escalation_context(
        session, escalation, settings)}
    context |= {"link": _link(settings, f"/cases/{case.reference}"),
                "link_text": f"Open case {case.reference}"}
    recipients = [a for user_id in escalation.recipient_user_ids
                  for a in _user_address(session, user_id)]
    if escalation.notify_agency_id is not None:
        agency = get_row(session, Agency, escalation.notify_agency_id)
        recipients += agency_addresses(session, agency) if agency is not None else []
    if not recipients:
        raise Undeliverable(f"standard escalation {escalation.id} has no active recipient "
                            "with an address")
    return Outgoing(str(message.payload.get("template") or "standard_escalation"), context,
                    _unique(recipients))


def compose_digest(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    """One recipient's digest of a day: the escalations the digest flow gave that day."""
    user_id = payload_id(message.payload, "digest_user_id")
    try:
        day = date.fromisoformat(str(message.payload.get("digest_on")))
    except ValueError:
        raise Undeliverable("the payload has no valid digest_on") from None
    recipients = _user_address(session, user_id)
    if not recipients:
        return None  # the user left: nothing to send
    rows = session.execute(
        select(StandardEscalation, Case)
        .join(DigestItem, DigestItem.escalation_id == StandardEscalation.id)
        .join(Case, Case.id == StandardEscalation.case_id)
        .where(DigestItem.user_id == user_id, DigestItem.digest_on == day)
        .order_by(StandardEscalation.level.desc(), Case.reference)).all()
    items = []
    for escalation, case in rows:
        items.append({**case_context(session, case, settings),
                      **_escalation_context(session, escalation, settings),
                      "state": _state(session, escalation, case),
                      "link": _link(settings, f"/cases/{case.reference}")})
    if not items:
        return None
    context: dict[str, Any] = {"items": items, "day": f"{day:%A} {day.day} {day:%B %Y}",
                               "link": _link(settings, "/admin/rules"),
                               "link_text": "See the minimum standards"}
    return Outgoing("escalation_digest", context, recipients)


def _escalation_context(session: Session, escalation: StandardEscalation,
                        settings: Settings) -> dict[str, Any]:
    found = in_force(session)
    standard = found[1].standards.get(escalation.standard) if found else None
    context: dict[str, Any] = {
        "standard_name": standard.name if standard else escalation.standard.replace("_", " "),
        "level": escalation.level, "level_name": level_name(escalation.level),
        "due": _when(escalation.due_at, settings), "agency_name": None,
    }
    if escalation.action_id is not None:
        from storage.cases.models import Action

        action = get_row(session, Action, escalation.action_id)
        agency = get_row(session, Agency, action.assigned_agency_id) if action else None
        # An action's title is free text (it may name someone): the e-mail names the agency.
        context["agency_name"] = agency.name if agency else "an agency"
    return context


def _state(session: Session, escalation: StandardEscalation, case: Case) -> str:
    if case.status is not CaseStatus.OPEN:
        return f"the case is {case.status.value}"
    return "still open" if still_holds(session, escalation, clock.now()) else "since remedied"

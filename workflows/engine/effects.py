"""What each kind of outbox row means: load what the payload names, decide who receives it,
and give the template only what those recipients may see.

Payloads hold ids and template names; addresses are looked up at send time, so a changed
contact address or a deactivated account is honoured. Templates get the case reference,
the case type and stage names and dates: never a person's name, address or the case's
free text, which stay behind sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge.settings import Settings
from storage.accounts.models import User, UserRole
from storage.agencies.models import Agency, AgencyType
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseStatus,
    StageInstance,
    StageStatus,
)
from storage.errors import NotFound
from storage.escalations.models import Escalation
from storage.outbox.models import OutboxMessage
from storage.workflows.services import definition_of, version_row
from workflows.model import Definition


class Undeliverable(Exception):
    """The row cannot be carried out as it stands (no such case, no one to tell): a person
    must look, so it fails at once instead of retrying."""


@dataclass(frozen=True)
class Outgoing:
    """One e-mail to send for a row: template, its context and the envelope recipients."""

    template: str
    context: dict[str, Any]
    recipients: list[str]


class Delivery:
    """A row's effect that is not an e-mail (a partner webhook, a letter). The dispatcher
    calls `send` with no transaction open (a slow partner never holds database locks), then
    `record` in the transaction that marks the row done, so what it writes is committed
    exactly when the row is done, once."""

    def send(self) -> None:
        """What happens outside the database; raise to retry (or Undeliverable to stop)."""

    def record(self, session: Session) -> None:
        """What must be committed with the done mark (flush, never commit)."""


# None: nothing to send any more (e.g. the action was settled first); the row is done.
Composer = Callable[[Session, OutboxMessage, Settings], Outgoing | Delivery | None]


def compose_agency_notice(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    """NOTIFY_AGENCY, queued by assign_action: tell the agency that owes an action."""
    action = get_row(session, Action, payload_id(message.payload, "action_id"))
    if action is None:
        raise Undeliverable(f"action {message.payload.get('action_id')} does not exist")
    if action.status in (ActionStatus.DONE, ActionStatus.DECLINED):
        return None
    agency = get_row(session, Agency, action.assigned_agency_id)
    assert agency is not None  # a foreign key
    recipients = []
    if action.assigned_user_id is not None:
        recipients += _user_address(session, action.assigned_user_id)
    recipients += agency_addresses(session, agency)
    if not recipients:
        raise Undeliverable(f"agency {agency.id} has no contact address and no active users")
    case = get_row(session, Case, action.case_id)
    assert case is not None
    context = {
        **case_context(session, case, settings),
        "agency_name": agency.name,
        "due": _when(action.due_at, settings),
        "link": _link(settings, f"/actions/{action.id}"),
        "link_text": "See the action",
    }
    return Outgoing(str(message.payload.get("template") or "action_assigned"), context,
                    _unique(recipients))


def compose_email(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    """EMAIL: a template to a recipient given as a user id, an address, or a worker of the
    case (lead, owner, role, agency type) as the workflow interpreter writes it."""
    payload = message.payload
    template = payload.get("template")
    if not template:
        raise Undeliverable("the payload names no template")
    if payload.get("escalation_id") is not None:
        return compose_escalation(session, message, settings)
    if payload.get("password_reset_id") is not None:
        from workflows.engine.account_mail import compose_password_reset  # accounts

        return compose_password_reset(session, message, settings)
    if payload.get("standard_escalation_id") is not None or payload.get("digest_user_id"):
        from workflows.engine import standards_mail  # minimum standards (rules/standards)

        if payload.get("digest_user_id"):
            return standards_mail.compose_digest(session, message, settings)
        return standards_mail.compose_standard_escalation(session, message, settings)
    case_id = payload.get("case_id", message.case_id)
    case = get_row(session, Case, case_id) if case_id is not None else None
    if case_id is not None and case is None:
        raise Undeliverable(f"case {case_id} does not exist")
    recipients = _recipients(session, case, payload.get("recipient") or {})
    if not recipients:
        raise Undeliverable("no active recipient with an address")
    context: dict[str, Any] = {"link": _link(settings, "/"), "link_text": "Open Casebridge"}
    if case is not None:
        context |= case_context(session, case, settings)
        context |= _stage_context(session, case, payload, settings)
        context |= {"link": _link(settings, f"/cases/{case.reference}"),
                    "link_text": f"Open case {case.reference}"}
    if payload.get("detection_id") is not None:  # a detector's hit (rules/detectors)
        from workflows.engine.detections import detection_context

        context |= detection_context(session, payload, settings)
    return Outgoing(str(template), context, _unique(recipients))


def compose_escalation(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    """EMAIL queued by the deadline sweep: a warning, or a breach escalated to a manager.
    Nothing is sent if the work was done, the case paused or closed, or the deadline moved
    since (a moved deadline gets an escalation of its own)."""
    escalation = get_row(session, Escalation, payload_id(message.payload, "escalation_id"))
    if escalation is None:
        raise Undeliverable(f"escalation {message.payload.get('escalation_id')} does not exist")
    case = get_row(session, Case, escalation.case_id)
    assert case is not None  # a foreign key
    if case.status is not CaseStatus.OPEN:
        return None
    context: dict[str, Any] = {**case_context(session, case, settings),
                               "level": escalation.level.value}
    if escalation.stage_instance_id is not None:
        stage = get_row(session, StageInstance, escalation.stage_instance_id)
        if (stage is None or stage.status is not StageStatus.ACTIVE
                or stage.due_at != escalation.due_at):
            return None
        context |= _stage_context(session, case, {"stage": stage.stage_key,
                                                  "sequence": stage.sequence}, settings)
        context |= {"what": "stage", "agency_name": None,
                    "link": _link(settings, f"/cases/{case.reference}"),
                    "link_text": f"Open case {case.reference}"}
    else:
        action = get_row(session, Action, escalation.action_id)
        if (action is None or action.status in (ActionStatus.DONE, ActionStatus.DECLINED)
                or action.due_at != escalation.due_at):
            return None
        agency = get_row(session, Agency, action.assigned_agency_id)
        # An action's title is free text (it may name someone): the e-mail names the agency.
        context |= {"what": "action", "stage_name": None,
                    "agency_name": agency.name if agency else "an agency",
                    "link": _link(settings, f"/actions/{action.id}"),
                    "link_text": "See the action"}
    context["due"] = _when(escalation.due_at, settings)
    recipients = [a for user_id in escalation.recipient_user_ids
                  for a in _user_address(session, user_id)]
    if escalation.notify_agency_id is not None:
        agency = get_row(session, Agency, escalation.notify_agency_id)
        recipients += agency_addresses(session, agency) if agency is not None else []
    if not recipients:
        raise Undeliverable(f"escalation {escalation.id} has no active recipient with an address")
    return Outgoing(str(message.payload["template"]), context, _unique(recipients))


def compose_referral(
    session: Session, message: OutboxMessage, settings: Settings
) -> Outgoing | None:
    """REFERRAL, queued when a stage refers the victim to a service (e.g. victim support,
    a domestic abuse service): every active agency of that type is told which case, why (the
    case type's own words, not the victim's) and whom to contact for it."""
    case = get_row(session, Case, payload_id(message.payload, "case_id"))
    if case is None:
        raise Undeliverable(f"case {message.payload.get('case_id')} does not exist")
    service = str(message.payload.get("service") or "")
    try:
        agency_type = AgencyType(service)
    except ValueError:
        raise Undeliverable(f"no such kind of agency to refer to: {service!r}") from None
    services = session.scalars(select(Agency).where(
        Agency.agency_type == agency_type, Agency.active.is_(True)).order_by(Agency.id)).all()
    recipients = [address for agency in services for address in agency_addresses(session, agency)]
    if not recipients:
        raise Undeliverable(f"no active {service} agency with an address to refer to")
    owner = get_row(session, Agency, case.owning_agency_id)
    context = {
        **case_context(session, case, settings),
        "service_names": ", ".join(agency.name for agency in services),
        "reason": str(message.payload.get("reason") or ""),
        "owner_name": owner.name if owner else "the agency that owns the case",
        "owner_contact": (owner.contact_email or owner.contact_phone or "") if owner else "",
        "link": _link(settings, f"/cases/{case.reference}"),
        "link_text": f"Open case {case.reference}",
    }
    return Outgoing("referral", context, _unique(recipients))


# --- recipients ---------------------------------------------------------------------------


def agency_addresses(session: Session, agency: Agency, role: str | None = None) -> list[str]:
    """An agency's shared contact address if it has one (its own triage decides who acts),
    else its active users; with a role, the active users holding it (contact as fallback)."""
    if not agency.active:
        return []
    if role is None and agency.contact_email:
        return [agency.contact_email]
    memo = _memo(session)
    key = ("agency_users", agency.id, role)
    if key not in memo:
        users = select(User.email).where(User.agency_id == agency.id, User.active.is_(True))
        if role is not None:
            users = users.join(UserRole, UserRole.user_id == User.id).where(
                UserRole.role == role)
        memo[key] = list(session.scalars(users.order_by(User.id)))
    addresses = list(memo[key])
    if not addresses and agency.contact_email:
        return [agency.contact_email]
    return addresses


def _user_address(session: Session, user_id: int) -> list[str]:
    user = get_row(session, User, user_id)
    return [user.email] if user is not None and user.active else []


def _recipients(session: Session, case: Case | None, recipient: dict[str, Any]) -> list[str]:
    if recipient.get("user_id") is not None:
        return _user_address(session, int(recipient["user_id"]))
    if recipient.get("address"):
        return [str(recipient["address"])]
    kind = recipient.get("kind")
    if kind is None:
        raise Undeliverable("the payload names no recipient")
    if case is None:
        raise Undeliverable(f"recipient {kind!r} needs a case")
    owner = get_row(session, Agency, case.owning_agency_id)
    assert owner is not None
    role = recipient.get("role")
    if kind == "lead":
        if case.lead_officer_id is not None and (found := _user_address(session,
                                                                         case.lead_officer_id)):
            return found
        return agency_addresses(session, owner)  # no lead yet: the owning agency's queue
    if kind == "owner":
        return agency_addresses(session, owner)
    if kind == "role":
        return agency_addresses(session, owner, role)
    if kind == "agency_type":
        ids = [case.owning_agency_id, *(share.agency_id for share in case.shares)]
        agencies = session.scalars(select(Agency).where(
            Agency.id.in_(ids), Agency.agency_type == recipient.get("agency_type"))
            .order_by(Agency.id))
        return [a for agency in agencies for a in agency_addresses(session, agency, role)]
    raise Undeliverable(f"unknown recipient kind {kind!r}")


# --- what the templates may show ----------------------------------------------------------


def case_context(session: Session, case: Case, settings: Settings) -> dict[str, Any]:
    definition = _definition(session, case)
    return {"case_reference": case.reference,
            "case_type_name": definition.name if definition else case.case_type}


def _stage_context(
    session: Session, case: Case, payload: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    key = payload.get("stage")
    if not key:
        return {"stage_name": "", "due": None}
    sequence = int(payload.get("sequence") or 1)
    memo = _memo(session)
    memo_key = ("stage_due", case.id, key, sequence)
    if memo_key not in memo:
        memo[memo_key] = session.scalar(select(StageInstance.due_at).where(
            StageInstance.case_id == case.id, StageInstance.stage_key == key,
            StageInstance.sequence == sequence))
    due = memo[memo_key]
    name = str(key).replace("_", " ")
    definition = _definition(session, case)
    if definition is not None and key in definition.stages:
        name = definition.stage(key).name
    return {"stage_name": name, "due": _when(due, settings) if due else None}


def _definition(session: Session, case: Case) -> Definition | None:
    memo = _memo(session)
    key = ("definition", case.case_type, case.definition_version)
    if key not in memo:
        try:
            memo[key] = definition_of(version_row(session, case.case_type,
                                                  case.definition_version))
        except NotFound:
            memo[key] = None
    return memo[key]


def get_row(session: Session, model: type[_M], ident: Any) -> _M | None:
    """session.get, keeping what it loads for the rest of the transaction: the identity map
    holds objects weakly, so without this every row of a chunk loaded its case and its
    recipient again."""
    found = session.get(model, ident)
    if found is not None:
        _memo(session).setdefault(("row", model, ident), found)
    return found


_M = TypeVar("_M")
_MEMO = "casebridge.engine.compose_memo"


def _memo(session: Session) -> dict[tuple[Any, ...], Any]:
    """What composing has read in this session's current transaction: the rows of a chunk
    share their case, its workflow version, stages and agencies, so each is read once per
    transaction rather than once per row. Like the identity map it is the transaction's
    view; a new transaction starts a new memo."""
    transaction = session.get_transaction()
    if transaction is None:
        return {}
    held = session.info.get(_MEMO)
    if held is None or held[0] is not transaction:
        held = session.info[_MEMO] = (transaction, {})
    return held[1]


def _when(at: datetime, settings: Settings) -> str:
    local = at.astimezone(ZoneInfo(settings.timezone))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M}"


def _link(settings: Settings, path: str) -> str | None:
    return f"{settings.public_url}{path}" if settings.public_url else None


def payload_id(payload: dict[str, Any], name: str) -> int:
    try:
        return int(payload[name])
    except (KeyError, TypeError, ValueError):
        raise Undeliverable(f"the payload has no valid {name}") from None


def _unique(addresses: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        seen.setdefault(address.strip().lower(), None)
    return list(seen)

"""Restricted cases and locked profiles: marking them, asking to be let in, and the owning
agency's managers deciding. Every step is audited and every e-mail goes through the outbox.
Flushes, never commits.

Approval grants the requesting *agency* (the unit the access model and sharing work in),
for a limited time (GRANT_DAYS unless the manager chooses), so a disclosure of a restricted
case always has a recorded reason, a decider and an end."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casebridge import clock
from storage.access import can_see_case, may_share_with, works_with_person
from storage.accounts.models import Role, User
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case
from storage.errors import AccessDenied, InvalidRequest, InvalidState, NotFound
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue
from storage.people.models import Person
from storage.restricted.models import AccessGrant, AccessRequest, AccessRequestStatus

GRANT_DAYS = 90
MAX_GRANT_DAYS = 365
REASON_MAX = 2000


def manages_case(user: User, case: Case) -> bool:
    """A manager of the owning agency (or a partnership admin) decides who else sees it."""
    if not user.active:
        return False
    if user.has_role(Role.PARTNERSHIP_ADMIN):
        return True
    return user.has_role(Role.MANAGER) and user.agency_id == case.owning_agency_id


def set_case_restricted(session: Session, actor: Actor, user: User, *, case_id: int,
                        restricted: bool, reason: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    if not manages_case(user, case):
        raise AccessDenied("Only a manager of the agency that owns the case can change this")
    reason = reason.strip()
    if not reason:
        raise InvalidRequest({"reason": "Say why the case is being "
                                        + ("restricted" if restricted else "opened up")})
    if case.restricted == restricted:
        return case
    case.restricted = restricted
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=case, case_id=case.id,
           before={"restricted": not restricted}, after={"restricted": restricted},
           detail={"reason": reason[:REASON_MAX]})
    return case


def may_lock_person(session: Session, user: User, person: Person) -> bool:
    if not user.active:
        return False
    if user.has_role(Role.PARTNERSHIP_ADMIN):
        return True
    return user.has_role(Role.MANAGER) and works_with_person(session, user, person)


def set_person_locked(session: Session, actor: Actor, user: User, *, person_id: int,
                      locked: bool, reason: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("Person", person_id)
    if not may_lock_person(session, user, person):
        raise AccessDenied("Only a manager of an agency working with this person can "
                           "lock or unlock their profile")
    reason = reason.strip()
    if not reason:
        raise InvalidRequest({"reason": "Say why the profile is being "
                                        + ("locked" if locked else "unlocked")})
    if person.restricted == locked:
        return person
    person.restricted = locked
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=person,
           before={"restricted": not locked}, after={"restricted": locked},
           detail={"reason": reason[:REASON_MAX]})
    return person


# --- requests -------------------------------------------------------------------------------


def latest_request(session: Session, user: User, case_id: int) -> AccessRequest | None:
    """The newest request by the user's agency for the case: what the restricted page shows."""
    return session.scalar(select(AccessRequest).where(
        AccessRequest.case_id == case_id,
        AccessRequest.requesting_agency_id == user.agency_id)
        .order_by(AccessRequest.requested_at.desc(), AccessRequest.id.desc()).limit(1))


def request_access(session: Session, actor: Actor, user: User, *, case_id: int,
                   reason: str) -> AccessRequest:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    if not case.restricted or can_see_case(session, user, case):
        raise InvalidState(f"You can already see {case.reference}")
    if not user.active or user.roles <= {Role.AUDITOR}:
        raise AccessDenied("Your account cannot ask for access to cases")
    reason = reason.strip()
    if not reason:
        raise InvalidRequest({"reason": "Say why your agency needs to see this case"})
    if len(reason) > REASON_MAX:
        raise InvalidRequest({"reason": f"Keep the reason to {REASON_MAX} characters or fewer"})
    if not may_share_with(session, case, user.agency.agency_type):
        raise InvalidRequest({"reason": "The information sharing agreement does not allow "
                                        "your agency to see cases of this type: contact the "
                                        "owning agency directly"})
    pending = latest_request(session, user, case.id)
    if pending is not None and pending.status is AccessRequestStatus.PENDING:
        raise InvalidState("Your agency has already asked for access to this case: the "
                           "owning agency's managers will decide")
    request = AccessRequest(case_id=case.id, requested_by_id=user.id,
                            requesting_agency_id=user.agency_id, reason=reason,
                            status=AccessRequestStatus.PENDING, requested_at=clock.now())
    session.add(request)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=request, case_id=case.id,
           after={"requesting_agency_id": user.agency_id, "reason": reason})
    enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"access-requested:{request.id}",
            payload={"template": "access_requested", "case_id": case.id,
                     "recipient": {"kind": "role", "role": Role.MANAGER.value}},
            case_id=case.id)
    return request


def decide(session: Session, actor: Actor, user: User, *, request_id: int, approve: bool,
           reason: str = "", days: int | None = None) -> AccessRequest:
    request = session.get(AccessRequest, request_id)
    if request is None:
        raise NotFound("Access request", request_id)
    if not manages_case(user, request.case):
        raise AccessDenied("Only a manager of the agency that owns the case can decide this")
    if request.status is not AccessRequestStatus.PENDING:
        raise InvalidState("This request has already been decided")
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not approve and not reason:
        errors["reason"] = "Say why the request is declined: the requester is told"
    if len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason to {REASON_MAX} characters or fewer"
    days = GRANT_DAYS if days is None else days
    if approve and not 1 <= days <= MAX_GRANT_DAYS:
        errors["days"] = f"Give access for between 1 and {MAX_GRANT_DAYS} days"
    if errors:
        raise InvalidRequest(errors)
    now = clock.now()
    request.status = AccessRequestStatus.APPROVED if approve else AccessRequestStatus.DECLINED
    request.decided_by_id = user.id
    request.decided_at = now
    request.decision_reason = reason or None
    if approve:
        grant = AccessGrant(case_id=request.case_id, agency_id=request.requesting_agency_id,
                            request_id=request.id, granted_by_id=user.id, granted_at=now,
                            expires_at=now + timedelta(days=days))
        session.add(grant)
        session.flush()
        record(session, actor, AuditAction.CREATE, entity=grant, case_id=request.case_id,
               after={"agency_id": grant.agency_id, "expires_at": grant.expires_at})
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=request, case_id=request.case_id,
           before={"status": AccessRequestStatus.PENDING.value},
           after={"status": request.status.value, "reason": reason or None})
    enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"access-decided:{request.id}",
            payload={"template": f"access_request_{request.status.value}",
                     "case_id": request.case_id,
                     "recipient": {"user_id": request.requested_by_id}},
            case_id=request.case_id)
    return request


def pending_for(session: Session, user: User) -> list[AccessRequest]:
    """The requests `user` decides: their agency's cases (every case, for a partnership
    admin), oldest first."""
    query = select(AccessRequest).where(AccessRequest.status == AccessRequestStatus.PENDING)
    if not user.has_role(Role.PARTNERSHIP_ADMIN):
        if not user.has_role(Role.MANAGER):
            return []
        query = query.join(Case, Case.id == AccessRequest.case_id).where(
            Case.owning_agency_id == user.agency_id)
    return list(session.scalars(query.order_by(AccessRequest.requested_at, AccessRequest.id)))


def pending_count(session: Session, user: User) -> int:
    if not (user.has_role(Role.PARTNERSHIP_ADMIN) or user.has_role(Role.MANAGER)):
        return 0
    query = select(func.count(AccessRequest.id)).where(
        AccessRequest.status == AccessRequestStatus.PENDING)
    if not user.has_role(Role.PARTNERSHIP_ADMIN):
        query = query.join(Case, Case.id == AccessRequest.case_id).where(
            Case.owning_agency_id == user.agency_id)
    return session.scalar(query) or 0


def requests_by(session: Session, user: User) -> list[AccessRequest]:
    """What the user's agency has asked for, newest first, with the outcomes."""
    return list(session.scalars(select(AccessRequest).where(
        AccessRequest.requesting_agency_id == user.agency_id)
        .order_by(AccessRequest.requested_at.desc(), AccessRequest.id.desc()).limit(100)))


def grants_for(session: Session, case_id: int) -> list[AccessGrant]:
    return list(session.scalars(select(AccessGrant).where(
        AccessGrant.case_id == case_id, AccessGrant.expires_at > clock.now())
        .order_by(AccessGrant.granted_at)))


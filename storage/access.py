"""Who may see which case: the one place the rule lives, so every list, search and page
applies the same one.

- The owning agency, and partnership-wide roles (partnership admin, auditor), see a case.
- A share lets another agency see it only where the information sharing agreement in force
  (rules/sharing, storage.sharing) allows that agency's type for the case's type.
- A restricted case is narrower: a share is no longer enough. Besides the owner, only an
  agency granted access (storage.restricted: a request the owner's manager approved, with an
  expiry) sees it, and still only where the agreement allows. Everyone else is told only that
  the case exists, who owns it and whom to contact (web/cases: the restricted page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session, object_session

from casebridge import clock
from forms.loader import shipped_forms
from forms.model import Field, FormDefinition
from rules.sharing import SharingAgreement
from storage.accounts.models import Role, User
from storage.agencies.models import AgencyType
from storage.cases.models import Case, CaseParticipant, CaseShare
from storage.people.models import Person
from storage.restricted.models import AccessGrant
from storage.sharing.services import agreement_in_force

PARTNERSHIP_WIDE = (Role.PARTNERSHIP_ADMIN, Role.AUDITOR)


def sees_everything(user: User) -> bool:
    return any(user.has_role(role) for role in PARTNERSHIP_WIDE)


def agreement_allows(agreement: SharingAgreement, agency_type: AgencyType) -> ColumnElement[bool]:
    """A WHERE clause on Case: the agreement lets `agency_type` see cases of its type."""
    if agency_type in agreement.otherwise:
        refused = agreement.case_types_refused(agency_type)
        return Case.case_type.not_in(refused) if refused else true()
    allowed = agreement.case_types_allowed(agency_type)
    return Case.case_type.in_(allowed) if allowed else false()


def visible_cases(user: User, *, session: Session | None = None) -> ColumnElement[bool]:
    """A WHERE clause on Case for what `user` may see."""
    if sees_everything(user):
        return true()
    session = session or object_session(user)
    if session is None:  # never guess: the shipped default may be wider than the one in force
        raise ValueError("visible_cases needs a user loaded in a session (or session=)")
    agreement = agreement_in_force(session)
    allowed = agreement_allows(agreement, user.agency.agency_type)
    shared = exists(select(CaseShare.id).where(
        CaseShare.case_id == Case.id, CaseShare.agency_id == user.agency_id))
    granted = exists(select(AccessGrant.id).where(
        AccessGrant.case_id == Case.id, AccessGrant.agency_id == user.agency_id,
        AccessGrant.expires_at > clock.now()))
    return or_(
        Case.owning_agency_id == user.agency_id,
        and_(allowed, Case.restricted.is_(False), shared),
        and_(allowed, Case.restricted.is_(True), granted),
    )


def can_see_case(session: Session, user: User, case: Case) -> bool:
    if sees_everything(user) or case.owning_agency_id == user.agency_id:
        return True
    if not agreement_in_force(session).allows(case.case_type, user.agency.agency_type):
        return False
    if case.restricted:
        return has_grant(session, case.id, user.agency_id, clock.now())
    return any(share.agency_id == user.agency_id for share in case.shares)


def has_grant(session: Session, case_id: int, agency_id: int, at: datetime) -> bool:
    return bool(session.scalar(select(exists().where(
        AccessGrant.case_id == case_id, AccessGrant.agency_id == agency_id,
        AccessGrant.expires_at > at))))


def may_share_with(session: Session, case: Case, agency_type: AgencyType) -> bool:
    """Whether the agreement lets a case of this type be shared with this type of agency."""
    return agreement_in_force(session).allows(case.case_type, agency_type)


# --- form fields restricted by role ----------------------------------------------------------
# A form field may be `restricted_to` some roles (forms/: e.g. MARAC research's health
# information). These two are the only way answers reach a page: anyone else gets the form
# without the field (so it is neither shown, nor asked, nor accepted from them) and the
# answers without its answer.


def may_see_field(user: User, field: Field) -> bool:
    return not field.restricted_to or any(role.value in field.restricted_to
                                          for role in user.roles)


def form_for(user: User, form: FormDefinition | None) -> FormDefinition | None:
    """The form as `user` may see and fill it in."""
    if form is None or all(may_see_field(user, f) for f in form.fields):
        return form
    return replace(form, fields=tuple(f for f in form.fields if may_see_field(user, f)))


def answers_for(user: User, form: FormDefinition | None,
                answers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The answers `user` may see: without those of fields restricted to other roles."""
    answers = dict(answers or {})
    if form is None:
        return answers
    hidden = {f.key for f in form.fields if not may_see_field(user, f)}
    return {k: v for k, v in answers.items() if k not in hidden}


def hidden_answer_keys(user: User) -> frozenset[str]:
    """Keys of the shipped forms' fields restricted to roles `user` does not hold: answers
    under these keys are masked wherever they appear outside a form (the audit log)."""
    return frozenset(field.key for form in shipped_forms().values() for field in form.fields
                     if not may_see_field(user, field))


# --- people -----------------------------------------------------------------------------------
# A person's profile is shared, but their details beyond the name (date of birth, contact
# preferences, addresses) are for the agencies working with them: the profile page
# (web/profiles/records.py) shows them to exactly these users, and only these may change them.


def works_with_person(session: Session, user: User, person: Person) -> bool:
    """`user`'s agency works with `person`: it recorded them, or may see one of their cases
    (or the user has a partnership-wide role)."""
    if sees_everything(user) or person.created_by_agency_id == user.agency_id:
        return True
    return bool(session.scalar(select(exists().where(
        CaseParticipant.person_id == person.id,
        CaseParticipant.case_id == Case.id,
        visible_cases(user, session=session),
    ))))


def only_audits(user: User) -> bool:
    """Auditors see everything and change nothing: a user whose only role is auditor."""
    return not any(role is not Role.AUDITOR for role in user.roles)


def may_change_person(session: Session, user: User, person: Person) -> bool:
    """Who may change a person's details: an active user whose agency works with them,
    unless they only audit."""
    if not user.active or only_audits(user):
        return False
    return works_with_person(session, user, person)

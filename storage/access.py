"""Who may see which case: the one place the rule lives, so every list, search and page
applies the same one. A user sees a case their agency owns or is working (shared), or every
case with a partnership-wide role. Restricted records and sharing agreements refine this
later (the information governance work)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from storage.accounts.models import Role, User
from storage.cases.models import Case, CaseParticipant, CaseShare
from storage.people.models import Person

PARTNERSHIP_WIDE = (Role.PARTNERSHIP_ADMIN, Role.AUDITOR)


def sees_everything(user: User) -> bool:
    return any(user.has_role(role) for role in PARTNERSHIP_WIDE)


def visible_cases(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Case for what `user` may see."""
    if sees_everything(user):
        return true()
    shared = exists(
        select(CaseShare.id).where(
            CaseShare.case_id == Case.id, CaseShare.agency_id == user.agency_id
        )
    )
    return or_(Case.owning_agency_id == user.agency_id, shared)


def can_see_case(session: Session, user: User, case: Case) -> bool:
    if sees_everything(user) or case.owning_agency_id == user.agency_id:
        return True
    return any(share.agency_id == user.agency_id for share in case.shares)


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
        visible_cases(user),
    ))))


def may_change_person(session: Session, user: User, person: Person) -> bool:
    """Who may change a person's details: an active user whose agency works with them,
    unless they only audit (auditors see everything and change nothing)."""
    if not user.active or not any(role is not Role.AUDITOR for role in user.roles):
        return False
    return works_with_person(session, user, person)

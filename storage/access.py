"""Who may see which case: the one place the rule lives, so every list, search and page
applies the same one. A user sees a case their agency owns or is working (shared), or every
case with a partnership-wide role. Restricted records and sharing agreements refine this
later (the information governance work)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.orm import Session

from storage.accounts.models import Role, User
from storage.cases.models import Case, CaseShare

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

"""Who a ladder level's recipients are for one piece of work, as user ids: the same rules
for stage and action deadlines and for minimum standards.

- assignee: the person who owes the work if one active person does, else their agency is
  told (its contact address or its people);
- line_manager: the assignee's active line manager, else the owning agency's managers;
- agency_managers: every active manager of the owning agency;
- spoc: the owning agency's single point of contact, else its managers;
- partnership_lead: the partnership leads, else the partnership administrators.

The look-ups are made once per batch (a few queries), never per case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.standards.model import Recipient
from storage.accounts.models import Role, User, UserRole
from storage.standards.models import ContactKind, EscalationContact


@dataclass(frozen=True)
class Parties:
    user_id: int | None  # the active assignee
    agency_id: int | None  # the agency that owes the work
    line_manager_id: int | None
    owning_agency_id: int


@dataclass
class Lookups:
    managers: dict[int, list[int]] = field(default_factory=dict)
    spocs: dict[int, list[int]] = field(default_factory=dict)
    leads: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, agency_ids: Iterable[int],
             needed: Iterable[Recipient]) -> Lookups:
        needed = set(needed)
        ids = sorted(set(agency_ids))
        found = cls()
        if needed & {Recipient.LINE_MANAGER, Recipient.AGENCY_MANAGERS, Recipient.SPOC} and ids:
            found.managers = _by_agency(session.execute(
                select(User.agency_id, User.id).join(UserRole, UserRole.user_id == User.id)
                .where(User.agency_id.in_(ids), User.active.is_(True),
                       UserRole.role == Role.MANAGER).order_by(User.agency_id, User.id)))
        if Recipient.SPOC in needed and ids:
            found.spocs = _by_agency(session.execute(
                select(EscalationContact.agency_id, User.id)
                .join(User, User.id == EscalationContact.user_id)
                .where(EscalationContact.kind == ContactKind.SPOC,
                       EscalationContact.agency_id.in_(ids), User.active.is_(True))
                .order_by(EscalationContact.agency_id, User.id)))
        if Recipient.PARTNERSHIP_LEAD in needed:
            found.leads = list(session.scalars(
                select(User.id).join(EscalationContact, EscalationContact.user_id == User.id)
                .where(EscalationContact.kind == ContactKind.PARTNERSHIP_LEAD,
                       User.active.is_(True)).order_by(User.id)))
            if not found.leads:
                found.leads = list(session.scalars(
                    select(User.id).join(UserRole, UserRole.user_id == User.id)
                    .where(UserRole.role == Role.PARTNERSHIP_ADMIN, User.active.is_(True))
                    .order_by(User.id)))
        return found

    def resolve(self, recipients: Iterable[Recipient],
                parties: Parties) -> tuple[list[int], int | None]:
        """(user ids, agency to notify or None) for these recipients."""
        users: list[int] = []
        notify: int | None = None
        managers = self.managers.get(parties.owning_agency_id, [])
        for recipient in recipients:
            if recipient is Recipient.ASSIGNEE:
                if parties.user_id is not None:
                    users.append(parties.user_id)
                else:
                    notify = parties.agency_id
            elif recipient is Recipient.LINE_MANAGER:
                users += ([parties.line_manager_id] if parties.line_manager_id is not None
                          else managers)
            elif recipient is Recipient.AGENCY_MANAGERS:
                users += managers
            elif recipient is Recipient.SPOC:
                users += self.spocs.get(parties.owning_agency_id) or managers
            elif recipient is Recipient.PARTNERSHIP_LEAD:
                users += self.leads
        return list(dict.fromkeys(users)), notify


def _by_agency(rows: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for agency_id, user_id in rows:
        found[agency_id].append(user_id)
    return dict(found)

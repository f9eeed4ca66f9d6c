"""Small builders for test data through the real services (generated names, nothing real)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.orm import Session

from storage.accounts.models import Role, User
from storage.accounts.services import create_user
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.cases.models import Case
from storage.cases.services import CaseTypeRef, StagePlan, assign_action, open_case

__all__ = ["assign_action", "open_case"]
SYSTEM = Actor.system("tests")
ASB_V1 = CaseTypeRef(key="asb", reference_prefix="ASB", version=1, content_hash="a" * 64)
_counter = itertools.count(1)


def agency(session: Session, agency_type: AgencyType = AgencyType.POLICE) -> Agency:
    n = next(_counter)
    return create_agency(
        session, SYSTEM, name=f"Test Agency {n}", code=f"TA{n}", agency_type=agency_type
    )


def user(session: Session, agency: Agency, *roles: Role) -> User:
    n = next(_counter)
    return create_user(
        session, SYSTEM, agency_id=agency.id, email=f"user{n}@agency{agency.id}.test",
        display_name=f"Test User {n}", roles=roles or (Role.PRACTITIONER,),
    )


def actor_for(u: User) -> Actor:
    return Actor.for_user(u, ip_address="127.0.0.1")


def asb_case(
    session: Session, owner: Agency, actor: Actor = SYSTEM, *, due_at: datetime | None = None
) -> Case:
    return open_case(
        session, actor, case_type=ASB_V1, title="Noise and intimidation on Test Street",
        owning_agency_id=owner.id,
        first_stages=[StagePlan("intake", form_key="intake", due_at=due_at,
                                assignee_agency_id=owner.id)],
    )

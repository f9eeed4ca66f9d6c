"""Small builders for test data through the real services (generated names, nothing real)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from storage.accounts.models import Role, User
from storage.accounts.services import create_user
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.cases.models import Case, StageInstance
from storage.cases.services import assign_action
from storage.cases.workflow import open_case, record_stage_submission

__all__ = ["assign_action", "open_case", "record_stage_submission"]

SYSTEM = Actor.system("tests")
_counter = itertools.count(1)

# Answers to the ASB report form that screen as standard risk and refer nobody.
ASB_REPORT = {
    "incident_date": "2026-02-27", "description": "Loud music late at night",
    "category": "nuisance", "happened_before": "no", "reported_elsewhere": "no",
    "feels_targeted": "no", "disability_or_illness": "no", "hate_motivated": "no",
    "impact_on_health": "no", "fears_for_safety": "no",
}


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


def asb_case(session: Session, owner: Agency, actor: Actor = SYSTEM, **details: Any) -> Case:
    """An ASB case on the shipped definition, waiting in its first stage (report)."""
    return open_case(
        session, actor, case_type="asb", title="Noise and intimidation on Test Street",
        owning_agency_id=owner.id, **details,
    )


def active_stage(case: Case, key: str | None = None) -> StageInstance:
    stages = [s for s in case.active_stages if key is None or s.stage_key == key]
    assert len(stages) == 1, f"expected one active stage {key or ''}, found {stages}"
    return stages[0]


def submit(
    session: Session, case: Case, answers: dict[str, Any], *, key: str | None = None,
    actor: Actor = SYSTEM,
) -> Case:
    stage = active_stage(case, key)
    return record_stage_submission(
        session, actor, case_id=case.id, stage_instance_id=stage.id,
        expected_version=case.version, form_data=answers,
    )

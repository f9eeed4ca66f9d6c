from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.audit.models import AuditAction
from storage.audit.services import record, snapshot
from storage.errors import InvalidRequest

AGENCY_FIELDS = ["name", "code", "agency_type", "contact_email", "contact_phone", "active"]


def create_agency(
    session: Session,
    actor: Actor,
    *,
    name: str,
    code: str,
    agency_type: AgencyType | str,
    contact_email: str | None = None,
    contact_phone: str | None = None,
) -> Agency:
    name, code = name.strip(), code.strip().upper()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Enter the agency's name"
    elif session.scalar(select(Agency.id).where(func.lower(Agency.name) == name.lower())):
        errors["name"] = f"An agency called {name} already exists"
    if not 2 <= len(code) <= 12 or not code.replace("-", "").isalnum():
        errors["code"] = "Enter a short code of 2 to 12 letters or digits, like POL or HSG"
    elif session.scalar(select(Agency.id).where(Agency.code == code)):
        errors["code"] = f"The code {code} is already used by another agency"
    try:
        kind = AgencyType(agency_type)
    except ValueError:
        errors["agency_type"] = "Choose one of: " + ", ".join(t.value for t in AgencyType)
    if errors:
        raise InvalidRequest(errors)
    agency = Agency(
        name=name,
        code=code,
        agency_type=kind,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    session.add(agency)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=agency, after=snapshot(agency, AGENCY_FIELDS))
    return agency


def agency_by_code(session: Session, code: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.code == code.strip().upper()))

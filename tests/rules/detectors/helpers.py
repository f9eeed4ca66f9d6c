"""Building reports for the detector tests: cases opened at chosen moments, through the
real services, with generated names only."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.orm import Session

from storage.cases.models import Case, LinkKind, ParticipantRole
from storage.cases.services import add_participant, link_cases
from storage.cases.workflow import open_case
from storage.flags.models import Flag, FlagKind
from storage.people.models import Location, Person
from storage.people.services import create_location, create_person
from tests.factories import SYSTEM

_n = itertools.count(1)


def person(session: Session) -> Person:
    n = next(_n)
    return create_person(session, SYSTEM, given_name=f"Testgiven{n}", family_name=f"Testfam{n}")


def place(session: Session) -> Location:
    n = next(_n)
    return create_location(session, SYSTEM, address_line_1=f"{n} Generated Street",
                           postcode="NS1 1AA")


def report(session: Session, clock, at: datetime, owner, *, victim: Person | None = None,
           role: ParticipantRole = ParticipantRole.VICTIM, location: Location | None = None,
           perpetrator: Person | None = None, case_type: str = "asb",
           flags: tuple[FlagKind, ...] = (), lead_officer_id: int | None = None,
           others: tuple[Person, ...] = ()) -> Case:
    """A case opened at `at`, with the victim (in `role`), place and perpetrator given."""
    clock.set(at)
    case = open_case(session, SYSTEM, case_type=case_type, title="Generated report",
                     owning_agency_id=owner.id, lead_officer_id=lead_officer_id)
    if victim is not None:
        add_participant(session, SYSTEM, case_id=case.id, role=role, person_id=victim.id)
    for other in others:
        add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.COMPLAINANT,
                        person_id=other.id)
    if location is not None:
        add_participant(session, SYSTEM, case_id=case.id,
                        role=ParticipantRole.INCIDENT_LOCATION, location_id=location.id)
    if perpetrator is not None:
        add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.PERPETRATOR,
                        person_id=perpetrator.id)
    for kind in flags:
        session.add(Flag(kind=kind, case_id=case.id, raised_at=at))
    session.flush()
    return case


def same_incident(session: Session, a: Case, b: Case,
                  kind: LinkKind = LinkKind.SAME_INCIDENT) -> None:
    link_cases(session, SYSTEM, from_case_id=a.id, to_case_id=b.id, kind=kind)

"""A small synthetic partnership for newcomers and manual testing.

Everything is generated from a seed: the names are random pairs from short lists, the
streets are invented and the postcodes use the outward code "NS", which no real postcode
area has. Cases are backdated by moving the clock, so the services stamp them as they
would have been stamped then, and some deadlines are already past.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casebridge import clock
from casebridge.clock import FrozenClock
from storage.accounts.models import Role, User
from storage.accounts.services import create_user
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.cases.models import ActionStatus, ParticipantRole, RiskLevel
from storage.cases.services import (
    CaseTypeRef,
    StagePlan,
    add_participant,
    assign_action,
    close_case,
    open_case,
    respond_to_action,
)
from storage.db import unit_of_work
from storage.people.models import VulnerabilityKind
from storage.people.services import create_location, create_person

DEMO_PASSWORD = "casebridge-demo"  # noqa: S105 (published on purpose: demo accounts only)
DEMO_ACTOR = Actor.system("demo")

AGENCIES = [
    ("Northshire Police", "POL", AgencyType.POLICE),
    ("Northshire District Council", "NDC", AgencyType.COUNCIL),
    ("Northshire Homes", "NSH", AgencyType.HOUSING),
    ("Northshire Victim Support", "NVS", AgencyType.VICTIM_SERVICE),
    ("Northshire Domestic Abuse Service", "NDAS", AgencyType.DOMESTIC_ABUSE_SERVICE),
    ("Northshire Youth Justice", "NYJ", AgencyType.YOUTH_OFFENDING),
]

# (e-mail local part, name, agency code, roles): one account per role for trying things.
ACCOUNTS = [
    ("practitioner", "Pat Practitioner", "NDC", (Role.PRACTITIONER,)),
    ("panel", "Parveen Panel", "POL", (Role.PANEL_MEMBER, Role.PRACTITIONER)),
    ("manager", "Morgan Manager", "NDC", (Role.MANAGER,)),
    ("admin", "Ash Admin", "NDC", (Role.PARTNERSHIP_ADMIN,)),
    ("auditor", "Audrey Auditor", "NDC", (Role.AUDITOR,)),
    ("housing", "Harper Housing", "NSH", (Role.PRACTITIONER,)),
    ("police", "Sergeant Sam Police", "POL", (Role.PRACTITIONER, Role.MANAGER)),
    ("idva", "Indira IDVA", "NDAS", (Role.PRACTITIONER, Role.PANEL_MEMBER)),
    ("support", "Sol Support", "NVS", (Role.PRACTITIONER,)),
]

# Until the workflow definitions exist, cases start on a placeholder version of each type.
CASE_TYPES = [("asb", "ASB", 0.55), ("hate_crime", "HC", 0.15),
              ("restorative_justice", "RJ", 0.1), ("marac", "MARAC", 0.1),
              ("asb_case_review", "CR", 0.1)]

GIVEN = ["Alex", "Bea", "Cal", "Dina", "Eli", "Fern", "Gus", "Hana", "Ivo", "Jude", "Kit",
         "Lena", "Milo", "Nia", "Otis", "Pia", "Quin", "Rhys", "Suki", "Tam", "Uma", "Vic",
         "Wren", "Yas", "Zed"]
FAMILY = ["Ashdown", "Brackwell", "Corrin", "Dunmore", "Elsworth", "Farrow", "Gilden",
          "Harwick", "Ingram", "Jessop", "Kelloway", "Lark", "Marlow", "Norcott", "Orchard",
          "Penhale", "Quarry", "Rushmere", "Stannard", "Tolley", "Upwood", "Venn", "Wetherby"]
STREETS = ["Alder Way", "Brook Lane", "Canal Walk", "Dene Road", "Elm Court", "Foundry Row",
           "Gorse Close", "Heron Drive", "Ivy Terrace", "Juniper Place", "Kiln Street"]
AREAS = ["Northgate", "Riverside", "Millbrook", "Eastfield", "Hollins"]
PROBLEMS = ["Noise from a neighbouring flat", "Youths gathering and intimidating residents",
            "Verbal abuse in the street", "Damage to a car", "Drug dealing from an address",
            "Harassment on a bus", "Graffiti and abuse aimed at a family",
            "Threats made to a neighbour", "Dog fouling and abuse when challenged"]
ACTIONS = ["Visit the victim and review safety", "Send a warning letter",
           "Check tenancy conditions", "Offer mediation", "Refer to victim support",
           "Patrol the location at evenings", "Install a doorbell camera"]


@dataclass
class DemoSummary:
    agencies: int
    users: int
    cases: int


def demo_hash(case_type: str) -> str:
    return hashlib.sha256(f"casebridge-foundation-demo:{case_type}".encode()).hexdigest()


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Agency)))


def generate(
    sessions: sessionmaker[Session],
    *,
    cases: int = 200,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 50,
) -> DemoSummary:
    """Create the demo partnership. Commits in batches so a big run shows progress."""
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not secrets)
    end = (now or clock.now()).astimezone(UTC)
    with unit_of_work(sessions) as session:
        agencies = {code: create_agency(session, DEMO_ACTOR, name=name, code=code,
                                        agency_type=kind) for name, code, kind in AGENCIES}
        users = [
            create_user(session, DEMO_ACTOR, agency_id=agencies[code].id,
                        email=f"{local}@demo.casebridge.test", display_name=name, roles=roles,
                        password=DEMO_PASSWORD)
            for local, name, code, roles in ACCOUNTS
        ]
        agency_ids = {code: a.id for code, a in agencies.items()}
        user_ids_by_agency: dict[int, list[int]] = {}
        for u in users:
            user_ids_by_agency.setdefault(u.agency_id, []).append(u.id)
    victims: list[int] = []
    made = 0
    while made < cases:
        with unit_of_work(sessions) as session:
            for _ in range(min(batch_size, cases - made)):
                opened = end - timedelta(days=rng.uniform(0, 365), minutes=rng.randint(0, 600))
                _one_case(session, rng, opened, end, agency_ids, user_ids_by_agency, victims)
                made += 1
        if progress:
            progress(made)
    return DemoSummary(agencies=len(AGENCIES), users=len(ACCOUNTS), cases=made)


def _one_case(
    session: Session,
    rng: random.Random,
    opened: datetime,
    end: datetime,
    agency_ids: dict[str, int],
    users_by_agency: dict[int, list[int]],
    victims: list[int],
) -> None:
    key, prefix, _ = rng.choices(CASE_TYPES, weights=[w for *_, w in CASE_TYPES])[0]
    owner_code = {"marac": "NDAS", "hate_crime": "POL"}.get(key, rng.choice(["POL", "NDC", "NSH"]))
    owner = agency_ids[owner_code]
    lead = rng.choice(users_by_agency.get(owner, [None]))
    with clock.use(FrozenClock(opened)):
        location = create_location(
            session, DEMO_ACTOR,
            address_line_1=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
            town="Northshire", area=rng.choice(AREAS),
            postcode=f"NS{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}"
                     f"{rng.choice('LNPQRSTUWXYZ')}",
        )
        if victims and rng.random() < 0.25:  # repeat victims: the people who fall through gaps
            victim_id = rng.choice(victims)
        else:
            victim_id = create_person(
                session, DEMO_ACTOR, given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                date_of_birth=date(rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)),
                home_location_id=location.id,
                vulnerabilities=rng.sample(list(VulnerabilityKind)[:6], k=rng.choice([0, 0, 1, 2])),
            ).id
            victims.append(victim_id)
        risk = rng.choices(list(RiskLevel), weights=[6, 3, 1])[0]
        case = open_case(
            session, DEMO_ACTOR,
            case_type=CaseTypeRef(key, prefix, 1, demo_hash(key)),
            title=rng.choice(PROBLEMS), owning_agency_id=owner, lead_officer_id=lead,
            risk_level=risk,
            first_stages=[StagePlan(
                "intake", form_key="intake", assignee_agency_id=owner, assignee_user_id=lead,
                warn_at=opened + timedelta(days=1), due_at=opened + timedelta(days=2),
            )],
        )
        add_participant(session, DEMO_ACTOR, case_id=case.id, role=ParticipantRole.VICTIM,
                        person_id=victim_id)
        add_participant(session, DEMO_ACTOR, case_id=case.id,
                        role=ParticipantRole.INCIDENT_LOCATION, location_id=location.id)
        actions = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            agency = rng.choice(list(agency_ids.values()))
            actions.append(assign_action(
                session, DEMO_ACTOR, case_id=case.id, title=rng.choice(ACTIONS),
                assigned_agency_id=agency, due_at=opened + timedelta(days=rng.randint(3, 28)),
            ))
    age = end - opened
    finished = age > timedelta(days=60) and rng.random() < 0.6
    for action in actions:
        if finished or (age > timedelta(days=10) and rng.random() < 0.5):
            with clock.use(FrozenClock(min(end, action.due_at - timedelta(hours=1)))):
                respond_to_action(session, DEMO_ACTOR, action_id=action.id,
                                  status=ActionStatus.DONE, outcome="Completed as agreed")
    if finished:
        with clock.use(FrozenClock(opened + timedelta(days=rng.randint(30, 60)))):
            close_case(session, DEMO_ACTOR, case_id=case.id, expected_version=case.version,
                       reason="Problem resolved")


def demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(User).where(User.email.like("%@demo.casebridge.test")).order_by(User.id)
    ).scalars()
    return [(u.email, u.agency.code, ", ".join(sorted(r.value for r in u.roles))) for u in rows]

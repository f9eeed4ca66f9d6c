"""A small synthetic partnership for newcomers and manual testing.

Everything is generated from a seed: the names are random pairs from short lists, the
streets are invented and the postcodes use the outward code "NS", which no real postcode
area has. Each case is opened on its real, published case type and worked through its
stages with generated answers while the clock is moved forward, so the services stamp it
as they would have then: some cases are closed, some are mid-way, some are overdue.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casebridge import clock
from casebridge.clock import FrozenClock
from forms.loader import shipped_forms
from forms.sampling import sample_answers
from storage.accounts.models import Role, User
from storage.accounts.services import create_user
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.cases.models import ActionStatus, Case, CaseStatus, ParticipantRole
from storage.cases.services import OUTSTANDING_ACTIONS, add_participant, assign_action
from storage.cases.workflow import (
    next_review_times,
    open_case,
    record_stage_submission,
    respond_to_action,
    review_due,
)
from storage.db import unit_of_work
from storage.people.models import VulnerabilityKind
from storage.people.services import create_location, create_person
from storage.workflows.services import current_version, definition_of, publish_shipped
from workflows.loader import latest_shipped
from workflows.model import Definition

DEMO_PASSWORD = "casebridge-demo"  # noqa: S105 (published on purpose: demo accounts only)
DEMO_ACTOR = Actor.system("demo")

AGENCIES = [
    ("Northshire Police", "POL", AgencyType.POLICE),
    ("Northshire District Council", "NDC", AgencyType.COUNCIL),
    ("Northshire Homes", "NSH", AgencyType.HOUSING),
    ("Northshire Victim Support", "NVS", AgencyType.VICTIM_SERVICE),
    ("Northshire Domestic Abuse Service", "NDAS", AgencyType.DOMESTIC_ABUSE_SERVICE),
    ("Northshire Youth Justice", "NYJ", AgencyType.YOUTH_OFFENDING),
    ("Northshire Probation", "NPR", AgencyType.PROBATION),
    ("Northshire Health Partnership", "NHP", AgencyType.HEALTH),
    ("Northshire Mental Health Trust", "NMH", AgencyType.MENTAL_HEALTH),
    ("Northshire Children's Services", "NCS", AgencyType.EDUCATION),
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
    ("idva", "Indira IDVA", "NDAS", (Role.PRACTITIONER, Role.PANEL_MEMBER, Role.MANAGER)),
    ("support", "Sol Support", "NVS", (Role.PRACTITIONER,)),
]

# How often each case type comes up: ASB is most of a partnership's work.
CASE_TYPE_WEIGHTS = {"asb": 0.55, "hate_crime": 0.15, "restorative_justice": 0.1,
                     "marac": 0.1, "asb_case_review": 0.1}

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
    with unit_of_work(sessions) as session:
        publish_shipped(session, DEMO_ACTOR)
        definitions = {
            key: definition_of(current_version(session, key)) for key in latest_shipped()
        }
    victims: list[int] = []
    made = 0
    while made < cases:
        with unit_of_work(sessions) as session:
            for _ in range(min(batch_size, cases - made)):
                opened = end - timedelta(days=rng.uniform(0, 365), minutes=rng.randint(0, 600))
                _one_case(session, rng, opened, end, agency_ids, user_ids_by_agency, victims,
                          definitions)
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
    definitions: dict[str, Definition],
) -> None:
    keys = sorted(definitions)
    key = rng.choices(keys, weights=[CASE_TYPE_WEIGHTS.get(k, 0.1) for k in keys])[0]
    definition = definitions[key]
    allowed = [c for c, (_, _, kind) in zip(agency_ids, AGENCIES, strict=True)
               if not definition.opened_by_agency_types
               or kind.value in definition.opened_by_agency_types]
    owner = agency_ids[rng.choice(allowed or list(agency_ids))]
    lead = rng.choice(users_by_agency.get(owner, [None]))
    frozen = FrozenClock(opened)
    with clock.use(frozen):
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
        case = open_case(
            session, DEMO_ACTOR, case_type=key, title=rng.choice(PROBLEMS),
            owning_agency_id=owner, lead_officer_id=lead,
        )
        add_participant(session, DEMO_ACTOR, case_id=case.id, role=ParticipantRole.VICTIM,
                        person_id=victim_id)
        add_participant(session, DEMO_ACTOR, case_id=case.id,
                        role=ParticipantRole.INCIDENT_LOCATION, location_id=location.id)
        if rng.random() < 0.4:
            assign_action(
                session, DEMO_ACTOR, case_id=case.id, title=rng.choice(ACTIONS),
                assigned_agency_id=rng.choice(list(agency_ids.values())),
                due_at=opened + timedelta(days=rng.randint(3, 28)),
            )
        _advance(session, rng, case, definition, frozen, end)


def _advance(
    session: Session, rng: random.Random, case: Case, definition: Definition,
    frozen: FrozenClock, end: datetime,
) -> None:
    """Work the case forward through its real stages with generated answers until the
    (backdated) clock reaches today, so some cases are finished and some are overdue."""
    forms = shipped_forms()
    pace = rng.choice((6, 20, 48, 120))  # hours between steps: some partners are slower
    for _ in range(rng.randint(0, 14)):
        step = frozen.now() + timedelta(hours=rng.uniform(1, pace))
        if step >= end or case.status is CaseStatus.CLOSED:
            return
        frozen.set(step)
        with clock.use(frozen):
            for stage_key, due in next_review_times(case).items():
                if due <= step:
                    review_due(session, DEMO_ACTOR, case_id=case.id, stage_key=stage_key)
            _settle_due_actions(session, rng, case, step)
            stages = sorted(case.active_stages, key=lambda s: s.id)
            if not stages:
                return
            stage = rng.choice(stages)
            spec = definition.stages[stage.stage_key]
            if spec.completes_when_actions_settled:
                for action in list(case.actions):
                    if (action.stage_instance_id == stage.id
                            and action.status in OUTSTANDING_ACTIONS):
                        respond_to_action(session, DEMO_ACTOR, action_id=action.id,
                                          status=ActionStatus.DONE, outcome="Done as agreed")
                continue
            form = forms.get(stage.form_key or "")
            answers = sample_answers(form, rng, today=step.date()) if form else {}
            facts = {name: rng.random() < 0.6 for name in definition.facts}
            if _would_close(definition, stage.stage_key) and _outstanding(case):
                _settle_due_actions(session, rng, case, step, everything=True)
            record_stage_submission(
                session, DEMO_ACTOR, case_id=case.id, stage_instance_id=stage.id,
                expected_version=case.version, form_data=answers, facts=facts,
            )


def _outstanding(case: Case) -> list:
    return [a for a in case.actions if a.status in OUTSTANDING_ACTIONS]


def _would_close(definition: Definition, stage_key: str) -> bool:
    return any(t.closes for t in definition.stages[stage_key].transitions)


def _settle_due_actions(
    session: Session, rng: random.Random, case: Case, now: datetime, *, everything: bool = False
) -> None:
    """Partners mostly do what they promised, some late: overdue actions are what the
    escalation rules are for, so the demo keeps a few."""
    for action in _outstanding(case):
        if everything or (action.due_at <= now and rng.random() < 0.7):
            done = everything or rng.random() < 0.9
            respond_to_action(
                session, DEMO_ACTOR, action_id=action.id,
                status=ActionStatus.DONE if done else ActionStatus.DECLINED,
                outcome="Done as agreed" if done else None,
                reason=None if done else "Not for this agency: passed to the lead",
            )


def demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(User).where(User.email.like("%@demo.casebridge.test")).order_by(User.id)
    ).scalars()
    return [(u.email, u.agency.code, ", ".join(sorted(r.value for r in u.roles))) for u in rows]

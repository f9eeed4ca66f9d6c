"""A synthetic partnership for newcomers, manual testing and load testing.

Everything is generated from a seed: nobody in it is real. The agencies and one demo account
per role are created through the services, and the shipped case types are published, as an
administrator would. The cases are then a bulk import (casebridge.synthetic): each case's
history is worked out by the pure workflow interpreter on its real, published case type, from
the report through its stages with generated answers until a random point before `now`, and
the resulting rows (cases, stage instances, actions, sharing, participants, people,
addresses, places) are written in bulk with client-assigned ids: COPY on PostgreSQL,
executemany on SQLite. The import is audited per committed batch: one entry in the hash
chain per batch (actor system:demo, entity "synthetic_batch", with the seed and the range of
case ids), so `casebridge audit verify` holds. Past notifications are not queued in the
outbox: a dispatcher would send them.

The same seed gives the same partnership whatever the number of worker processes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from casebridge import clock
from casebridge.synthetic import names
from casebridge.synthetic.histories import CASE_TYPE_WEIGHTS, definitions_spec
from casebridge.synthetic.runner import generate_cases
from storage.accounts.models import Role, User, UserRole
from storage.accounts.services import create_user
from storage.accounts.two_factor import current_code, demo_secret, enrol_with_secret
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.db import unit_of_work
from storage.standards.services import publish_default
from storage.workflows.services import current_version, publish_shipped
from workflows.loader import latest_shipped

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

# Besides the demo accounts, each agency gets one caseworker (who cannot sign in) per this
# many cases, so caseloads stay those of a real partnership at any size: at 1,000,000 cases
# a demo practitioner's inbox holds what one officer's would, not a tenth of the force's.
CASES_PER_CASEWORKER = 3_500
CASEWORKER_ROLES = (Role.PRACTITIONER,)

# The generated pools (see casebridge.synthetic.names).
GIVEN = list(names.GIVEN_NAMES)
FAMILY = list(names.FAMILY_NAMES)
AREAS = [area for area, _, _ in names.AREAS]
__all__ = ["ACCOUNTS", "AGENCIES", "CASE_TYPE_WEIGHTS", "DEMO_PASSWORD", "FAMILY", "GIVEN",
           "DemoSummary", "demo_accounts", "demo_code", "generate", "has_data",
           "is_demo_account"]


@dataclass
class DemoSummary:
    agencies: int
    users: int
    cases: int
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table
    statuses: dict[str, int] = field(default_factory=dict)  # cases by status
    seconds: float = 0.0


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Agency)))


def generate(
    sessions: sessionmaker[Session],
    *,
    cases: int = 200,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 2,
    batch_size: int | None = None,
    chunk_size: int | None = None,
    status: Callable[[str], None] | None = None,
    defer_indexes: bool | None = None,
) -> DemoSummary:
    """Create the demo partnership: agencies and accounts through the services, then `cases`
    synthetic cases as a bulk import (audited per batch). `progress` gets the number of cases
    written so far; `workers` processes compute the histories. The data depends only on the
    seed, `cases` and `now`: not on `workers`, `batch_size` (cases per transaction) or
    `chunk_size` (cases per unit of work handed to a worker).
    """
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
        for user in users:  # `casebridge demo code EMAIL` gives the current code
            enrol_with_secret(session, DEMO_ACTOR, user, demo_secret(user.email))
    caseworkers = _create_caseworkers(sessions, agencies, cases, seed)
    with unit_of_work(sessions) as session:
        publish_shipped(session, DEMO_ACTOR)
        publish_default(session, DEMO_ACTOR)  # the shipped minimum standards
        published = {key: current_version(session, key) for key in latest_shipped()}
        definitions = definitions_spec(published)
        partnership = [(a.id, a.agency_type.value) for a in session.scalars(
            select(Agency).where(Agency.active.is_(True)).order_by(Agency.id))]
    summary = DemoSummary(agencies=len(AGENCIES), users=len(ACCOUNTS), cases=0)
    if cases <= 0:
        return summary
    generated = generate_cases(
        sessions, DEMO_ACTOR, cases=cases, seed=seed, now=end, agencies=partnership,
        users=[(u.id, u.agency_id) for u in users if _works_cases(u)] + caseworkers,
        definitions=definitions, workers=workers,
        batch_size=batch_size, progress=progress, status=status,
        defer_indexes=defer_indexes,
        **({"chunk_size": chunk_size} if chunk_size else {}),
    )
    summary.cases = generated.cases
    summary.rows = generated.rows
    summary.statuses = generated.statuses
    summary.seconds = generated.seconds
    return summary


def _works_cases(user: User) -> bool:
    """Leads of cases are practitioners: never the auditor or an administrator alone."""
    return any(role in CASEWORKER_ROLES for role in user.roles)


def _create_caseworkers(sessions: sessionmaker[Session], agencies: dict[str, Agency],
                        cases: int, seed: int) -> list[tuple[int, int]]:
    """Generated caseworkers, `cases // CASES_PER_CASEWORKER` per agency, without passwords:
    only the demo accounts sign in. A bulk import like the cases (at a million cases there
    are thousands, which one by one through the services took half a minute), checked by
    the same constraints and audited with one entry naming the ids."""
    per_agency = cases // CASES_PER_CASEWORKER
    if per_agency <= 0:
        return []
    rng = random.Random(f"caseworkers:{seed}")  # noqa: S311 (made-up names, not secrets)
    rows = [
        {"agency_id": agency.id, "display_name": f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
         "email": f"caseworker{n:04d}@{code.lower()}.demo-staff.casebridge.test"}
        for code, agency in agencies.items() for n in range(1, per_agency + 1)
    ]
    with unit_of_work(sessions) as session:
        users = User.__table__
        created = [(row.id, row.agency_id) for row in session.execute(
            insert(users).returning(users.c.id, users.c.agency_id, sort_by_parameter_order=True),
            [row | {"active": True, "failed_sign_ins": 0, "created_at": clock.now()}
             for row in rows],
        )]
        session.execute(insert(UserRole.__table__),
                        [{"user_id": user_id, "role": role.value}
                         for user_id, _ in created for role in CASEWORKER_ROLES])
        record(session, DEMO_ACTOR, AuditAction.CREATE, entity_type="synthetic_caseworkers",
               entity_id=f"{created[0][0]}-{created[-1][0]}",
               detail={"seed": seed, "users": len(created),
                       "roles": [role.value for role in CASEWORKER_ROLES]})
    return created


DEMO_DOMAIN = "@demo.casebridge.test"


def is_demo_account(email: str) -> bool:
    return email.strip().lower().endswith(DEMO_DOMAIN)


def demo_code(session: Session, email: str) -> str | None:
    """The current two-factor code of a demo account (None for any other account: real
    people's codes are never shown)."""
    if not is_demo_account(email):
        return None
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.totp_secret or user.totp_secret != demo_secret(user.email):
        return None
    return current_code(user.totp_secret)


def demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(User).where(User.email.like("%@demo.casebridge.test")).order_by(User.id)
    ).scalars()
    return [(u.email, u.agency.code, ", ".join(sorted(r.value for r in u.roles))) for u in rows]

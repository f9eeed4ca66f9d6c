"""Helpers for the browser tests: test data written through the real services into the live
server's database, and small Playwright steps that find things the way a person does (by
role, label and legend), never by layout.

Every name, code and e-mail address comes from one counter, so tests sharing the session's
live server never collide; the people are generated (casebridge.synthetic.names), not real.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.clock import FrozenClock
from casebridge.synthetic import names
from storage.accounts.models import Role, User
from storage.accounts.services import create_user
from storage.accounts.two_factor import (
    code_for_step,
    current_step,
    enrol_with_secret,
    new_secret,
)
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.cases.models import Case, ParticipantRole, StageStatus
from storage.cases.services import add_participant, assign_action
from storage.cases.workflow import open_case, record_stage_submission
from storage.db import unit_of_work
from storage.meetings.models import Attendance, MeetingKind
from storage.meetings.services import add_to_agenda, create_meeting, record_attendance
from storage.people.duplicates import find_possible_duplicates
from storage.people.models import Location, Person
from storage.people.services import create_location, create_person
from tests.factories import ASB_REPORT

from .conftest import LiveServer

SYSTEM = Actor.system("browser-tests")
PASSWORD = "a long browser test password"
_counter = itertools.count(1)
_rng = random.Random("casebridge:browser-tests")


def unique() -> int:
    return next(_counter)


def zone(live_server: LiveServer) -> ZoneInfo:
    """The partnership's time zone, as the live server has it."""
    return ZoneInfo(live_server.runtime.settings.timezone)


def today(live_server: LiveServer) -> date:
    """Today where the partnership is (dates on forms are local dates)."""
    return datetime.now(UTC).astimezone(zone(live_server)).date()


# --- seeding through the services -------------------------------------------------------------


@dataclass
class Account:
    user_id: int
    agency_id: int
    email: str
    name: str
    agency_name: str
    password: str = PASSWORD


@dataclass
class Partnership:
    """A police force and a housing provider, each with a practitioner who can sign in."""

    police: Account
    housing: Account


@dataclass
class Victim:
    person_id: int
    given_name: str
    family_name: str
    date_of_birth: date
    home_id: int
    postcode: str
    case_references: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@contextmanager
def seeding(live_server: LiveServer) -> Iterator[Session]:
    """One committed unit of work in the live server's database."""
    with unit_of_work(live_server.runtime.sessions) as session:
        yield session


def make_agency(session: Session, agency_type: AgencyType, name: str, code: str) -> Agency:
    n = unique()  # names and codes stay unique however many partnerships a run makes
    taken = session.scalar(select(Agency.id).where(Agency.name == name))
    return create_agency(session, SYSTEM, name=f"{name} {n}" if taken else name,
                         code=f"{code}{n}", agency_type=agency_type)


# The roles for which the default settings require two-factor sign-in.
TWO_FACTOR_ROLES = {Role.PANEL_MEMBER, Role.MANAGER, Role.PARTNERSHIP_ADMIN, Role.AUDITOR}


def make_account(session: Session, agency: Agency, *roles: Role) -> Account:
    """An account that can sign in: with two-factor set up (a generated secret) when one
    of its roles needs it, as a real user of that role would have."""
    n = unique()
    given, family = _rng.choice(names.GIVEN_NAMES), _rng.choice(names.FAMILY_NAMES)
    email = f"{given.lower()}.{n}@{agency.code.lower()}.test"
    user = create_user(session, SYSTEM, agency_id=agency.id, email=email,
                       display_name=f"{given} {family}", roles=roles or (Role.PRACTITIONER,),
                       password=PASSWORD)
    if TWO_FACTOR_ROLES & set(roles):
        enrol_with_secret(session, SYSTEM, user, new_secret())
    return Account(user.id, agency.id, email, user.display_name, agency.name)


def sign_in_code(live_server: LiveServer, user_id: int) -> str:
    """A code the server accepts now: the current step's, or the next one's if this step's
    code was used already (the same account signing in twice within 30 seconds)."""
    with seeding(live_server) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.totp_secret, "the account has no two-factor"
        step = current_step(user.totp_secret)
        if user.totp_last_step is not None and user.totp_last_step >= step:
            step = user.totp_last_step + 1
        return code_for_step(user.totp_secret, step)


def make_partnership(live_server: LiveServer, *police_roles: Role) -> Partnership:
    """A police force and a housing provider for one of Northshire's districts."""
    with seeding(live_server) as session:
        area = names.AREAS[unique() % len(names.AREAS)][0]
        police = make_agency(session, AgencyType.POLICE, f"{area} Police", area[:3].upper())
        housing = make_agency(session, AgencyType.HOUSING, f"{area} Homes", f"{area[0]}H")
        return Partnership(police=make_account(session, police, *police_roles),
                           housing=make_account(session, housing, Role.PRACTITIONER))


def actor_of(session: Session, account: Account) -> Actor:
    user = session.get(User, account.user_id)
    assert user is not None
    return Actor.for_user(user, ip_address="127.0.0.1")


def make_person(session: Session, actor: Actor) -> tuple[Person, Location]:
    """A generated person, born in the 1980s, with a home address in Northshire."""
    area, district, wards = _rng.choice(names.AREAS)
    home = create_location(
        session, actor, address_line_1=f"{_rng.randint(1, 120)} {_rng.choice(names.STREETS)}",
        town=area, postcode=names.postcode(district, _rng), area=area, ward=wards[0],
    )
    given = _rng.choice(names.GIVEN_NAMES)
    # A family name no other test has used, so a duplicate check finds only this person.
    family = _rng.choice(names.FAMILY_NAMES)
    while session.scalar(select(Person.id).where(Person.family_name == family).limit(1)):
        family = _rng.choice(names.FAMILY_NAMES)
    born = date(_rng.randint(1975, 1990), _rng.randint(1, 12), _rng.randint(1, 28))
    person = create_person(session, actor, given_name=given, family_name=family,
                           date_of_birth=born, home_location_id=home.id)
    return person, home


def make_repeat_victim(live_server: LiveServer, owner: Account, *,
                       days_ago: tuple[int, ...] = (140, 70, 7)) -> Victim:
    """A person who is already the victim on one ASB case for each of `days_ago` (all within
    the last six months): a repeat victim under the partnership's 3-in-6-months rule.

    The cases are opened with the clock moved back to each date, so the six-month window is
    really exercised; the live server is idle while this runs (nothing else reads the clock).
    """
    with seeding(live_server) as session:
        actor = actor_of(session, owner)
        person, home = make_person(session, actor)
        victim = Victim(person.id, person.given_name, person.family_name,
                        person.date_of_birth, home.id, home.postcode or "")
    for days in days_ago:
        with clock.use(FrozenClock(datetime.now(UTC) - timedelta(days=days))), \
                seeding(live_server) as session:
            case = open_asb_case(session, actor_of(session, owner), owner,
                                 title=f"Repeated nuisance at the home of {victim.full_name}")
            add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                            person_id=victim.person_id)
            add_participant(session, SYSTEM, case_id=case.id,
                            role=ParticipantRole.INCIDENT_LOCATION, location_id=victim.home_id)
            victim.case_references.append(case.reference)
    return victim


def open_asb_case(session: Session, actor: Actor, owner: Account, *, title: str,
                  **details: Any) -> Case:
    return open_case(session, actor, case_type="asb", title=title,
                     owning_agency_id=owner.agency_id, **details)


def unknown_name(live_server: LiveServer) -> tuple[str, str]:
    """A generated (given, family) name that nobody on Casebridge resembles, so the new-case
    page's duplicate check finds no one and a new person is recorded."""
    with seeding(live_server) as session:
        for _ in range(100):
            given, family = _rng.choice(names.GIVEN_NAMES), _rng.choice(names.FAMILY_NAMES)
            if not find_possible_duplicates(session, given_name=given, family_name=family):
                return given, family
    raise AssertionError("every generated name tried is like someone already on Casebridge")


def typo_of(name: str) -> str:
    """The name with two different neighbouring letters near its end swapped (never the
    first letter): a slip of the keys that still reads as the same name (Ashwell -> Ashwlel)."""
    i = next(i for i in range(len(name) - 3, 0, -1) if name[i].lower() != name[i + 1].lower())
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


# --- driving the browser ----------------------------------------------------------------------


def submit(page: Page, button: Locator) -> None:
    """Press a button that sends a form, and wait for the page it leads to to load."""
    with page.expect_navigation(wait_until="load"):
        button.click()


def press(page: Page, name: str) -> None:
    submit(page, page.get_by_role("button", name=name, exact=True))


def sign_in(page: Page, live_server: LiveServer, account: Account) -> None:
    page.goto(f"{live_server.url}/sign-in")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    press(page, "Sign in")
    if re.search(r"/sign-in/code$", page.url):
        page.get_by_label("Code from your authenticator app").fill(
            sign_in_code(live_server, account.user_id))
        press(page, "Continue")
    expect(page).not_to_have_url(re.compile(r"/sign-in"))
    expect(page.get_by_text(account.name).first).to_be_visible()


def sign_out(page: Page) -> None:
    press(page, "Sign out")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def question(page: Page, legend: str) -> Locator:
    """A group of inputs (radios, a date) by its legend."""
    return page.get_by_role("group", name=legend, exact=True)


def choose(page: Page, legend: str, answer: str) -> None:
    """Choose a radio by its label within the question with this legend."""
    question(page, legend).get_by_label(answer, exact=True).check()


def fill_date(page: Page, legend: str, day: date) -> None:
    group = question(page, legend)
    group.get_by_label("Day", exact=True).fill(str(day.day))
    group.get_by_label("Month", exact=True).fill(str(day.month))
    group.get_by_label("Year", exact=True).fill(str(day.year))


def tick(page: Page, legend: str, *answers: str) -> None:
    """Tick checkboxes by their labels within the question with this legend."""
    for answer in answers:
        question(page, legend).get_by_label(answer, exact=True).check()


def fill_datetime(page: Page, legend: str, moment: datetime) -> None:
    """A date input with a time box after it (a stage form's date-and-time question)."""
    fill_date(page, legend, moment.date())
    question(page, legend).get_by_label("Time", exact=True).fill(f"{moment:%H:%M}")


Answer = str | date | datetime | tuple[str, ...]


def fill_in(page: Page, answers: Mapping[str, Answer]) -> None:
    """Answer a form's questions as a person would, each found by its legend or its label:
    a date or a date and time in the date inputs, a tuple by ticking those boxes, and a
    string by choosing the radio with that label if the question is a group of radios, or
    else by typing it into the box with that label."""
    for name, answer in answers.items():
        if isinstance(answer, datetime):  # (before date: a datetime is a date too)
            fill_datetime(page, name, answer)
        elif isinstance(answer, date):
            fill_date(page, name, answer)
        elif isinstance(answer, tuple):
            tick(page, name, *answer)
        elif question(page, name).count():  # the page has loaded: nothing more will appear
            choose(page, name, answer)
        else:
            page.get_by_label(name, exact=True).fill(answer)


def summary_value(page: Page, key: str, section: str | None = None) -> Locator:
    """The value beside `key` in a summary list (in the section headed `section`, if given)."""
    scope = page.get_by_role("region", name=section, exact=True) if section else page
    key_cell = page.get_by_role("term").filter(has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))
    return scope.locator(".govuk-summary-list__row", has=key_cell).get_by_role("definition").first


def expect_success(page: Page, message: str) -> None:
    """The green banner a page shows after a change is saved."""
    expect(page.get_by_role("alert", name="Success")).to_contain_text(message)


def complete_stage(page: Page, stage: str, answers: Mapping[str, Answer]) -> None:
    """From the case page: open the stage's form, answer it, submit it, and be back on the
    case page with the stage completed."""
    case_page = page.url.partition("#")[0]  # (after giving an action, it ends "#actions")
    page.get_by_role("link", name=f"Complete this stage for {stage}", exact=True).click()
    expect(page.get_by_role("heading", name=stage, level=1)).to_be_visible()
    fill_in(page, answers)
    press(page, "Submit answers")
    expect(page).to_have_url(case_page)
    expect_success(page, f"{stage}: your answers have been saved.")
    expect(stage_tag(page, stage)).to_have_text("Completed")


def stage_tag(page: Page, stage: str) -> Locator:
    """The tag beside a stage on the case page: Completed, In progress, Overdue, Skipped."""
    return summary_value(page, stage, "Stages").locator(".govuk-tag")


def case_reference(page: Page) -> str:
    match = re.search(r"/cases/([A-Z]+-\d{4}-\d{6})$", page.url)
    assert match, f"not on a case page: {page.url}"
    return match.group(1)


@dataclass
class Workload:
    """What the pages need to have something to show: cases at different stages, an action
    for the housing provider, and a panel meeting with a case on its agenda."""

    victim: Victim
    new_case: str  # waiting for its report
    screened_case: str  # report done, waiting for its risk assessment
    action_id: int
    action_title: str
    meeting_id: int
    meeting_title: str


def make_workload(live_server: LiveServer, partnership: Partnership) -> Workload:
    police, housing = partnership.police, partnership.housing
    victim = make_repeat_victim(live_server, police)
    new_case, screened_case = victim.case_references[-1], victim.case_references[-2]
    action_title = "Check the tenancy and visit the household"
    meeting_title = f"{partnership.police.agency_name.removesuffix(' Police')} ASBRAC"
    with seeding(live_server) as session:
        actor = actor_of(session, police)
        case = session.scalar(select(Case).where(Case.reference == screened_case))
        assert case is not None
        report = next(s for s in case.stages if s.status is StageStatus.ACTIVE)
        happened = today(live_server) - timedelta(days=3)
        case = record_stage_submission(  # 10 points: medium risk
            session, actor, case_id=case.id, stage_instance_id=report.id,
            expected_version=case.version,
            form_data=ASB_REPORT | {"incident_date": happened.isoformat(),
                                    "happened_before": "yes", "feels_targeted": "yes",
                                    "fears_for_safety": "yes"},
        )
        action = assign_action(
            session, actor, case_id=case.id, title=action_title,
            assigned_agency_id=housing.agency_id,
            due_at=datetime.now(UTC) + timedelta(days=10),
            detail="Find out whether the tenancy agreement has been broken.",
        )
        meeting = create_meeting(
            session, actor, kind=MeetingKind.ASBRAC, title=meeting_title,
            scheduled_for=datetime.combine(today(live_server) + timedelta(days=7), time(10),
                                           tzinfo=zone(live_server)),
            venue="Room 2, Northshire Police headquarters", chair_user_id=police.user_id,
            organiser_agency_id=police.agency_id,
        )
        record_attendance(session, actor, meeting_id=meeting.id, agency_id=housing.agency_id,
                          user_id=housing.user_id, attendance=Attendance.PRESENT,
                          confidentiality_signed=True)
        add_to_agenda(session, actor, meeting_id=meeting.id, case_id=case.id,
                      reason="Repeat victim, medium risk: agree a joint plan")
        return Workload(victim, new_case, screened_case, action.id, action_title, meeting.id,
                        meeting_title)

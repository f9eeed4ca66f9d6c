"""Opening a new case (GET/POST /cases/new): one page, the duplicate check before anyone is
created, everything typed kept when something is wrong."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import Case, ParticipantRole
from storage.cases.services import add_participant
from storage.people.models import Location, Person, VulnerabilityKind
from storage.people.services import create_location, create_person
from tests import factories
from tests.web.conftest import sign_in, user_with_password
from web.intake.lookups import months_before

SYSTEM = factories.SYSTEM
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock's "now"


@pytest.fixture
def app(app):
    """The case page may be built by someone else: stand in for it if it is not here yet."""
    if "cases.show" not in app.view_functions:
        app.add_url_rule("/cases/<reference>", endpoint="cases.show",
                         view_func=lambda reference: f"case {reference}")
    return app


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


def form(**changes: Any) -> dict[str, Any]:
    """A complete, valid new-case form for someone nobody has recorded yet."""
    data: dict[str, Any] = {
        "case_type": "asb", "title": "Noise from the flat above", "summary": "Music at night",
        "risk_level": "", "person_role": "victim",
        "given_name": "Ottoline", "family_name": "Quennell",
        "date_of_birth-day": "14", "date_of_birth-month": "6", "date_of_birth-year": "1971",
        "phone": "07700 900982", "email": "", "preferred_contact": "phone",
        "address_line_1": "3 Wren Court", "town": "Northtown", "postcode": "nt1 4ab",
        "vulnerabilities": ["disability", "social_isolation"],
        "location_address": "3 Wren Court", "location_description": "",
        "location_postcode": "NT1 4AB", "location_area": "Riverside",
        "perpetrator_given_name": "", "perpetrator_family_name": "", "perpetrator_role": "",
        "person": "", "checked": "", "action": "create",
    }
    data.update(changes)
    return data


def page_of(response) -> str:
    return response.get_data(as_text=True)


def checked_key(page: str) -> str:
    match = re.search(r'name="checked" value="([^"]*)"', page)
    assert match, "the page has no check marker"
    return match.group(1)


def error_next_to(page: str, field_id: str) -> str:
    """The error message drawn beside a field (GOV.UK: <p id="<field>-error">)."""
    match = re.search(rf'<p id="{re.escape(field_id)}-error" class="govuk-error-message">'
                      r'\s*<span class="govuk-visually-hidden">Error:</span>(.*?)</p>',
                      page, re.S)
    assert match, f"no error message next to {field_id}"
    return " ".join(match.group(1).split())


def value_of(page: str, name: str) -> str | None:
    """The value a text input is drawn with."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert tag, f"no input {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def open_as_victim(session, owner, person: Person, when: datetime, frozen_clock,
                   role: ParticipantRole = ParticipantRole.VICTIM) -> Case:
    """An ASB case opened at `when` through the services, with `person` on it."""
    frozen_clock.set(when)
    try:
        case = factories.asb_case(session, owner)
        add_participant(session, SYSTEM, case_id=case.id, role=role, person_id=person.id)
        session.commit()
    finally:
        frozen_clock.set(NOW)
    return case


@pytest.fixture
def john(session) -> Person:
    """Someone already on Casebridge, to be keyed in with a typo."""
    home = create_location(session, SYSTEM, address_line_1="1 Test Street", postcode="AB1 2CD")
    person = create_person(session, SYSTEM, given_name="John", family_name="Smith",
                           date_of_birth=date(1980, 7, 3), home_location_id=home.id)
    session.commit()
    return person


JON = {"given_name": "Jon", "family_name": "Smith", "date_of_birth-day": "3",
       "date_of_birth-month": "7", "date_of_birth-year": "1980", "postcode": "",
       "address_line_1": "", "town": ""}


# --- the page ---------------------------------------------------------------------------------


def test_page_offers_only_the_types_the_user_may_open(client, session):
    victim_service = factories.agency(session, AgencyType.VICTIM_SERVICE)
    user = user_with_password(session, victim_service, Role.PRACTITIONER)
    sign_in(client, user)
    response = client.get("/cases/new")
    page = page_of(response)
    assert response.status_code == 200
    assert "Open a new case" in page
    types = set(re.findall(r'name="case_type" type="radio" value="([^"]+)"', page))
    assert types == {"hate_crime", "marac", "restorative_justice"}  # not ASB: police etc.
    assert 'value="check"' in page
    assert 'value="create"' in page
    assert 'name="csrf_token"' in page
    for kind in VulnerabilityKind:
        assert f'value="{kind.value}"' in page


def test_new_case_is_in_the_navigation(signed_in):
    page = page_of(signed_in.get("/cases/new"))
    assert re.search(r'href="/cases/new"[^>]*>\s*New case', page) or \
        re.search(r'href="/cases/new".*?New case', page, re.S)
    types = set(re.findall(r'name="case_type" type="radio" value="([^"]+)"', page))
    assert {"asb", "hate_crime", "marac"} <= types


def test_a_user_who_may_open_no_type_is_told_why(client, session, owner):
    auditor = user_with_password(session, owner, Role.AUDITOR)
    sign_in(client, auditor)
    for response in (client.get("/cases/new"), client.post("/cases/new", data=form())):
        page = page_of(response)
        assert response.status_code == 200
        assert "You cannot open a case" in page
        assert "auditor" in page
        assert "Anti-social behaviour" in page  # who may open each type
        assert 'value="create"' not in page
    assert count(session, Case) == 0


def test_sign_in_is_needed(client):
    response = client.get("/cases/new")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


# --- invalid input: the message next to the field, everything kept, nothing written -----------


@pytest.mark.parametrize(("changes", "field_id", "message"), [
    ({"case_type": ""}, "case_type", "Choose the type of case"),
    ({"case_type": "marac_nonexistent"}, "case_type", "Choose one of the types of case listed"),
    ({"given_name": "", "family_name": ""}, "family_name", "Enter their name"),
    ({"date_of_birth-day": "31", "date_of_birth-month": "2"}, "date_of_birth",
     "Date of birth must be a real date"),
    ({"date_of_birth-month": ""}, "date_of_birth", "Date of birth must include a month"),
    ({"date_of_birth-year": "2031"}, "date_of_birth", "Date of birth must be in the past"),
    ({"date_of_birth-day": "2", "date_of_birth-month": "3", "date_of_birth-year": "2026"},
     "date_of_birth", "Date of birth must be in the past"),  # today
    ({"date_of_birth-year": "80"}, "date_of_birth", "Year must include 4 numbers"),
    ({"postcode": "NOT A CODE"}, "postcode", "Enter a real postcode"),
    ({"location_postcode": "12345"}, "location_postcode", "Enter a real postcode"),
    ({"title": ""}, "title", "Enter a short title"),
    ({"location_address": "", "location_description": ""}, "location_address",
     "Enter the address where it happened"),
    ({"preferred_contact": "phone", "phone": ""}, "phone", "Enter a phone number"),
    ({"email": "not-an-address"}, "email", "Enter an e-mail address in the correct format"),
    ({"address_line_1": ""}, "address_line_1", "Enter the first line of their address"),
    ({"perpetrator_family_name": "Grimsby"}, "perpetrator_role",
     "Choose whether it is known they did it"),
    ({"perpetrator_role": "alleged_perpetrator"}, "perpetrator_family_name", "Enter their name"),
])
def test_each_problem_is_shown_next_to_its_field_and_everything_is_kept(
    signed_in, session, changes, field_id, message
):
    people, locations = count(session, Person), count(session, Location)
    data = form(**changes)
    response = signed_in.post("/cases/new", data=data)
    page = page_of(response)
    assert response.status_code == 400
    assert message in error_next_to(page, field_id)
    assert "There is a problem" in page  # the error summary, linking to the field
    anchor = "date_of_birth-day" if field_id == "date_of_birth" else field_id
    assert f'href="#{anchor}"' in page
    assert f'id="{anchor}"' in page
    # What was typed is all still there.
    for name in ("title", "summary", "phone", "location_area"):
        if data[name]:
            assert data[name] in page
    for name in ("given_name", "family_name", "date_of_birth-day", "date_of_birth-month",
                 "date_of_birth-year", "postcode", "location_postcode"):
        assert value_of(page, name) == data[name]
    assert 'value="disability" checked' in page
    assert 'value="social_isolation" checked' in page
    assert 'value="phone" checked' in page
    if data["case_type"] == "asb":
        assert 'value="asb" checked' in page
    # And nothing was written.
    assert count(session, Case) == 0
    assert count(session, Person) == people
    assert count(session, Location) == locations


@pytest.mark.parametrize(("changes", "field_id", "message"), [
    ({"given_name": "", "family_name": ""}, "family_name", "Enter their name"),
    ({"date_of_birth-day": "30", "date_of_birth-month": "2"}, "date_of_birth", "real date"),
    ({"date_of_birth-year": "2027"}, "date_of_birth", "in the past"),
    ({"postcode": "ZZZ"}, "postcode", "Enter a real postcode"),
])
def test_the_check_needs_a_name_and_a_real_date_and_postcode(signed_in, changes, field_id,
                                                            message):
    response = signed_in.post("/cases/new", data=form(action="check", **changes))
    page = page_of(response)
    assert response.status_code == 400
    assert message in error_next_to(page, field_id)
    assert "Ottoline" in page or not changes.get("given_name", "x")
    assert 'value="Noise from the flat above"' in page


def test_the_check_does_not_complain_about_the_rest_of_the_page(signed_in):
    response = signed_in.post("/cases/new", data=form(action="check", case_type="", title=""))
    page = page_of(response)
    assert response.status_code == 200
    assert "There is a problem" not in page
    assert "Nobody on Casebridge matches" in page


def test_an_unknown_button_is_a_bad_request(signed_in):
    assert signed_in.post("/cases/new", data=form(action="delete")).status_code == 400


# --- the duplicate check ----------------------------------------------------------------------


def test_check_finds_someone_keyed_with_a_typo_with_reasons_and_report_counts(
    signed_in, session, owner, john, frozen_clock
):
    open_as_victim(session, owner, john, NOW - timedelta(days=40), frozen_clock)
    open_as_victim(session, owner, john, NOW - timedelta(days=300), frozen_clock,
                   role=ParticipantRole.COMPLAINANT)
    open_as_victim(session, owner, john, NOW - timedelta(days=500), frozen_clock)  # too old
    open_as_victim(session, owner, john, NOW - timedelta(days=20), frozen_clock,
                   role=ParticipantRole.WITNESS)  # not a report of theirs
    response = signed_in.post("/cases/new", data=form(action="check", **JON))
    page = page_of(response)
    assert response.status_code == 200
    assert "John Smith" in page
    assert "3 July 1980" in page
    assert "AB1 2CD" in page
    assert "Same date of birth" in page
    assert "Similar name" in page
    assert "1 in the last 6 months" in page
    assert "2 in the last 12 months" in page
    assert f'name="person" type="radio" value="{john.id}"' in page
    assert 'value="new"' in page
    assert "None of these: create a new person" in page
    assert "Repeat victim" not in page
    assert checked_key(page)
    # Nothing is created by a check, and the search is audited without anything personal.
    assert count(session, Case) == 4
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == AuditAction.SEARCH)
        .order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    assert entry.entity_type == "people"
    detail = json.loads(entry.changes)["detail"]
    assert detail["matches"] == 1
    assert "Jon" not in entry.changes
    assert "Smith" not in entry.changes
    assert "1980" not in entry.changes


def test_a_repeat_victim_is_called_out(signed_in, session, owner, john, frozen_clock):
    for days_ago in (150, 90, 10):
        open_as_victim(session, owner, john, NOW - timedelta(days=days_ago), frozen_clock)
    page = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    assert "govuk-warning-text" in page
    assert "Repeat victim: 3 reports in the last 6 months" in page
    assert "3 in the last 6 months" in page


def test_two_reports_are_not_yet_a_repeat_victim(signed_in, session, owner, john, frozen_clock):
    for days_ago in (250, 90, 10):  # one of them is more than 6 months ago
        open_as_victim(session, owner, john, NOW - timedelta(days=days_ago), frozen_clock)
    page = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    assert "2 in the last 6 months" in page
    assert "3 in the last 12 months" in page
    assert "govuk-warning-text" not in page


def test_cases_of_agencies_the_user_cannot_see_show_only_who_knows_them(
    signed_in, session, owner, john, frozen_clock
):
    council = factories.agency(session, AgencyType.COUNCIL)
    ours = open_as_victim(session, owner, john, NOW - timedelta(days=30), frozen_clock)
    frozen_clock.set(NOW - timedelta(days=60))
    theirs = factories.open_case(session, SYSTEM, case_type="asb",
                                 title="Council's own case title", owning_agency_id=council.id)
    add_participant(session, SYSTEM, case_id=theirs.id, role=ParticipantRole.VICTIM,
                    person_id=john.id)
    session.commit()
    frozen_clock.set(NOW)
    page = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    assert f'href="/cases/{ours.reference}"' in page
    assert theirs.reference not in page
    assert "Council&#39;s own case title" not in page
    assert "Council's own case title" not in page
    assert f"Known to {council.name}" in page
    assert "2 in the last 6 months" in page  # reports are counted across every agency


def test_a_restricted_person_of_another_agency_shows_only_a_name_and_a_contact(
    signed_in, session, owner, frozen_clock
):
    refuge = factories.agency(session, AgencyType.DOMESTIC_ABUSE_SERVICE)
    refuge.contact_phone = "01632 960000"
    hidden = create_person(session, factories.actor_for(factories.user(session, refuge)),
                           given_name="John", family_name="Smith",
                           date_of_birth=date(1980, 7, 3), restricted=True)
    session.commit()
    open_as_victim(session, refuge, hidden, NOW - timedelta(days=5), frozen_clock)
    page = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    assert "John Smith" in page
    assert "restricted record" in page
    assert refuge.name in page
    assert "01632 960000" in page
    assert "3 July 1980" not in page
    assert "in the last 6 months" not in page
    assert f'value="{hidden.id}"' in page  # they can still be used


def test_nobody_matching_says_so(signed_in):
    page = page_of(signed_in.post("/cases/new", data=form(action="check")))
    assert "Nobody on Casebridge matches" in page
    assert 'name="person" type="radio"' not in page


# --- creating ---------------------------------------------------------------------------------


def case_by_reference(session, location: str) -> Case:
    reference = location.rsplit("/", 1)[-1]
    case = session.scalar(select(Case).where(Case.reference == reference))
    assert case is not None
    return case


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as state:
        return list(state.get("_flashes", []))


def test_create_without_a_check_shows_the_matches_first(signed_in, session, john):
    people = count(session, Person)
    response = signed_in.post("/cases/new", data=form(**JON))
    page = page_of(response)
    assert response.status_code == 200
    assert "The case has not been created yet" in page
    assert "John Smith" in page
    assert f'value="{john.id}"' in page
    assert count(session, Case) == 0
    assert count(session, Person) == people
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == AuditAction.SEARCH)) >= 1
    # Creating again without choosing asks for a choice, keeping everything typed.
    again = signed_in.post("/cases/new", data=form(**JON, checked=checked_key(page)))
    assert again.status_code == 400
    assert "Choose the person if they are already on Casebridge" in \
        error_next_to(page_of(again), "person")
    assert 'href="#person"' in page_of(again)
    assert 'value="Noise from the flat above"' in page_of(again)
    assert count(session, Case) == 0


def test_choosing_the_match_puts_the_existing_person_on_the_case(signed_in, session, john):
    check = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    people = count(session, Person)
    response = signed_in.post("/cases/new", data=form(**JON, person=str(john.id),
                                                      checked=checked_key(check)))
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    assert response.headers["Location"].endswith(f"/cases/{case.reference}")
    assert case.reference.startswith("ASB-")
    assert count(session, Person) == people  # no new person row
    roles = {(p.role, p.person_id, p.location_id) for p in case.participants}
    assert (ParticipantRole.VICTIM, john.id, None) in roles
    assert ("success", f"Case {case.reference} opened") in flashes(signed_in)


def test_none_of_these_records_a_new_person(signed_in, session, practitioner, john):
    check = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    people = count(session, Person)
    response = signed_in.post("/cases/new", data=form(**{**JON, "person": "new",
                                                         "checked": checked_key(check)}))
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    assert count(session, Person) == people + 1
    victim = next(p.person for p in case.participants if p.role is ParticipantRole.VICTIM)
    assert victim.id != john.id
    assert (victim.given_name, victim.family_name) == ("Jon", "Smith")
    assert case.owning_agency_id == practitioner.agency_id
    assert case.lead_officer_id == practitioner.id


def test_changing_the_name_after_the_check_means_checking_again(signed_in, session, john):
    check = page_of(signed_in.post("/cases/new", data=form(action="check")))  # Ottoline
    assert "Nobody on Casebridge matches" in check
    response = signed_in.post("/cases/new", data=form(**JON, checked=checked_key(check)))
    assert response.status_code == 200
    assert "The case has not been created yet" in page_of(response)
    assert count(session, Case) == 0


def test_a_new_person_with_everything_typed(signed_in, session, practitioner):
    people = count(session, Person)
    response = signed_in.post("/cases/new", data=form(
        risk_level="high", perpetrator_given_name="Gideon", perpetrator_family_name="Grimsby",
        perpetrator_role="alleged_perpetrator",
    ))
    # Nobody matches, so the check runs in the same request and the case is created.
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    assert case.title == "Noise from the flat above"
    assert case.summary == "Music at night"
    assert case.case_type == "asb"
    assert case.risk_level == "high"
    assert count(session, Person) == people + 2
    by_role = {p.role: p for p in case.participants}
    victim = by_role[ParticipantRole.VICTIM].person
    assert victim.date_of_birth == date(1971, 6, 14)
    assert victim.phone == "07700 900982"
    assert victim.preferred_contact == "phone"
    assert {v.kind for v in victim.vulnerabilities} == {
        VulnerabilityKind.DISABILITY, VulnerabilityKind.SOCIAL_ISOLATION}
    assert victim.addresses[0].location.postcode == "NT1 4AB"
    place = by_role[ParticipantRole.INCIDENT_LOCATION].location
    assert place.area == "Riverside"
    # The victim's home and the incident address are one location, not two.
    assert place.id == victim.addresses[0].location_id
    responsible = by_role[ParticipantRole.ALLEGED_PERPETRATOR].person
    assert responsible.full_name == "Gideon Grimsby"
    created = session.scalars(select(AuditEntry.entity_type).where(
        AuditEntry.action == AuditAction.CREATE, AuditEntry.case_id == case.id)).all()
    assert "cases" in created or created  # the services audit what they create


def test_an_existing_location_is_reused(signed_in, session):
    known = create_location(session, SYSTEM, address_line_1="12 Mill Lane", postcode="AB1 2CD",
                            area="Old Town")
    session.commit()
    locations = count(session, Location)
    response = signed_in.post("/cases/new", data=form(
        address_line_1="", town="", postcode="",
        location_address="  12 MILL lane ", location_postcode="ab12cd", location_area="",
    ))
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    place = next(p for p in case.participants if p.role is ParticipantRole.INCIDENT_LOCATION)
    assert place.location_id == known.id
    assert count(session, Location) == locations


def test_a_place_without_an_address_is_recorded_by_its_description(signed_in, session):
    response = signed_in.post("/cases/new", data=form(
        location_address="", location_description="The play park behind Mill Lane",
        location_postcode="",
    ))
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    place = next(p for p in case.participants if p.role is ParticipantRole.INCIDENT_LOCATION)
    assert place.location.description == "The play park behind Mill Lane"


def test_a_complainant_is_recorded_as_such(signed_in, session):
    response = signed_in.post("/cases/new", data=form(person_role="complainant"))
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    assert ParticipantRole.COMPLAINANT in {p.role for p in case.participants}


def test_a_type_the_user_may_not_open_is_refused(client, session):
    victim_service = factories.agency(session, AgencyType.VICTIM_SERVICE)
    user = user_with_password(session, victim_service, Role.PRACTITIONER)
    sign_in(client, user)
    response = client.post("/cases/new", data=form(case_type="asb"))
    assert response.status_code == 400
    assert "Choose one of the types of case listed" in error_next_to(page_of(response),
                                                                    "case_type")
    assert count(session, Case) == 0


def test_months_before_keeps_to_real_dates():
    assert months_before(datetime(2026, 3, 2, 9, tzinfo=UTC), 6) == \
        datetime(2025, 9, 2, 9, tzinfo=UTC)
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 2, tzinfo=UTC), 12) == datetime(2025, 3, 2, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 1) == datetime(2025, 12, 15, tzinfo=UTC)

"""Person and location profiles: shared details, cases only where the user may see them,
locked profiles, repeat-victim and hot-spot call-outs, and the audit of every view."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant, share_case
from storage.flags.models import Flag, FlagKind
from storage.people.models import AddressKind, PersonAddress
from storage.people.services import create_location, create_person
from tests import factories
from tests.storage.helpers import ASB_PATH, audit_entries
from tests.web.conftest import sign_in, user_with_password

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STUBS = {"cases.show": "/cases/<reference>"}
# Answers to the ASB risk matrix that score as high risk.
HIGH_RISK = dict.fromkeys(ASB_PATH["risk_assessment"], "yes") | {
    "assessor_view": "high", "judgement_reason": "Targeted and frightened to go out",
}


@pytest.fixture
def app(app):
    """The case page is built by someone else: stand in for it if it is not there yet."""
    for endpoint, rule in STUBS.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda **_: "stand-in page")
    return app


def text(response) -> str:
    """The page's words with tags dropped and spaces collapsed, as a reader sees them."""
    words = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(words))


@pytest.fixture
def elsewhere(session):
    """Another agency in the partnership, with a contact address."""
    agency = factories.agency(session, AgencyType.HOUSING)
    agency.contact_email = "asb-team@housing.example"
    session.commit()
    return agency


def open_case_at(session, frozen_clock, agency, when, *, title="Noise on Test Street",
                 person=None, role=ParticipantRole.VICTIM, location=None):
    """A real ASB case opened at `when`, with the person and/or place on it."""
    frozen_clock.set(when)
    case = factories.open_case(session, factories.SYSTEM, case_type="asb", title=title,
                               owning_agency_id=agency.id)
    if person is not None:
        add_participant(session, factories.SYSTEM, case_id=case.id, role=role,
                        person_id=person.id)
    if location is not None:
        add_participant(session, factories.SYSTEM, case_id=case.id,
                        role=ParticipantRole.INCIDENT_LOCATION, location_id=location.id)
    frozen_clock.set(NOW)
    session.commit()
    return case


def person_view_entries(session, person):
    return [e for e in audit_entries(session, action=AuditAction.VIEW, entity_type="people")
            if e.entity_id == str(person.id)]


# --- the person profile ---------------------------------------------------------------------


def test_person_profile_shows_details_and_cases_of_other_agencies_only_as_held_by(
        frozen_clock, session, signed_in, owner, practitioner, elsewhere):
    actor = factories.actor_for(practitioner)
    person = create_person(
        session, actor, given_name="Robin", family_name="Example", known_as="Rob",
        date_of_birth=date(1985, 3, 27), preferred_contact="phone", phone="07700 900123",
        safe_to_leave_messages=False, vulnerabilities=["disability"],
    )
    session.add(Flag(kind=FlagKind.RISK_TO_STAFF, person_id=person.id, detail="Dog at home"))
    session.add(Flag(kind=FlagKind.WEAPONS, person_id=person.id, detail="Cleared long ago",
                     cleared_at=NOW, cleared_by_id=practitioner.id))
    ours = open_case_at(session, frozen_clock, owner, NOW - timedelta(days=10),
                        title="Our own case", person=person)
    theirs = open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=20),
                          title="Housing's private case", person=person,
                          role=ParticipantRole.WITNESS)

    response = signed_in.get(f"/people/{person.id}")

    assert response.status_code == 200
    page = text(response)
    assert "Robin Example" in page
    assert "Rob" in page
    assert "27 March 1985 (age 40)" in page
    assert "Disability" in page
    assert "Risk to staff" in page
    assert "Dog at home" in page
    assert "Cleared long ago" not in page, "a cleared flag is not shown"
    assert "07700 900123" in page, "an agency working with the person sees how to contact them"
    assert f'href="/cases/{ours.reference}"' in response.get_data(as_text=True)
    assert "Our own case" in page
    assert "Victim" in page
    assert f"A case held by {elsewhere.name}: contact them ( asb-team@housing.example )" in page
    assert theirs.reference not in page
    assert "Housing's private case" not in page
    assert "Repeat victim" not in page
    [entry] = person_view_entries(session, person)
    assert entry.case_id is None
    assert entry.actor_user_id == practitioner.id


def test_contact_preferences_only_for_agencies_working_with_the_person(
        frozen_clock, session, client, owner, elsewhere):
    stranger = user_with_password(session, factories.agency(session), Role.PRACTITIONER)
    colleague = user_with_password(session, elsewhere, Role.PRACTITIONER)
    person = create_person(session, factories.actor_for(colleague), given_name="Sam",
                           family_name="Sample", preferred_contact="phone",
                           phone="07700 900456")
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=3), person=person)

    sign_in(client, stranger)
    page = text(client.get(f"/people/{person.id}"))
    assert "Sam Sample" in page
    assert "07700 900456" not in page
    assert "Contact preferences are shown to the agencies working with this person" in page
    assert f"A case held by {owner.name}: contact them" in page

    client.post("/sign-out")
    sign_in(client, colleague)
    page = text(client.get(f"/people/{person.id}"))
    assert "07700 900456" in page, "the agency that recorded the person sees their contact"


def test_restricted_person_shows_others_only_the_name_and_the_agencies_working_with_them(
        frozen_clock, session, client, owner, practitioner, elsewhere):
    partner = factories.agency(session, AgencyType.VICTIM_SERVICE)
    person = create_person(
        session, factories.SYSTEM, given_name="Jo", family_name="Hidden", known_as="Jojo",
        date_of_birth=date(1990, 6, 1), preferred_contact="phone", phone="07700 900789",
        vulnerabilities=["domestic_abuse"], restricted=True,
    )
    session.add(Flag(kind=FlagKind.DOMESTIC_ABUSE, person_id=person.id, detail="Refuge"))
    case = open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=5),
                        title="Jo's case", person=person)
    share_case(session, factories.SYSTEM, case_id=case.id, agency_id=partner.id)
    session.commit()

    sign_in(client, practitioner)  # works for `owner`, which has none of Jo's cases
    response = client.get(f"/people/{person.id}")
    assert response.status_code == 200
    page = text(response)
    assert "Jo Hidden" in page
    assert "Restricted" in page
    assert "This profile is restricted" in page
    assert elsewhere.name in page
    assert partner.name in page
    for detail in ("Jojo", "1990", "07700 900789", "Domestic abuse", "Refuge", case.reference,
                   "Jo's case", "held by", "Reports", "Risk history"):
        assert detail not in page, detail
    [entry] = person_view_entries(session, person)
    assert json.loads(entry.changes)["detail"] == {"view": "name and agencies only (restricted)"}

    client.post("/sign-out")
    sign_in(client, user_with_password(session, partner, Role.PRACTITIONER))
    page = text(client.get(f"/people/{person.id}"))
    assert "07700 900789" in page
    assert "Domestic abuse" in page
    assert case.reference in page
    assert "agencies not working with this person see only the name" in page

    client.post("/sign-out")
    sign_in(client, user_with_password(session, owner, Role.AUDITOR))
    assert "07700 900789" in text(client.get(f"/people/{person.id}")), \
        "partnership-wide roles see every profile"


def test_repeat_victim_is_called_out_at_three_reports_in_six_months_across_agencies(
        frozen_clock, session, signed_in, owner, elsewhere):
    person = create_person(session, factories.SYSTEM, given_name="Kim", family_name="Often")
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=200), person=person)
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=400), person=person)
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=30), person=person,
                 role=ParticipantRole.WITNESS)  # a witness has not reported anything
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=60), person=person)
    open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=90), person=person,
                 role=ParticipantRole.COMPLAINANT)

    page = text(signed_in.get(f"/people/{person.id}"))
    assert "In the last 6 months 2" in page
    assert "In the last 12 months 3" in page
    assert "Repeat victim" not in page

    open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=1), person=person,
                 role=ParticipantRole.APPLICANT)
    page = text(signed_in.get(f"/people/{person.id}"))
    assert "In the last 6 months 3" in page
    assert "Warning Repeat victim: 3 reports in the last 6 months across the partnership" in page
    assert f"2 cases held by {elsewhere.name}: contact them" in page


def test_risk_history_shows_each_case_opening_and_its_risk_changes(
        frozen_clock, session, signed_in, owner):
    person = create_person(session, factories.SYSTEM, given_name="Lee", family_name="Risky")
    case = open_case_at(session, frozen_clock, owner, NOW - timedelta(days=3), person=person)
    factories.submit(session, case, ASB_PATH["report"], key="report")
    frozen_clock.advance(timedelta(minutes=5))  # (the session idles out after longer)
    factories.submit(session, case, HIGH_RISK, key="risk_assessment")
    session.commit()
    assert case.risk_level.value == "high"

    page = text(signed_in.get(f"/people/{person.id}"))
    history = page[page.index("Risk history"):]
    assert "Risk changed from standard High" in history
    assert "Case opened" in history
    assert "Risk assessed Standard" in history
    assert history.index("Risk changed") < history.index("Risk assessed") < history.index(
        "Case opened"), "newest first"


def test_unknown_person_is_not_found_and_signing_in_is_required(client, signed_in):
    assert signed_in.get("/people/999999").status_code == 404
    signed_in.post("/sign-out")
    response = signed_in.get("/people/1")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


# --- the location profile -------------------------------------------------------------------


def test_location_profile_shows_the_place_its_cases_and_who_lives_there(
        frozen_clock, session, signed_in, owner, practitioner, elsewhere):
    place = create_location(session, factories.SYSTEM, address_line_1="12 Test Road",
                            town="Testtown", postcode="ab1 2cd", area="North", ward="Riverside")
    session.add(Flag(kind=FlagKind.VIOLENCE, location_id=place.id, detail="Stairwell fights"))
    resident = create_person(session, factories.SYSTEM, given_name="Pat", family_name="Lives",
                             home_location_id=place.id)
    create_person(session, factories.SYSTEM, given_name="Secret", family_name="Resident",
                  home_location_id=place.id, restricted=True)
    moved_out = create_person(session, factories.SYSTEM, given_name="Gone",
                              family_name="Away")
    session.add(PersonAddress(person_id=moved_out.id, location_id=place.id,
                              kind=AddressKind.HOME, from_date=date(2020, 1, 1),
                              until_date=date(2021, 1, 1)))
    ours = open_case_at(session, frozen_clock, owner, NOW - timedelta(days=4),
                        title="Fights on the stairs", location=place)
    theirs = open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=8),
                          title="Housing's stairwell case", location=place)

    response = signed_in.get(f"/locations/{place.id}")

    assert response.status_code == 200
    page = text(response)
    assert "12 Test Road" in page
    assert "AB1 2CD" in page
    assert "North" in page
    assert "Riverside" in page
    assert "Violence" in page
    assert "Stairwell fights" in page
    assert ours.reference in page
    assert "Fights on the stairs" in page
    assert f"A case held by {elsewhere.name}: contact them" in page
    assert theirs.reference not in page
    assert "Housing's stairwell case" not in page
    assert "In the last 6 months 2" in page
    assert "Pat Lives" in page
    assert f'href="/people/{resident.id}"' in response.get_data(as_text=True)
    assert "Secret Resident" not in page, "a restricted person's address is not given away"
    assert "Gone Away" not in page, "someone who moved out does not live here"
    assert "Hot spot" not in page
    [entry] = audit_entries(session, action=AuditAction.VIEW, entity_type="locations")
    assert entry.entity_id == str(place.id)
    assert entry.case_id is None


def test_hot_spot_is_called_out_at_five_reports_in_six_months(
        frozen_clock, session, signed_in, owner, elsewhere):
    place = create_location(session, factories.SYSTEM, description="The play park")
    for days, agency in ((10, owner), (40, elsewhere), (80, owner), (120, elsewhere)):
        open_case_at(session, frozen_clock, agency, NOW - timedelta(days=days), location=place)
    open_case_at(session, frozen_clock, owner, NOW - timedelta(days=250), location=place)

    page = text(signed_in.get(f"/locations/{place.id}"))
    assert "In the last 6 months 4" in page
    assert "In the last 12 months 5" in page
    assert "Hot spot" not in page

    open_case_at(session, frozen_clock, elsewhere, NOW - timedelta(days=2), location=place)
    page = text(signed_in.get(f"/locations/{place.id}"))
    assert "Warning Hot spot: 5 reports about this location in the last 6 months" in page


def test_unknown_location_is_not_found(signed_in):
    assert signed_in.get("/locations/999999").status_code == 404

"""People and locations: validated profiles, normalised postcodes, audited creation."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from storage.audit.models import AuditAction
from storage.errors import InvalidRequest
from storage.people.models import AddressKind, ContactMethod, VulnerabilityKind
from storage.people.services import create_location, create_person, normalise_postcode
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM


def errors_of(caught) -> set[str]:
    return set(caught.value.field_errors)


# --- locations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ab12cd", "AB1 2CD"),
        ("AB1 2CD", "AB1 2CD"),
        ("  sw1a   1aa ", "SW1A 1AA"),
        ("m11ae", "M1 1AE"),
        ("ec1a1bb", "EC1A 1BB"),
    ],
)
def test_postcodes_are_normalised(typed, stored):
    assert normalise_postcode(typed) == stored


def test_location_is_saved_with_a_normalised_postcode_and_audited(session):
    location = create_location(session, SYSTEM, address_line_1="1 Test Street",
                               town="Testtown", postcode="ab12cd", latitude=51.5,
                               longitude=-0.12)
    session.commit()
    assert location.postcode == "AB1 2CD"
    assert location.one_line() == "1 Test Street, Testtown, AB1 2CD"
    [entry] = audit_entries(session, entity_type="locations")
    assert (entry.action, entry.entity_id) == (AuditAction.CREATE, str(location.id))
    assert json.loads(entry.changes)["after"]["postcode"] == "AB1 2CD"


def test_a_place_without_an_address_needs_a_description(session):
    with pytest.raises(InvalidRequest) as caught:
        create_location(session, SYSTEM, address_line_1="  ", description="")
    assert errors_of(caught) == {"address_line_1"}
    assert create_location(session, SYSTEM, description="Stairwell, Block C").id


@pytest.mark.parametrize("postcode", ["12345", "ABC", "A 1", "AB12CDE", "Q1 1Q1"])
def test_postcode_that_is_not_postcode_shaped_is_refused(session, postcode):
    with pytest.raises(InvalidRequest) as caught:
        create_location(session, SYSTEM, address_line_1="1 Test Street", postcode=postcode)
    assert errors_of(caught) == {"postcode"}


@pytest.mark.parametrize(
    ("latitude", "longitude", "fields"),
    [
        (51.5, None, {"latitude"}),
        (None, -0.12, {"latitude"}),
        (91.0, 0.0, {"latitude"}),
        (0.0, 181.0, {"longitude"}),
        (-91.0, -181.0, {"latitude", "longitude"}),
    ],
)
def test_coordinates_come_in_pairs_on_the_earth(session, latitude, longitude, fields):
    with pytest.raises(InvalidRequest) as caught:
        create_location(session, SYSTEM, description="Somewhere", latitude=latitude,
                        longitude=longitude)
    assert errors_of(caught) == fields


# --- people ---------------------------------------------------------------------------------


def test_person_is_saved_with_vulnerabilities_home_address_and_an_audit_entry(
    session, frozen_clock
):
    agency = factories.agency(session)
    user = factories.user(session, agency)
    home = create_location(session, SYSTEM, address_line_1="2 Test Road", postcode="ab12cd")
    person = create_person(
        session, factories.actor_for(user), given_name=" Robin ", family_name="Example",
        date_of_birth=date(1950, 5, 17), preferred_contact="phone", phone="01234 567890",
        vulnerabilities=["age", VulnerabilityKind.SOCIAL_ISOLATION, "age"],
        home_location_id=home.id,
    )
    session.commit()

    assert person.full_name == "Robin Example"
    assert person.preferred_contact is ContactMethod.PHONE
    assert person.created_by_agency_id == agency.id
    assert sorted(v.kind for v in person.vulnerabilities) == [
        VulnerabilityKind.AGE, VulnerabilityKind.SOCIAL_ISOLATION
    ]
    assert {v.recorded_by_id for v in person.vulnerabilities} == {user.id}
    assert [(a.location_id, a.kind) for a in person.addresses] == [(home.id, AddressKind.HOME)]

    [entry] = audit_entries(session, entity_type="people")
    assert (entry.entity_id, entry.actor_user_id) == (str(person.id), user.id)
    after = json.loads(entry.changes)["after"]
    assert after["date_of_birth"] == "1950-05-17"
    assert after["vulnerabilities"] == ["age", "social_isolation"]


def test_one_name_is_enough_but_none_is_not(session):
    assert create_person(session, SYSTEM, family_name="Example").full_name == "Example"
    assert create_person(session, SYSTEM, given_name="Robin").full_name == "Robin"
    with pytest.raises(InvalidRequest) as caught:
        create_person(session, SYSTEM, given_name="  ", family_name=" ")
    assert errors_of(caught) == {"family_name"}


def test_date_of_birth_cannot_be_in_the_future(session, frozen_clock):
    tomorrow = frozen_clock.now().date() + timedelta(days=1)
    with pytest.raises(InvalidRequest) as caught:
        create_person(session, SYSTEM, given_name="Robin", date_of_birth=tomorrow)
    assert errors_of(caught) == {"date_of_birth"}
    today = create_person(session, SYSTEM, given_name="Baby",
                          date_of_birth=frozen_clock.now().date())
    assert today.id


def test_preferred_contact_needs_the_detail_it_uses(session):
    with pytest.raises(InvalidRequest) as caught:
        create_person(session, SYSTEM, given_name="Robin", preferred_contact="phone")
    assert errors_of(caught) == {"phone"}
    with pytest.raises(InvalidRequest) as caught:
        create_person(session, SYSTEM, given_name="Robin", preferred_contact=ContactMethod.EMAIL)
    assert errors_of(caught) == {"email"}


def test_unknown_contact_method_and_vulnerability_are_refused(session):
    with pytest.raises(InvalidRequest) as caught:
        create_person(session, SYSTEM, given_name="Robin", preferred_contact="pigeon",
                      vulnerabilities=["unlucky"])
    assert errors_of(caught) == {"preferred_contact", "vulnerabilities"}

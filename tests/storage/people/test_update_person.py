"""Changing a person's details: validated like creation, the search forms of the names kept
in step, every change audited with what changed, a stale change refused as a conflict, and
only the agencies working with the person allowed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.audit.models import AuditAction
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant, share_case
from storage.db import unit_of_work
from storage.errors import AccessDenied, ConcurrencyConflict, InvalidRequest, NotFound
from storage.people.models import AddressKind, ContactMethod, Person, VulnerabilityKind
from storage.people.services import create_location, create_person, update_person
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM


@pytest.fixture
def agency(session):
    return factories.agency(session)


@pytest.fixture
def officer(session, agency):
    return factories.user(session, agency, Role.PRACTITIONER)


@pytest.fixture
def actor(officer):
    return factories.actor_for(officer)


@pytest.fixture
def robin(session, actor, frozen_clock):
    """Recorded by `officer`'s agency, so `officer` works with them."""
    person = create_person(
        session, actor, given_name="Robin", family_name="Example", date_of_birth=date(1980, 1, 2),
        preferred_contact="phone", phone="07700 900111", vulnerabilities=["age"],
    )
    session.commit()
    return person


def update_entries(session, person):
    return [e for e in audit_entries(session, action=AuditAction.UPDATE, entity_type="people")
            if e.entity_id == str(person.id)]


def errors_of(caught) -> set[str]:
    return set(caught.value.field_errors)


# --- a valid change ---------------------------------------------------------------------------


def test_details_are_changed_and_only_what_changed_is_audited(
        session, actor, officer, robin, frozen_clock):
    loaded = robin.updated_at
    frozen_clock.advance(timedelta(minutes=5))
    changed = update_person(
        session, actor, robin.id, expected_updated_at=loaded,
        given_name=" Robyn ", known_as="Bee", date_of_birth=date(1981, 2, 3),
        preferred_contact="email", email="robyn@example.test", phone="07700 900111",
        safe_to_leave_messages=False, contact_notes="Only after 6pm", needs_interpreter=True,
        language="Welsh",
    )
    session.commit()

    assert changed is robin
    assert (robin.given_name, robin.family_name, robin.known_as) == ("Robyn", "Example", "Bee")
    assert robin.date_of_birth == date(1981, 2, 3)
    assert robin.preferred_contact is ContactMethod.EMAIL
    assert (robin.email, robin.phone) == ("robyn@example.test", "07700 900111")
    assert robin.safe_to_leave_messages is False
    assert (robin.needs_interpreter, robin.language) == (True, "Welsh")
    assert robin.updated_at == frozen_clock.now() > loaded

    [entry] = update_entries(session, robin)
    assert entry.actor_user_id == officer.id
    changes = json.loads(entry.changes)
    assert changes["before"] == {
        "given_name": "Robin", "known_as": None, "date_of_birth": "1980-01-02",
        "preferred_contact": "phone", "email": None, "safe_to_leave_messages": None,
        "contact_notes": None, "needs_interpreter": False, "language": None,
    }
    assert changes["after"] == {
        "given_name": "Robyn", "known_as": "Bee", "date_of_birth": "1981-02-03",
        "preferred_contact": "email", "email": "robyn@example.test",
        "safe_to_leave_messages": False, "contact_notes": "Only after 6pm",
        "needs_interpreter": True, "language": "Welsh",
    }
    assert "family_name" not in changes["after"], "an unchanged field is not in the entry"
    assert "search_given" not in changes["after"], "the derived search forms are not audited"


def test_what_is_not_given_stays_as_it_is(session, actor, robin):
    update_person(session, actor, robin.id, family_name="Sample")
    session.commit()
    assert robin.full_name == "Robin Sample"
    assert robin.phone == "07700 900111"
    assert robin.date_of_birth == date(1980, 1, 2)
    assert [m.kind for m in robin.vulnerabilities] == [VulnerabilityKind.AGE]


def test_blank_optional_details_are_cleared(session, actor, robin):
    update_person(session, actor, robin.id, preferred_contact="", phone="  ",
                  date_of_birth=None, known_as="")
    session.commit()
    assert (robin.preferred_contact, robin.phone, robin.date_of_birth, robin.known_as) == (
        None, None, None, None)


@pytest.mark.parametrize(
    ("changes", "search_given", "search_family"),
    [
        ({"given_name": "Zoë"}, "zoe", "example"),
        ({"known_as": "Bobbie"}, "robin bobbie", "example"),
        ({"family_name": "O'Brien-Smith"}, "robin", "obrien smith"),
        ({"given_name": "", "family_name": "Ñúñez"}, "", "nunez"),
    ],
)
def test_search_forms_follow_the_names(session, actor, robin, changes, search_given,
                                       search_family):
    update_person(session, actor, robin.id, **changes)
    session.commit()
    stored = session.execute(
        select(Person.search_given, Person.search_family).where(Person.id == robin.id)
    ).one()
    assert tuple(stored) == (search_given, search_family)


def test_vulnerability_markers_are_added_and_removed_keeping_the_others(
        session, actor, officer, robin):
    [age] = robin.vulnerabilities
    age.detail = "Over 80"
    age.recorded_by_id = None  # recorded by the system, say
    session.commit()

    update_person(session, actor, robin.id,
                  vulnerabilities=["age", VulnerabilityKind.CARER, "mental_health"])
    session.commit()
    markers = {m.kind: m for m in robin.vulnerabilities}
    assert set(markers) == {VulnerabilityKind.AGE, VulnerabilityKind.CARER,
                            VulnerabilityKind.MENTAL_HEALTH}
    assert markers[VulnerabilityKind.AGE].detail == "Over 80", "a kept marker keeps its detail"
    assert markers[VulnerabilityKind.AGE].recorded_by_id is None
    assert markers[VulnerabilityKind.CARER].recorded_by_id == officer.id

    update_person(session, actor, robin.id, vulnerabilities=["carer"])
    session.commit()
    assert [m.kind for m in robin.vulnerabilities] == [VulnerabilityKind.CARER]
    last = json.loads(update_entries(session, robin)[-1].changes)
    assert last == {"before": {"vulnerabilities": ["age", "carer", "mental_health"]},
                    "after": {"vulnerabilities": ["carer"]}}


def test_a_new_home_address_records_a_move_and_never_edits_the_shared_location(
        session, actor, robin, frozen_clock):
    today = frozen_clock.now().date()
    old = create_location(session, SYSTEM, address_line_1="1 Old Road", postcode="AB1 2CD")
    new = create_location(session, SYSTEM, address_line_1="2 New Road", postcode="AB3 4EF")
    update_person(session, actor, robin.id, home_location_id=old.id)
    session.commit()
    [first] = robin.addresses
    assert (first.location_id, first.kind, first.from_date) == (old.id, AddressKind.HOME, today)

    update_person(session, actor, robin.id, home_location_id=new.id)
    session.commit()
    assert [(a.location_id, a.kind, a.until_date) for a in robin.addresses] == [
        (old.id, AddressKind.PREVIOUS, today), (new.id, AddressKind.HOME, None)]
    assert old.address_line_1 == "1 Old Road", "the old place is still there for others"
    last = json.loads(update_entries(session, robin)[-1].changes)
    assert last == {"before": {"home_location_id": old.id}, "after": {"home_location_id": new.id}}

    update_person(session, actor, robin.id, home_location_id=None)
    session.commit()
    assert [a.kind for a in robin.addresses] == [AddressKind.PREVIOUS, AddressKind.PREVIOUS]


def test_a_change_that_changes_nothing_writes_nothing(session, actor, robin):
    before = robin.updated_at
    update_person(session, actor, robin.id, given_name="Robin", phone="07700 900111",
                  vulnerabilities=["age"], home_location_id=None, expected_updated_at=before)
    session.commit()
    assert robin.updated_at == before
    assert update_entries(session, robin) == []


def test_the_system_may_change_anyone(session, robin):
    update_person(session, SYSTEM, robin.id, known_as="Rob")
    session.commit()
    [entry] = update_entries(session, robin)
    assert (entry.actor_user_id, entry.actor_label) == (None, "system:tests")


# --- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"given_name": " ", "family_name": ""}, {"family_name"}),
        ({"given_name": "!!", "family_name": "--"}, {"family_name"}),
        ({"given_name": "R" * 101}, {"given_name"}),
        ({"known_as": "x" * 101}, {"known_as"}),
        ({"gender": "g" * 41}, {"gender"}),
        ({"language": "l" * 61}, {"language"}),
        ({"contact_notes": "n" * 2001}, {"contact_notes"}),
        ({"given_name": 42}, {"given_name"}),
        ({"date_of_birth": date(2026, 3, 3)}, {"date_of_birth"}),
        ({"date_of_birth": "1980-01-02"}, {"date_of_birth"}),
        ({"date_of_birth": datetime(1980, 1, 2, tzinfo=UTC)}, {"date_of_birth"}),
        ({"preferred_contact": "pigeon"}, {"preferred_contact"}),
        ({"phone": ""}, {"phone"}),  # they prefer the phone
        ({"phone": "call me"}, {"phone"}),
        ({"preferred_contact": "email"}, {"email"}),
        ({"email": "not an address"}, {"email"}),
        ({"safe_to_leave_messages": "maybe"}, {"safe_to_leave_messages"}),
        ({"needs_interpreter": None}, {"needs_interpreter"}),
        ({"vulnerabilities": ["unlucky"]}, {"vulnerabilities"}),
        ({"vulnerabilities": 7}, {"vulnerabilities"}),
        ({"home_location_id": 999_999}, {"home_location_id"}),
        ({"home_location_id": "1"}, {"home_location_id"}),
        ({"given_name": "", "family_name": "", "preferred_contact": "pigeon",
          "email": "nope", "date_of_birth": date(2030, 1, 1)},
         {"family_name", "preferred_contact", "email", "date_of_birth"}),
    ],
)
def test_invalid_changes_are_refused_field_by_field_and_nothing_changes(
        session, actor, robin, changes, fields):
    before = (robin.given_name, robin.family_name, robin.phone, robin.updated_at)
    with pytest.raises(InvalidRequest) as caught:
        update_person(session, actor, robin.id, **changes)
    assert errors_of(caught) == fields
    assert all(message for message in caught.value.field_errors.values())
    session.rollback()
    session.refresh(robin)
    assert (robin.given_name, robin.family_name, robin.phone, robin.updated_at) == before
    assert update_entries(session, robin) == []


def test_error_messages_never_repeat_what_was_typed(session, actor, robin):
    with pytest.raises(InvalidRequest) as caught:
        update_person(session, actor, robin.id, phone="0770 SECRET", email="secret@",
                      preferred_contact="secret-method", vulnerabilities=["secret-kind"])
    assert "secret" not in str(caught.value).lower()


def test_a_detail_recorded_before_a_rule_does_not_block_other_changes(session, actor, robin):
    robin.phone = "ext. 4412"  # as an import might have recorded it
    session.commit()
    update_person(session, actor, robin.id, given_name="Robyn", phone="ext. 4412")
    session.commit()
    assert robin.given_name == "Robyn"


def test_only_the_changeable_fields_can_be_changed(session, actor, robin):
    with pytest.raises(TypeError, match="restricted"):
        update_person(session, actor, robin.id, restricted=True)
    with pytest.raises(TypeError, match="search_given"):
        update_person(session, actor, robin.id, search_given="someone else")


def test_an_unknown_person_is_not_found(session, actor):
    with pytest.raises(NotFound):
        update_person(session, actor, 999_999, given_name="Nobody")


def test_a_change_begun_before_someone_else_changed_them_is_a_conflict(
        session, actor, robin, frozen_clock):
    loaded = robin.updated_at
    update_person(session, SYSTEM, robin.id, known_as="Rob")  # someone else, the same instant
    session.commit()
    assert robin.updated_at > loaded, "every change moves updated_at, even in one clock tick"

    with pytest.raises(ConcurrencyConflict) as caught:
        update_person(session, actor, robin.id, expected_updated_at=loaded, family_name="Mine")
    assert caught.value.submitted == {"family_name": "Mine"}
    session.rollback()
    session.refresh(robin)
    assert robin.family_name == "Example"

    update_person(session, actor, robin.id, expected_updated_at=robin.updated_at,
                  family_name="Mine")
    session.commit()
    assert robin.family_name == "Mine"


# --- who may change a person ----------------------------------------------------------------


def stranger(session, *roles):
    return factories.actor_for(factories.user(session, factories.agency(session), *roles))


@pytest.mark.parametrize("restricted", [False, True])
def test_an_agency_not_working_with_the_person_is_refused(session, robin, restricted):
    robin.restricted = restricted
    session.commit()
    with pytest.raises(AccessDenied):
        update_person(session, stranger(session), robin.id, given_name="Hijacked")
    session.rollback()
    session.refresh(robin)
    assert robin.given_name == "Robin"
    assert update_entries(session, robin) == []


def test_agencies_that_may_see_one_of_their_cases_may_change_them(session, robin):
    owner, partner = factories.agency(session), factories.agency(session)
    case = factories.asb_case(session, owner)
    add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=robin.id)
    partner_actor = factories.actor_for(factories.user(session, partner))
    session.commit()
    with pytest.raises(AccessDenied):
        update_person(session, partner_actor, robin.id, known_as="Before sharing")
    session.rollback()

    share_case(session, SYSTEM, case_id=case.id, agency_id=partner.id)
    session.commit()
    update_person(session, partner_actor, robin.id, known_as="Shared")
    owner_actor = factories.actor_for(factories.user(session, owner))
    update_person(session, owner_actor, robin.id, gender="Female")
    session.commit()
    assert (robin.known_as, robin.gender) == ("Shared", "Female")


def test_auditors_and_inactive_users_are_refused_and_administrators_allowed(
        session, robin, officer, actor):
    with pytest.raises(AccessDenied):
        update_person(session, stranger(session, Role.AUDITOR), robin.id, known_as="Audit")
    update_person(session, stranger(session, Role.PARTNERSHIP_ADMIN), robin.id, known_as="Adm")
    session.commit()
    assert robin.known_as == "Adm"

    officer.active = False
    session.commit()
    with pytest.raises(AccessDenied):
        update_person(session, actor, robin.id, known_as="Gone")


# --- two people changing the same person at once --------------------------------------------


def test_the_second_of_two_simultaneous_changes_is_a_conflict(scratch_sessions, frozen_clock):
    """Real commits from two connections (SQLite or PostgreSQL): B read before A wrote."""
    with unit_of_work(scratch_sessions) as setup:
        person_id = create_person(setup, SYSTEM, given_name="Sam", family_name="Shared").id
    session_b = scratch_sessions()
    try:
        loaded = session_b.get(Person, person_id).updated_at  # B opens the form
        with unit_of_work(scratch_sessions) as session_a:
            update_person(session_a, SYSTEM, person_id, family_name="Changed by A")
        with pytest.raises(ConcurrencyConflict):
            update_person(session_b, SYSTEM, person_id, expected_updated_at=loaded,
                          family_name="Changed by B")
        session_b.rollback()
    finally:
        session_b.close()
    with unit_of_work(scratch_sessions) as check:
        assert check.get(Person, person_id).family_name == "Changed by A"

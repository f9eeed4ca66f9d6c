"""Who and where a case is about, notes on it, the agencies it is shared with and its links."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import CaseLink, LinkKind, ParticipantRole
from storage.cases.services import add_note, add_participant, link_cases, share_case
from storage.errors import InvalidRequest, NotFound
from storage.people.models import Group
from storage.people.services import create_location, create_person
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def case(session, owner, frozen_clock):
    return factories.asb_case(session, owner)


@pytest.fixture
def person(session):
    return create_person(session, SYSTEM, given_name="Robin", family_name="Example")


@pytest.fixture
def location(session):
    return create_location(session, SYSTEM, description="The play park")


@pytest.fixture
def group(session):
    group = Group(name="Youths at the park")
    session.add(group)
    session.flush()
    return group


# --- participants ---------------------------------------------------------------------------


def test_person_joins_a_case_in_a_role_and_it_is_audited(session, case, person):
    participant = add_participant(session, SYSTEM, case_id=case.id,
                                  role=ParticipantRole.VICTIM, person_id=person.id)
    session.commit()
    assert [p.person_id for p in case.participants] == [person.id]
    [entry] = audit_entries(session, entity_type="case_participants")
    assert (entry.action, entry.case_id, entry.entity_id) == (
        AuditAction.CREATE, case.id, str(participant.id)
    )
    assert json.loads(entry.changes)["after"] == {
        "role": "victim", "person_id": person.id, "location_id": None, "group_id": None
    }


def test_the_same_person_can_have_two_roles_on_two_cases(session, owner, case, person):
    other = factories.asb_case(session, owner)
    add_participant(session, SYSTEM, case_id=case.id, role="victim", person_id=person.id)
    add_participant(session, SYSTEM, case_id=other.id, role="witness", person_id=person.id)
    assert [p.role for p in case.participants + other.participants] == [
        ParticipantRole.VICTIM, ParticipantRole.WITNESS
    ]


def test_a_location_is_always_the_incident_location(session, case, location):
    participant = add_participant(session, SYSTEM, case_id=case.id,
                                  role=ParticipantRole.WITNESS, location_id=location.id)
    assert participant.role is ParticipantRole.INCIDENT_LOCATION


def test_a_person_cannot_be_the_incident_location(session, case, person):
    with pytest.raises(InvalidRequest) as caught:
        add_participant(session, SYSTEM, case_id=case.id,
                        role=ParticipantRole.INCIDENT_LOCATION, person_id=person.id)
    assert set(caught.value.field_errors) == {"role"}


def test_a_participant_is_exactly_one_person_location_or_group(session, case, person, location):
    for subjects in ({}, {"person_id": person.id, "location_id": location.id}):
        with pytest.raises(InvalidRequest) as caught:
            add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                            **subjects)
        assert set(caught.value.field_errors) == {"subject"}
    assert case.participants == []


def test_a_group_can_only_be_a_subject_or_perpetrator(session, case, group):
    with pytest.raises(InvalidRequest) as caught:
        add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.WITNESS,
                        group_id=group.id)
    assert set(caught.value.field_errors) == {"role"}
    added = add_participant(session, SYSTEM, case_id=case.id,
                            role=ParticipantRole.ALLEGED_PERPETRATOR, group_id=group.id)
    assert added.group_id == group.id


@pytest.mark.parametrize("missing", ["person_id", "location_id", "group_id", "case_id"])
def test_participants_must_exist(session, case, missing):
    kwargs = {"case_id": case.id, "role": ParticipantRole.SUBJECT_GROUP, missing: 777_777}
    if missing == "case_id":
        kwargs["person_id"] = 777_777
    with pytest.raises(NotFound):
        add_participant(session, SYSTEM, **kwargs)


# --- notes and sharing ----------------------------------------------------------------------


def test_note_is_saved_trimmed_and_audited(session, case):
    note = add_note(session, SYSTEM, case_id=case.id, body="  Spoke to the neighbour.  ",
                    restricted_to_agency=True)
    session.commit()
    assert note.body == "Spoke to the neighbour."
    [entry] = audit_entries(session, entity_type="notes")
    assert entry.case_id == case.id
    assert json.loads(entry.changes)["after"] == {
        "body": "Spoke to the neighbour.", "restricted_to_agency": True
    }


def test_blank_note_is_refused(session, case):
    with pytest.raises(InvalidRequest) as caught:
        add_note(session, SYSTEM, case_id=case.id, body="  \n ")
    assert set(caught.value.field_errors) == {"body"}


def test_sharing_is_once_per_agency_and_audited(session, case, owner):
    council = factories.agency(session, AgencyType.COUNCIL)
    first = share_case(session, SYSTEM, case_id=case.id, agency_id=council.id)
    again = share_case(session, SYSTEM, case_id=case.id, agency_id=council.id)
    with_owner = share_case(session, SYSTEM, case_id=case.id, agency_id=owner.id)
    session.commit()
    assert first is not None
    assert (again, with_owner) == (None, None)
    assert [s.agency_id for s in case.shares] == [council.id]
    assert len(audit_entries(session, entity_type="case_shares", case_id=case.id)) == 1


def test_sharing_with_an_unknown_agency_is_not_found(session, case):
    with pytest.raises(NotFound):
        share_case(session, SYSTEM, case_id=case.id, agency_id=55_555)


# --- links ----------------------------------------------------------------------------------


def count_links(session) -> int:
    return session.scalar(select(func.count()).select_from(CaseLink))


def test_a_case_cannot_be_linked_to_itself(session, case):
    with pytest.raises(InvalidRequest) as caught:
        link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=case.id,
                   kind=LinkKind.RELATED)
    assert set(caught.value.field_errors) == {"to_case"}
    assert count_links(session) == 0


def test_linking_twice_returns_the_first_link(session, owner, case):
    other = factories.asb_case(session, owner)
    first = link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=other.id,
                       kind=LinkKind.SAME_INCIDENT, reason="Same night, same street")
    again = link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=other.id,
                       kind="same_incident", reason="Clicked twice")
    session.commit()
    assert again.id == first.id
    assert again.reason == "Same night, same street"
    assert count_links(session) == 1
    [entry] = audit_entries(session, entity_type="case_links")
    assert (entry.case_id, entry.entity_id) == (case.id, str(first.id))


def test_a_different_kind_of_link_is_a_second_link(session, owner, case):
    other = factories.asb_case(session, owner)
    link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=other.id, kind="related")
    link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=other.id, kind="escalated_to")
    assert count_links(session) == 2


def test_linking_to_an_unknown_case_is_not_found(session, case):
    with pytest.raises(NotFound):
        link_cases(session, SYSTEM, from_case_id=case.id, to_case_id=case.id + 500,
                   kind=LinkKind.RELATED)

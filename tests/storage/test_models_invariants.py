"""The database itself refuses impossible states, whatever code (or person) writes them.

Each test writes one bad row or change straight through the ORM, bypassing the services,
and expects the named CHECK / UNIQUE constraint to reject it on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from storage.accounts.models import User
from storage.agencies.models import Agency, AgencyType
from storage.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseLink,
    CaseParticipant,
    CaseStatus,
    LinkKind,
    ParticipantRole,
    StageInstance,
    StageStatus,
)
from storage.flags.models import Flag, FlagKind
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.people.models import Group, Location, Person
from tests import factories
from tests.storage.helpers import dialect, flush_in_savepoint, rejected_by

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    owner: Agency
    user: User
    case: Case
    stage: StageInstance
    person: Person
    location: Location
    group: Group


@pytest.fixture
def world(session: Session, frozen_clock) -> World:
    owner = factories.agency(session)
    user = factories.user(session, owner)
    case = factories.asb_case(session, owner)
    person = Person(given_name="Alex", family_name="Example")
    location = Location(address_line_1="1 Test Street", postcode="AB1 2CD")
    group = Group(name="Group at the park")
    session.add_all([person, location, group])
    session.flush()
    return World(owner, user, case, case.stages[0], person, location, group)


def new_case(world: World, **overrides) -> Case:
    values = {
        "reference": "ASB-2026-999999",
        "case_type": "asb",
        "definition_version": 1,
        "definition_hash": "b" * 64,
        "title": "A case written straight to the table",
        "status": CaseStatus.OPEN,
        "owning_agency_id": world.owner.id,
        "opened_at": NOW,
        "workflow_state": {},
    }
    return Case(**(values | overrides))


def new_stage(world: World, **overrides) -> StageInstance:
    values = {
        "case_id": world.case.id,
        "stage_key": "assessment",
        "sequence": 1,
        "status": StageStatus.ACTIVE,
        "opened_at": NOW,
    }
    return StageInstance(**(values | overrides))


def new_action(world: World, **overrides) -> Action:
    values = {
        "case_id": world.case.id,
        "title": "Visit the victim",
        "assigned_agency_id": world.owner.id,
        "status": ActionStatus.OPEN,
        "due_at": NOW + timedelta(days=5),
        "created_at": NOW,
    }
    return Action(**(values | overrides))


def new_outbox(**overrides) -> OutboxMessage:
    values = {
        "idempotency_key": "test:1",
        "kind": EffectKind.EMAIL,
        "payload": {"template": "test"},
        "available_at": NOW,
    }
    return OutboxMessage(**(values | overrides))


# --- the valid shapes are accepted (so each rejection below is about the one bad field) ------


def test_valid_rows_of_every_kind_are_accepted(session, world):
    session.add_all([
        new_case(world, status=CaseStatus.CLOSED, closed_at=NOW + timedelta(days=1),
                 closure_reason="Resolved"),
        new_stage(world, status=StageStatus.COMPLETED, completed_at=NOW, form_data={"a": 1},
                  due_at=NOW + timedelta(days=2), warn_at=NOW + timedelta(days=1)),
        new_action(world, status=ActionStatus.DECLINED, decline_reason="Not ours"),
        new_action(world, status=ActionStatus.DONE, completed_at=NOW),
        CaseParticipant(case_id=world.case.id, role=ParticipantRole.VICTIM,
                        person_id=world.person.id),
        CaseParticipant(case_id=world.case.id, role=ParticipantRole.INCIDENT_LOCATION,
                        location_id=world.location.id),
        CaseParticipant(case_id=world.case.id, role=ParticipantRole.SUBJECT_GROUP,
                        group_id=world.group.id),
        Location(description="The play park", latitude=51.5, longitude=-0.12),
        Flag(kind=FlagKind.VULNERABLE, person_id=world.person.id),
        new_outbox(status=OutboxStatus.CLAIMED, lease_expires_at=NOW + timedelta(minutes=5)),
    ])
    session.flush()


# --- cases ---------------------------------------------------------------------------------


def test_closed_case_needs_closed_at(session, world):
    with rejected_by(session, "ck_cases_closed_at_iff_closed"):
        session.add(new_case(world, status=CaseStatus.CLOSED, closure_reason="Resolved"))


def test_open_case_cannot_have_closed_at(session, world):
    with rejected_by(session, "ck_cases_closed_at_iff_closed"):
        session.add(new_case(world, closed_at=NOW + timedelta(days=1)))


def test_case_cannot_close_before_it_opened(session, world):
    with rejected_by(session, "ck_cases_closed_after_opened"):
        session.add(new_case(world, status=CaseStatus.CLOSED, closure_reason="Resolved",
                             closed_at=NOW - timedelta(seconds=1)))


def test_closed_case_needs_a_reason(session, world):
    with rejected_by(session, "ck_cases_closure_has_reason"):
        session.add(new_case(world, status=CaseStatus.CLOSED, closed_at=NOW))


def test_closing_an_existing_case_without_closed_at_is_refused(session, world):
    with rejected_by(session, "ck_cases_closed_at_iff_closed"):
        world.case.status = CaseStatus.CLOSED
        world.case.closure_reason = "Resolved"
        world.case.version += 1


def test_case_definition_hash_must_be_a_sha256(session, world):
    with rejected_by(session, "ck_cases_definition_hash_sha256"):
        session.add(new_case(world, definition_hash="abc"))


def test_case_status_outside_the_enum_is_refused(session, world):
    with rejected_by(session, "ck_cases_casestatus"):
        session.execute(
            text("UPDATE cases SET status = 'archived' WHERE id = :id"), {"id": world.case.id}
        )


def test_case_references_are_unique(session, world):
    with rejected_by(session, "uq_cases_reference", "cases.reference"):
        session.add(new_case(world, reference=world.case.reference))


# --- stage instances -----------------------------------------------------------------------


def test_completed_stage_needs_completed_at(session, world):
    with rejected_by(session, "ck_stage_instances_completed_at_iff_completed"):
        session.add(new_stage(world, status=StageStatus.COMPLETED, form_data={"a": 1}))


def test_active_stage_cannot_have_completed_at(session, world):
    with rejected_by(session, "ck_stage_instances_completed_at_iff_completed"):
        session.add(new_stage(world, completed_at=NOW))


def test_completed_stage_needs_its_form_data(session, world):
    with rejected_by(session, "ck_stage_instances_completed_has_submission"):
        session.add(new_stage(world, status=StageStatus.COMPLETED, completed_at=NOW))


def test_completed_stage_with_form_data_set_to_none_is_refused(session, world):
    # None must be SQL NULL, not the JSON value null, or the constraint cannot see it.
    with rejected_by(session, "ck_stage_instances_completed_has_submission"):
        session.add(new_stage(world, status=StageStatus.COMPLETED, completed_at=NOW,
                              form_data=None))


def test_warning_cannot_come_after_the_deadline(session, world):
    with rejected_by(session, "ck_stage_instances_warning_before_due"):
        session.add(new_stage(world, due_at=NOW + timedelta(days=1),
                              warn_at=NOW + timedelta(days=2)))


def test_warning_needs_a_deadline(session, world):
    with rejected_by(session, "ck_stage_instances_warning_before_due"):
        session.add(new_stage(world, warn_at=NOW + timedelta(days=2)))


def test_stage_cannot_be_due_before_it_opened(session, world):
    with rejected_by(session, "ck_stage_instances_due_after_opened"):
        session.add(new_stage(world, due_at=NOW - timedelta(hours=1)))


def test_stage_sequence_starts_at_one(session, world):
    with rejected_by(session, "ck_stage_instances_sequence_positive"):
        session.add(new_stage(world, sequence=0))


def test_the_same_visit_to_a_stage_cannot_be_recorded_twice(session, world):
    with rejected_by(
        session,
        "uq_stage_instances_case_id_stage_key_sequence",
        "stage_instances.case_id, stage_instances.stage_key, stage_instances.sequence",
    ):
        session.add(new_stage(world, stage_key=world.stage.stage_key,
                              sequence=world.stage.sequence))


def test_a_second_visit_to_a_stage_is_a_new_sequence(session, world):
    session.add(new_stage(world, stage_key=world.stage.stage_key, sequence=2))
    session.flush()


# --- actions -------------------------------------------------------------------------------


def test_declined_action_needs_a_reason(session, world):
    with rejected_by(session, "ck_actions_decline_has_reason"):
        session.add(new_action(world, status=ActionStatus.DECLINED))


def test_done_action_needs_completed_at(session, world):
    with rejected_by(session, "ck_actions_completed_at_iff_done"):
        session.add(new_action(world, status=ActionStatus.DONE))


def test_open_action_cannot_have_completed_at(session, world):
    with rejected_by(session, "ck_actions_completed_at_iff_done"):
        session.add(new_action(world, completed_at=NOW))


def test_action_title_cannot_be_blank(session, world):
    with rejected_by(session, "ck_actions_title_not_blank"):
        session.add(new_action(world, title="   "))


def test_action_cannot_be_due_before_it_was_created(session, world):
    with rejected_by(session, "ck_actions_due_after_created"):
        session.add(new_action(world, due_at=NOW - timedelta(days=1)))


# --- participants --------------------------------------------------------------------------


def test_participant_cannot_be_both_a_person_and_a_location(session, world):
    with rejected_by(session, "ck_case_participants_exactly_one_subject"):
        session.add(CaseParticipant(case_id=world.case.id, role=ParticipantRole.INCIDENT_LOCATION,
                                    person_id=world.person.id, location_id=world.location.id))


def test_participant_must_be_someone_or_somewhere(session, world):
    with rejected_by(session, "ck_case_participants_exactly_one_subject"):
        session.add(CaseParticipant(case_id=world.case.id, role=ParticipantRole.VICTIM))


def test_location_participant_must_be_the_incident_location(session, world):
    with rejected_by(session, "ck_case_participants_locations_are_incident_locations"):
        session.add(CaseParticipant(case_id=world.case.id, role=ParticipantRole.WITNESS,
                                    location_id=world.location.id))


def test_person_cannot_be_the_incident_location(session, world):
    with rejected_by(session, "ck_case_participants_locations_are_incident_locations"):
        session.add(CaseParticipant(case_id=world.case.id,
                                    role=ParticipantRole.INCIDENT_LOCATION,
                                    person_id=world.person.id))


def test_group_cannot_be_a_witness(session, world):
    with rejected_by(session, "ck_case_participants_group_roles"):
        session.add(CaseParticipant(case_id=world.case.id, role=ParticipantRole.WITNESS,
                                    group_id=world.group.id))


# --- locations and people ------------------------------------------------------------------


def test_location_with_latitude_but_no_longitude_is_refused(session, world):
    with rejected_by(session, "ck_locations_coordinates_pair_in_range"):
        session.add(Location(description="Somewhere", latitude=51.5))


def test_location_with_longitude_but_no_latitude_is_refused(session, world):
    with rejected_by(session, "ck_locations_coordinates_pair_in_range"):
        session.add(Location(description="Somewhere", longitude=-0.12))


def test_location_latitude_must_be_on_the_earth(session, world):
    with rejected_by(session, "ck_locations_coordinates_pair_in_range"):
        session.add(Location(description="Somewhere", latitude=91.0, longitude=0.0))


def test_location_needs_an_address_or_a_description(session, world):
    with rejected_by(session, "ck_locations_address_or_description"):
        session.add(Location(town="Testtown"))


def test_location_postcode_is_stored_in_capitals(session, world):
    with rejected_by(session, "ck_locations_postcode_upper"):
        session.add(Location(address_line_1="2 Test Street", postcode="ab1 2cd"))


def test_person_needs_a_name(session, world):
    with rejected_by(session, "ck_people_has_a_name"):
        session.add(Person(given_name=" ", family_name=""))


def test_person_preferring_phone_needs_a_phone_number(session, world):
    with rejected_by(session, "ck_people_phone_when_preferred"):
        session.add(Person(given_name="Sam", preferred_contact="phone"))


# --- accounts and agencies -----------------------------------------------------------------


def test_user_email_with_capitals_is_refused(session, world):
    with rejected_by(session, "ck_users_email_shape"):
        session.add(User(agency_id=world.owner.id, email="Sam.Example@Agency.test",
                         display_name="Sam"))


def test_user_email_must_look_like_an_address(session, world):
    with rejected_by(session, "ck_users_email_shape"):
        session.add(User(agency_id=world.owner.id, email="not-an-address",
                         display_name="Sam"))


def test_user_cannot_be_their_own_line_manager(session, world):
    with rejected_by(session, "ck_users_not_own_manager"):
        world.user.line_manager_id = world.user.id


def test_agency_code_must_be_upper_case(session, world):
    with rejected_by(session, "ck_agencies_code_shape"):
        session.add(Agency(name="Lower Case Agency", code="low", agency_type=AgencyType.OTHER))


# --- flags ---------------------------------------------------------------------------------


def test_flag_cannot_have_two_subjects(session, world):
    with rejected_by(session, "ck_flags_exactly_one_subject"):
        session.add(Flag(kind=FlagKind.RISK_TO_STAFF, person_id=world.person.id,
                         location_id=world.location.id))


def test_flag_must_have_a_subject(session, world):
    with rejected_by(session, "ck_flags_exactly_one_subject"):
        session.add(Flag(kind=FlagKind.RISK_TO_STAFF))


def test_flag_cleared_needs_who_cleared_it(session, world):
    with rejected_by(session, "ck_flags_cleared_by_whom"):
        session.add(Flag(kind=FlagKind.WEAPONS, case_id=world.case.id, cleared_at=NOW))


# --- outbox --------------------------------------------------------------------------------


def test_claimed_outbox_row_needs_a_lease(session, world):
    with rejected_by(session, "ck_outbox_lease_iff_claimed"):
        session.add(new_outbox(status=OutboxStatus.CLAIMED, claimed_by="worker-1"))


def test_pending_outbox_row_cannot_hold_a_lease(session, world):
    with rejected_by(session, "ck_outbox_lease_iff_claimed"):
        session.add(new_outbox(lease_expires_at=NOW))


def test_done_outbox_row_needs_completed_at(session, world):
    with rejected_by(session, "ck_outbox_completed_at_iff_done"):
        session.add(new_outbox(status=OutboxStatus.DONE))


def test_failed_outbox_row_needs_its_error(session, world):
    with rejected_by(session, "ck_outbox_failure_has_error"):
        session.add(new_outbox(status=OutboxStatus.FAILED))


# --- audit chain head and case links -------------------------------------------------------


def test_there_is_exactly_one_audit_chain_head(session, world):
    assert session.scalars(select(AuditChainHead.id)).all() == [1]
    with rejected_by(session, "ck_audit_chain_head_single_row"):
        session.add(AuditChainHead(id=2, last_seq=0, last_hash=GENESIS_HASH))


def test_the_audit_chain_head_row_cannot_be_duplicated(session, world):
    with rejected_by(session, "pk_audit_chain_head", "audit_chain_head.id"):
        session.execute(
            text("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
            {"h": GENESIS_HASH},
        )


def test_case_cannot_link_to_itself(session, world):
    with rejected_by(session, "ck_case_links_not_self"):
        session.add(CaseLink(from_case_id=world.case.id, to_case_id=world.case.id,
                             kind=LinkKind.RELATED))


# --- time stamps ---------------------------------------------------------------------------


def test_naive_datetime_is_refused_before_it_reaches_the_database(session, world):
    naive = datetime(2026, 3, 2, 9, 0)  # noqa: DTZ001 (the point of the test)
    with pytest.raises(StatementError, match="naive datetime") as caught:
        flush_in_savepoint(session, new_case(world, opened_at=naive))
    assert isinstance(caught.value.orig, ValueError)


def test_times_are_read_back_as_the_same_instant_in_utc(session, world):
    five_hours_east = timezone(timedelta(hours=5))
    opened = datetime(2026, 3, 2, 14, 30, 15, 123456, tzinfo=five_hours_east)
    case = new_case(world, opened_at=opened)
    session.add(case)
    session.flush()
    session.expire_all()

    read_back = session.scalar(select(Case.opened_at).where(Case.id == case.id))

    assert read_back == opened
    assert read_back.tzinfo is UTC
    assert read_back.utcoffset() == timedelta(0)
    assert (read_back.hour, read_back.microsecond) == (9, 123456)


def test_every_kind_of_time_column_comes_back_aware(session, world):
    session.commit()  # seals audit entries, so their times can be read too
    session.expire_all()
    times = [
        session.scalar(select(Case.opened_at).where(Case.id == world.case.id)),
        session.scalar(select(Case.created_at).where(Case.id == world.case.id)),
        session.scalar(select(StageInstance.opened_at).where(StageInstance.id == world.stage.id)),
        session.scalar(select(User.created_at).where(User.id == world.user.id)),
        session.scalar(select(AuditEntry.occurred_at).limit(1)),
    ]
    assert all(t is not None and t.tzinfo is UTC for t in times), times


def test_postgresql_stores_utc_whatever_the_session_time_zone(session, world):
    if dialect(session) != "postgresql":
        pytest.skip("time zones of the connection only exist on PostgreSQL")
    session.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
    session.expire_all()
    read_back = session.scalar(select(Case.opened_at).where(Case.id == world.case.id))
    assert read_back == NOW
    assert read_back.tzinfo is UTC

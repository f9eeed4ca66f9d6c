"""Retention: the sweep lists exactly the cases that are due, never deletes; approved
deletion removes the case and everything personal hanging off it, once, and audits it
without personal data."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from rules import retention
from storage.accounts.models import Role
from storage.audit.models import AuditAction, AuditEntry
from storage.audit.services import REDACTION_ENTITY, verify_chain
from storage.cases.models import (
    Case,
    CaseParticipant,
    Note,
    ParticipantRole,
    StageInstance,
)
from storage.cases.services import add_note, add_participant
from storage.cases.workflow import close_case, reopen_case
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.documents.store import DocumentStore
from storage.errors import AccessDenied, InvalidRequest, InvalidState
from storage.outbox.models import OutboxMessage
from storage.people.models import Person, PersonAddress, Vulnerability
from storage.people.services import create_location, create_person, update_person
from storage.retention import services as retention_services
from storage.retention.models import RetentionReview, ReviewStatus
from tests import factories
from tests.storage.helpers import audit_entries

SCHEDULE = retention.parse("""
default: {years: 6, then: review}
case_types:
  restorative_justice: {years: 3, then: delete}
""")
ZONE = "Europe/London"


@pytest.fixture
def store(tmp_path):
    return DocumentStore(tmp_path / "documents")


def _closed_case(session, frozen_clock, owner, *, on: datetime, people=(), store=None):
    frozen_clock.set(on)
    case = factories.asb_case(session, owner)
    for person in people:
        add_participant(session, factories.SYSTEM, case_id=case.id,
                        role=ParticipantRole.VICTIM, person_id=person.id)
    add_note(session, factories.SYSTEM, case_id=case.id, body="Spoke to the victim at home")
    if store is not None:
        attach_document(session, factories.SYSTEM, store, case_id=case.id,
                        filename="statement.txt", content_type="text/plain",
                        stream=io.BytesIO(f"statement for {case.reference}".encode()))
    case = close_case(session, factories.SYSTEM, case_id=case.id,
                      expected_version=case.version, reason="Resolved")
    session.commit()
    return case


def _sweep(session, today: date) -> dict[str, int]:
    counts = retention_services.sweep(session, SCHEDULE, today=today, timezone=ZONE)
    session.commit()
    return counts


def test_sweep_lists_exactly_the_cases_that_are_due_and_deletes_nothing(
        session, frozen_clock):
    owner = factories.agency(session)
    # Closed at 09:00 London time on 2 March 2026: due on 2 March 2032.
    due = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 2, 9, tzinfo=UTC))
    # Closed the next day: just inside its six years on 2 March 2032, so kept.
    inside = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 3, 9, tzinfo=UTC))
    frozen_clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))
    still_open = factories.asb_case(session, owner)
    session.commit()

    assert _sweep(session, date(2032, 3, 1))["added"] == 0
    assert _sweep(session, date(2032, 3, 2))["added"] == 1
    assert _sweep(session, date(2032, 3, 2))["added"] == 0  # idempotent
    [review] = session.scalars(select(RetentionReview)).all()
    assert review.case_id == due.id
    assert review.due_on == date(2032, 3, 2)
    assert review.status is ReviewStatus.PENDING
    assert session.get(Case, inside.id) is not None
    assert session.get(Case, still_open.id) is not None
    assert session.get(Case, due.id) is not None  # the sweep never deletes
    assert [e.entity_id for e in audit_entries(session, entity_type="retention_reviews")] == [
        str(review.id)]


def test_approved_deletion_removes_the_case_and_what_is_personal_once(
        session, frozen_clock, store):
    owner = factories.agency(session)
    manager = factories.user(session, owner, Role.MANAGER)
    actor = factories.actor_for(manager)
    home = create_location(session, factories.SYSTEM, address_line_1="1 Test Street",
                           postcode="TE1 1ST")
    only_here = create_person(session, factories.SYSTEM, given_name="Olive",
                              family_name="Onlyhere", home_location_id=home.id,
                              vulnerabilities=["disability"])
    elsewhere = create_person(session, factories.SYSTEM, given_name="Elsa",
                              family_name="Elsewhere")
    session.commit()
    only_here_id, elsewhere_id = only_here.id, elsewhere.id
    case = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 2, 9, tzinfo=UTC),
                        people=[only_here, elsewhere], store=store)
    case_id, reference = case.id, case.reference
    other = _closed_case(session, frozen_clock, owner,
                         on=datetime(2029, 3, 2, 9, tzinfo=UTC), people=[elsewhere],
                         store=store)
    [sha] = session.scalars(select(Document.sha256).where(Document.case_id == case.id))
    assert store.path_for(sha).exists()
    _sweep(session, date(2032, 3, 2))
    review = session.scalars(select(RetentionReview)).one()

    done = retention_services.approve_deletion(session, actor, manager, review.id)
    session.commit()
    assert retention_services.remove_files(session, store, done.files) == 1
    assert not store.path_for(sha).exists()

    session.expire_all()
    assert session.get(Case, case_id) is None
    for model in (StageInstance, Note, Document, CaseParticipant):
        assert session.scalar(select(func.count()).select_from(model)
                              .where(model.case_id == case_id)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.case_id == case_id)) == 0
    assert session.get(Person, only_here_id) is None
    assert session.scalar(select(func.count()).select_from(PersonAddress)
                          .where(PersonAddress.person_id == only_here_id)) == 0
    assert session.scalar(select(func.count()).select_from(Vulnerability)
                          .where(Vulnerability.person_id == only_here_id)) == 0
    assert session.get(Person, elsewhere_id) is not None  # still on another case
    assert session.get(Case, other.id) is not None
    assert review.status is ReviewStatus.DELETED
    assert review.case_id is None
    assert review.case_reference == reference

    [deleted] = audit_entries(session, action=AuditAction.DELETE, entity_type="cases")
    assert deleted.case_id == case_id
    assert deleted.actor_user_id == manager.id
    assert "Olive" not in deleted.changes
    assert "Onlyhere" not in deleted.changes
    assert "Test Street" not in deleted.changes
    assert '"people_deleted":1' in deleted.changes

    again = retention_services.approve_deletion(session, actor, manager, review.id)
    session.commit()
    assert again.already
    assert len(audit_entries(session, action=AuditAction.DELETE, entity_type="cases")) == 1
    assert _sweep(session, date(2032, 3, 3))["added"] == 0


def test_deletion_redacts_every_audit_entry_that_held_the_victims_data(
        session, frozen_clock, store):
    """Names (as created and as changed), the note and the document name went into audit
    entries; after deletion no entry's text holds any of them, and the chain verifies."""
    owner = factories.agency(session)
    manager = factories.user(session, owner, Role.MANAGER)
    victim = create_person(session, factories.SYSTEM, given_name="Zelda", family_name="Quarry",
                           phone="07700 900123")
    stays = create_person(session, factories.SYSTEM, given_name="Yusuf", family_name="Keeps")
    session.commit()
    update_person(session, factories.SYSTEM, victim.id, family_name="Quarry-Vane",
                  known_as="Zed")
    session.commit()
    case = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 2, 9, tzinfo=UTC),
                        people=[victim, stays], store=store)
    frozen_clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    reopen_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
                reason="Threatened again at the bus stop on Marl Road")
    session.commit()
    case = session.get(Case, case.id)
    add_note(session, factories.SYSTEM, case_id=case.id,
             body="Zelda says the neighbour at number 9 shouts slurs")
    close_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Moved away")
    session.commit()
    # Still on another case, so Yusuf's own record (and its audit) is not due for deletion.
    _closed_case(session, frozen_clock, owner, on=datetime(2029, 3, 2, 9, tzinfo=UTC),
                 people=[stays])
    secrets = ("Zelda", "Quarry", "Vane", "07700 900123", "Zed", "slurs", "Marl Road")

    def holding(secret: str) -> list[int]:
        return list(session.scalars(select(AuditEntry.seq).where(
            AuditEntry.changes.contains(secret)).order_by(AuditEntry.seq)))

    assert all(holding(s) for s in secrets)  # the test would prove nothing otherwise
    frozen_clock.set(datetime(2032, 3, 2, 9, tzinfo=UTC))
    _sweep(session, date(2032, 3, 2))
    review = session.scalars(select(RetentionReview)
                             .where(RetentionReview.case_id == case.id)).one()
    done = retention_services.approve_deletion(session, factories.actor_for(manager), manager,
                                               review.id)
    session.commit()
    session.expire_all()

    assert {s: holding(s) for s in secrets} == {s: [] for s in secrets}
    # The other case's note is the same text but not due: only this case's copy went.
    assert len(holding("Spoke to the victim at home")) == 1
    assert holding("Yusuf")  # still held about someone still on a case
    report = verify_chain(session)
    assert report.intact, report.reason
    assert report.redacted >= done.redacted > 0
    [redaction] = audit_entries(session, entity_type=REDACTION_ENTITY)
    assert redaction.case_id == case.id
    assert f'"review":{review.id}' in redaction.changes
    [deleted] = audit_entries(session, action=AuditAction.DELETE, entity_type="cases")
    assert f'"audit_entries_redacted":{done.redacted}' in deleted.changes
    assert deleted.redacted_at is None  # the record of the deletion stays whole
    assert all(e.redacted_at is None
               for e in audit_entries(session, entity_type="retention_reviews"))


def test_keeping_puts_the_case_back_on_the_list_when_the_time_is_up(session, frozen_clock):
    owner = factories.agency(session)
    manager = factories.user(session, owner, Role.MANAGER)
    stranger = factories.user(session, factories.agency(session), Role.MANAGER)
    case = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 2, 9, tzinfo=UTC))
    _sweep(session, date(2032, 3, 2))
    review = session.scalars(select(RetentionReview)).one()
    actor = factories.actor_for(manager)
    with pytest.raises(AccessDenied):
        retention_services.keep(session, factories.actor_for(stranger), stranger, review.id,
                                months=12, reason="No", today=date(2032, 3, 2))
    with pytest.raises(InvalidRequest) as problems:
        retention_services.keep(session, actor, manager, review.id, months=0, reason=" ",
                                today=date(2032, 3, 2))
    assert set(problems.value.field_errors) == {"months", "reason"}
    retention_services.keep(session, actor, manager, review.id, months=12,
                            reason="Civil proceedings pending", today=date(2032, 3, 2))
    session.commit()
    assert review.keep_until == date(2033, 3, 2)
    with pytest.raises(InvalidState):
        retention_services.approve_deletion(session, actor, manager, review.id)
    session.rollback()
    assert _sweep(session, date(2033, 3, 1))["added"] == 0
    assert _sweep(session, date(2033, 3, 2))["added"] == 1
    assert session.get(Case, case.id) is not None


def test_a_reopened_case_is_not_deleted(session, frozen_clock):
    owner = factories.agency(session)
    admin = factories.user(session, owner, Role.PARTNERSHIP_ADMIN)
    case = _closed_case(session, frozen_clock, owner, on=datetime(2026, 3, 2, 9, tzinfo=UTC))
    _sweep(session, date(2032, 3, 2))
    review = session.scalars(select(RetentionReview)).one()
    reopen_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
                reason="New incident")
    session.commit()
    with pytest.raises(InvalidState):
        retention_services.approve_deletion(session, factories.actor_for(admin), admin,
                                            review.id)


def test_the_shipped_schedule_loads_and_bad_files_say_what_is_wrong():
    shipped = retention.load()
    assert shipped.rule_for("asb").years == 6
    assert shipped.rule_for("restorative_justice").then == "delete"
    assert shipped.rule_for("something_new") == shipped.default
    with pytest.raises(retention.ScheduleError) as bad:
        retention.parse("default: {years: 0, then: shred}\ncase_types: {Bad: 1}\n")
    message = str(bad.value)
    assert "default.years" in message
    assert "default.then" in message
    assert "'Bad' is not a case type key" in message

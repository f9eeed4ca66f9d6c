"""The auditors' audit log: who may see it, searching and paging it, exporting it (audited),
verifying the chain; and refused access being on the record."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import update

from storage.accounts.models import Role
from storage.audit.models import AuditAction, AuditEntry, AuditVerification
from storage.audit.services import record, redact
from storage.people.services import create_person, update_person
from tests import factories
from tests.storage.helpers import audit_entries
from tests.web.conftest import sign_in, user_with_password


@pytest.fixture
def auditor(session, owner):
    return user_with_password(session, owner, Role.AUDITOR)


@pytest.fixture
def as_auditor(client, auditor):
    assert sign_in(client, auditor).status_code == 302
    return client


def test_only_auditors_and_partnership_admins_see_the_log(client, session, owner, practitioner):
    sign_in(client, practitioner)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert client.post("/audit/verify").status_code == 403
    # Each refusal is on the record, though the refused request itself rolled back.
    refused = audit_entries(session, action=AuditAction.ACCESS_DENIED,
                            actor_user_id=practitioner.id)
    assert [e.entity_id for e in refused] == ["audit.index", "audit.export", "audit.verify"]
    assert refused[0].ip_address == "127.0.0.1"
    assert refused[0].request_id
    admin = user_with_password(session, owner, Role.PARTNERSHIP_ADMIN)
    client.post("/sign-out")
    sign_in(client, admin)
    assert client.get("/audit").status_code == 200


def test_a_case_of_another_agency_is_not_found_and_the_attempt_is_audited(
        client, session, practitioner):
    other = factories.agency(session)
    case = factories.asb_case(session, other)
    session.commit()
    sign_in(client, practitioner)
    assert client.get(f"/cases/{case.reference}").status_code == 404
    [denied] = audit_entries(session, action=AuditAction.ACCESS_DENIED, case_id=case.id)
    assert denied.actor_user_id == practitioner.id
    assert (denied.entity_type, denied.entity_id) == ("cases", str(case.id))
    assert client.get("/cases/NOPE-2026-000001").status_code == 404  # no case: nothing to audit
    assert len(audit_entries(session, action=AuditAction.ACCESS_DENIED)) == 1
    stage = factories.active_stage(case)
    assert client.get(f"/cases/{case.reference}/stages/{stage.id}").status_code == 404
    action = factories.assign_action(session, factories.SYSTEM, case_id=case.id,
                                     title="Visit", assigned_agency_id=other.id,
                                     due_at=case.opened_at + timedelta(days=30))
    session.commit()
    assert client.get(f"/actions/{action.id}").status_code == 404
    denied = audit_entries(session, action=AuditAction.ACCESS_DENIED, case_id=case.id)
    assert [e.entity_type for e in denied] == ["cases", "cases", "actions"]


def test_search_pages_by_seq_newest_first_and_is_audited(as_auditor, session, owner, auditor):
    actor = factories.actor_for(auditor)
    for n in range(60):
        record(session, actor, AuditAction.VIEW, entity_type="probe", entity_id=n)
    session.commit()
    page = as_auditor.get("/audit?entity_type=probe")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    shown = [e.seq for e in audit_entries(session, entity_type="probe")]
    assert f">{shown[-1]}<" in text
    assert f">{shown[10]}<" in text
    assert f">{shown[9]}<" not in text
    older = as_auditor.get(f"/audit?entity_type=probe&before={shown[10]}")
    older_text = older.get_data(as_text=True)
    assert f">{shown[9]}<" in older_text
    assert f">{shown[0]}<" in older_text
    assert 'id="older"' not in older_text
    searches = audit_entries(session, action=AuditAction.SEARCH, entity_type="audit_log")
    assert searches[-1].actor_user_id == auditor.id
    assert '"entity_type":"probe"' in searches[-1].changes


def test_bad_filters_come_back_with_a_message_each(as_auditor):
    page = as_auditor.get("/audit?user=nobody@nowhere.test&since=31/02/2026&action=steal")
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "No user has that e-mail address" in text
    assert "Enter a real date" in text
    assert "Choose an action from the list" in text
    assert 'value="nobody@nowhere.test"' in text


def test_changes_are_shown_field_by_field(as_auditor, session, owner, auditor):
    actor = factories.actor_for(user_with_password(session, owner, Role.PRACTITIONER))
    person = create_person(session, actor, given_name="Ada", family_name="Testperson")
    session.commit()
    update_person(session, actor, person.id, given_name="Adah")
    session.commit()
    text = as_auditor.get(f"/audit?entity_type=people&entity_id={person.id}"
                          "&action=update").get_data(as_text=True)
    assert "Ada &rarr; Adah" in text


def test_export_streams_the_search_as_csv_and_is_audited(as_auditor, session, auditor):
    actor = factories.actor_for(auditor)
    record(session, actor, AuditAction.VIEW, entity_type="probe", entity_id="=HYPERLINK(1)")
    session.commit()
    response = as_auditor.get("/audit/export.csv?entity_type=probe")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["seq", "occurred_at", "actor_label"]
    assert len(rows) == 2
    assert rows[1][7] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    [export] = audit_entries(session, action=AuditAction.EXPORT, entity_type="audit_log")
    assert export.actor_user_id == auditor.id


def test_verify_now_records_the_result_and_finds_tampering(as_auditor, session, auditor):
    record(session, factories.actor_for(auditor), AuditAction.VIEW, entity_type="probe")
    session.commit()
    as_auditor.post("/audit/verify")
    assert "intact" in as_auditor.get("/audit").get_data(as_text=True)
    check = session.query(AuditVerification).order_by(AuditVerification.id.desc()).first()
    assert check.intact
    assert check.checked >= 1
    session.execute(update(AuditEntry).where(AuditEntry.entity_type == "probe")
                    .values(entity_id="edited"))
    session.commit()
    as_auditor.post("/audit/verify")
    text = as_auditor.get("/audit").get_data(as_text=True)
    assert "BROKEN" in text
    assert "altered after it was written" in text


def test_redacted_entries_are_shown_and_verified_as_redacted_not_broken(
        as_auditor, session, owner, auditor):
    actor = factories.actor_for(user_with_password(session, owner, Role.PRACTITIONER))
    person = create_person(session, actor, given_name="Ada", family_name="Redactme")
    session.commit()
    redact(session, factories.actor_for(auditor),
           (AuditEntry.entity_type == "people") & (AuditEntry.entity_id == str(person.id)),
           reason="retention", review=41)
    session.commit()

    text = as_auditor.get(f"/audit?entity_type=people&entity_id={person.id}").get_data(
        as_text=True)
    assert "Redacted" in text
    assert "Retention, review 41" in text
    assert "Redactme" not in text
    as_auditor.post("/audit/verify")
    check = session.query(AuditVerification).order_by(AuditVerification.id.desc()).first()
    assert check.intact, check.reason
    assert check.redacted == 1
    text = as_auditor.get("/audit").get_data(as_text=True)
    assert "1 of them redacted" in text
    assert "BROKEN" not in text

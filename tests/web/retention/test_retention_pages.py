"""The retention review page: who sees which cases, deleting with a confirmation, keeping
with a reason, problems shown next to the field with what was typed kept."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from rules import retention as schedules
from storage.accounts.models import Role
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import Case
from storage.cases.workflow import close_case
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.retention import services as retention
from storage.retention.models import RetentionReview, ReviewStatus
from tests import factories
from tests.storage.helpers import audit_entries
from tests.web.conftest import sign_in, user_with_password


@pytest.fixture
def due_review(app, session, owner, frozen_clock):
    frozen_clock.set(datetime(2020, 1, 6, 10, tzinfo=UTC))
    case = factories.asb_case(session, owner)
    store = app.extensions["casebridge.runtime"].documents
    attach_document(session, factories.SYSTEM, store, case_id=case.id, filename="a.txt",
                    content_type="text/plain", stream=io.BytesIO(b"retention test file"))
    close_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Resolved")
    session.commit()
    frozen_clock.set(datetime(2026, 1, 6, 10, tzinfo=UTC))
    retention.sweep(session, schedules.load(), today=date(2026, 1, 6), timezone="Europe/London")
    session.commit()
    return session.scalars(select(RetentionReview)).one()


@pytest.fixture
def manager(session, owner):
    return user_with_password(session, owner, Role.MANAGER)


def test_a_manager_deletes_a_due_case_after_confirming(app, client, session, manager,
                                                       due_review):
    sign_in(client, manager)
    page = client.get("/retention").get_data(as_text=True)
    assert due_review.case_reference in page
    refused = client.post(f"/retention/{due_review.id}/delete", data={"review": due_review.id})
    assert refused.status_code == 400
    assert "Confirm that this case" in refused.get_data(as_text=True)
    case_id = due_review.case_id
    assert session.get(Case, case_id) is not None
    [sha] = session.scalars(select(Document.sha256).where(Document.case_id == case_id))
    store = app.extensions["casebridge.runtime"].documents
    done = client.post(f"/retention/{due_review.id}/delete",
                       data={"review": due_review.id, "confirm": "yes"})
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Case, case_id) is None
    assert not store.path_for(sha).exists()
    assert session.get(RetentionReview, due_review.id).status is ReviewStatus.DELETED
    [deleted] = audit_entries(session, action=AuditAction.DELETE, entity_type="cases")
    assert deleted.actor_user_id == manager.id
    again = client.post(f"/retention/{due_review.id}/delete",
                        data={"review": due_review.id, "confirm": "yes"})
    assert again.status_code == 302  # idempotent: already done
    page = client.get("/retention").get_data(as_text=True)
    assert "Decided recently" in page
    assert "Personal data was removed from" in page  # the audit entries about it
    assert all(e.redacted_at is not None for e in audit_entries(session, case_id=case_id)
               if e.entity_type not in ("retention_reviews", "audit_entries")
               and e.action is not AuditAction.DELETE)


def test_deletion_is_refused_while_an_audit_entry_about_the_case_is_tampered_with(
        client, session, manager, due_review):
    """Redacting a tampered entry would pass the tampering off as a lawful redaction."""
    sign_in(client, manager)
    case_id = due_review.case_id
    session.execute(update(AuditEntry).where(AuditEntry.case_id == case_id,
                                             AuditEntry.entity_type == "documents")
                    .values(actor_label="user:forged"))
    session.commit()
    response = client.post(f"/retention/{due_review.id}/delete",
                           data={"review": due_review.id, "confirm": "yes"})
    assert response.status_code == 409
    assert "was altered after it was written" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Case, case_id) is not None
    assert session.get(RetentionReview, due_review.id).status is ReviewStatus.PENDING


def test_keeping_needs_months_and_a_reason_and_keeps_what_was_typed(client, session, manager,
                                                                    due_review):
    sign_in(client, manager)
    bad = client.post(f"/retention/{due_review.id}/keep",
                      data={"review": due_review.id, "months": "abc",
                            "reason": "Civil claim pending"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "Enter a number of months from 1 to 120" in text
    assert "Civil claim pending" in text
    good = client.post(f"/retention/{due_review.id}/keep",
                       data={"review": due_review.id, "months": "18",
                             "reason": "Civil claim pending"})
    assert good.status_code == 302
    session.expire_all()
    kept = session.get(RetentionReview, due_review.id)
    assert kept.status is ReviewStatus.KEPT
    assert kept.keep_until == date(2027, 7, 6)


def test_other_agencies_and_practitioners_cannot_decide(client, session, practitioner,
                                                       due_review):
    stranger = user_with_password(session, factories.agency(session), Role.MANAGER)
    sign_in(client, practitioner)
    assert client.get("/retention").status_code == 403
    client.post("/sign-out")
    sign_in(client, stranger)
    assert due_review.case_reference not in client.get("/retention").get_data(as_text=True)
    response = client.post(f"/retention/{due_review.id}/delete",
                           data={"review": due_review.id, "confirm": "yes"})
    assert response.status_code == 403
    assert session.get(Case, due_review.case_id) is not None
    assert audit_entries(session, action=AuditAction.ACCESS_DENIED, actor_user_id=stranger.id)

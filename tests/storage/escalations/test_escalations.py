"""Recording escalations: once per key, with its e-mail and its audit entry, or not at all."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rules.escalations import Level, escalation_key, level_at
from storage.audit.models import AuditEntry
from storage.escalations.models import Escalation
from storage.escalations.services import Due, find_due, record
from storage.outbox.models import OutboxMessage
from tests import factories


def test_the_level_a_deadline_has_reached(frozen_clock):
    now = frozen_clock.now()
    hour = timedelta(hours=1)
    assert level_at(now, None, None) is None
    assert level_at(now, now + hour, None) is None
    assert level_at(now, now + hour, now + hour / 2) is None
    assert level_at(now, now + hour, now) is Level.WARNING
    assert level_at(now, now, now - hour) is Level.BREACH
    assert escalation_key("action", 7, now, "breach") == (
        "action:7:due:2026-03-02T09:00:00+00:00:breach")


def test_a_key_is_recorded_once_with_one_email_and_one_audit_entry(session, frozen_clock):
    owner = factories.agency(session)
    lead = factories.user(session, owner)
    case = factories.asb_case(session, owner, lead_officer_id=lead.id)
    stage = factories.active_stage(case)
    now = stage.due_at
    [due] = [d for d in find_due(session, now) if d.case_id == case.id]
    assert due == Due("stage", stage.id, case.id, stage.due_at, Level.BREACH, lead.id,
                      owner.id, None, owner.id)
    first = record(session, factories.SYSTEM, [due], now)
    assert record(session, factories.SYSTEM, [due], now) == {}
    assert [d for d in find_due(session, now) if d.case_id == case.id] == []
    session.commit()  # seals the audit entries
    [escalation] = session.scalars(select(Escalation).where(Escalation.case_id == case.id))
    assert first == {due.key: escalation.id}
    assert escalation.recipient_user_ids == [lead.id]  # no manager anywhere: the lead alone
    [email] = session.scalars(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == due.key))
    assert email.payload["escalation_id"] == escalation.id
    [entry] = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "escalations", AuditEntry.case_id == case.id))
    assert entry.entity_id == str(escalation.id)

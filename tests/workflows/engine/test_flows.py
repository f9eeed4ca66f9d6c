"""The Prefect flow under Prefect's test harness (one server for the whole run)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.db import unit_of_work
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue
from tests import factories
from workflows.engine.dispatch import SUPPORTED_KINDS
from workflows.engine.flows import EFFECT_TASKS, dispatch_outbox, use_dispatcher


def test_every_kind_the_dispatcher_claims_has_a_task():
    assert set(EFFECT_TASKS) >= SUPPORTED_KINDS


def test_the_flow_drains_the_outbox_in_batches_and_returns_only_counts(
        prefect_harness, dispatcher, engine_sessions, smtp_sink, frozen_clock):
    with unit_of_work(engine_sessions) as session:
        owner = factories.agency(session)
        user = factories.user(session, owner)
        case = factories.asb_case(session, owner)
        session.execute(OutboxMessage.__table__.delete())
        for n in range(7):
            factories.assign_action(
                session, factories.SYSTEM, case_id=case.id, title=f"Step {n}",
                assigned_agency_id=owner.id, due_at=frozen_clock.now() + timedelta(days=3))
        for n in range(5):
            enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"flow:{n}",
                    payload={"template": "stage_assigned", "case_id": case.id,
                             "stage": "report", "sequence": 1,
                             "recipient": {"user_id": user.id}}, case_id=case.id)
        enqueue(session, kind=EffectKind.CREATE_ACTIONS, idempotency_key="flow:unsupported",
                payload={})
    with use_dispatcher(dispatcher):
        result = dispatch_outbox(batch_size=4)
    assert result == {"claimed": 12, "done": 12}
    assert len(smtp_sink.messages) == 12
    assert len({m.message_id for m in smtp_sink.messages}) == 12
    with engine_sessions() as session:
        counts = dict(session.execute(select(OutboxMessage.status, func.count())
                                      .group_by(OutboxMessage.status)).all())
    assert counts == {OutboxStatus.DONE: 12, OutboxStatus.PENDING: 1}  # unsupported: waits
    with use_dispatcher(dispatcher):
        assert dispatch_outbox(batch_size=4) == {}
    assert len(smtp_sink.messages) == 12

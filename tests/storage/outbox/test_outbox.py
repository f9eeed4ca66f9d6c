"""The outbox queues each side effect once, in the same transaction as the change behind it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from storage.audit.models import AuditAction
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue
from tests import factories
from tests.storage.helpers import audit_entries, rejected_by


def count_outbox(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_two_rows_with_the_same_idempotency_key_are_refused(session, frozen_clock):
    now = frozen_clock.now()
    session.add(OutboxMessage(idempotency_key="welcome:1", kind=EffectKind.EMAIL,
                              payload={"template": "welcome"}, available_at=now))
    session.flush()
    with rejected_by(session, "uq_outbox_idempotency_key", "outbox.idempotency_key"):
        session.add(OutboxMessage(idempotency_key="welcome:1", kind=EffectKind.LETTER,
                                  payload={"template": "other"}, available_at=now))
    assert count_outbox(session) == 1


def test_enqueue_writes_a_pending_row_due_now(session, frozen_clock):
    message = enqueue(session, kind=EffectKind.EMAIL, idempotency_key="welcome:7",
                      payload={"template": "welcome", "user_id": 7})
    session.commit()
    stored = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message.id))
    assert stored.status is OutboxStatus.PENDING
    assert stored.attempts == 0
    assert stored.available_at == frozen_clock.now()
    assert stored.payload == {"template": "welcome", "user_id": 7}
    assert stored.lease_expires_at is None
    assert stored.completed_at is None


def test_enqueue_twice_with_one_key_returns_the_first_row(session, frozen_clock):
    first = enqueue(session, kind=EffectKind.EMAIL, idempotency_key="sweep:stage:5:due",
                    payload={"template": "stage_due", "attempt": 1})
    second = enqueue(session, kind=EffectKind.EMAIL, idempotency_key="sweep:stage:5:due",
                     payload={"template": "stage_due", "attempt": 2},
                     available_at=frozen_clock.now() + timedelta(hours=1))
    session.commit()
    assert second.id == first.id
    assert second.payload == {"template": "stage_due", "attempt": 1}
    assert count_outbox(session) == 1


def test_enqueue_finds_a_row_committed_earlier(session):
    first = enqueue(session, kind=EffectKind.WEBHOOK, idempotency_key="hook:1",
                    payload={"url_id": 1})
    session.commit()
    session.expunge_all()  # a later request: nothing left in the identity map
    again = enqueue(session, kind=EffectKind.WEBHOOK, idempotency_key="hook:1",
                    payload={"url_id": 1})
    assert again.id == first.id
    assert count_outbox(session) == 1


def test_different_keys_queue_different_rows(session):
    enqueue(session, kind=EffectKind.EMAIL, idempotency_key="a", payload={})
    enqueue(session, kind=EffectKind.EMAIL, idempotency_key="b", payload={})
    assert count_outbox(session) == 2


def test_queued_effect_rolls_back_with_the_change_that_caused_it(session, frozen_clock):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    session.commit()
    factories.assign_action(
        session, factories.SYSTEM, case_id=case.id, title="Visit",
        assigned_agency_id=owner.id, due_at=frozen_clock.now() + timedelta(days=1),
    )
    assert count_outbox(session) == 1
    session.rollback()
    assert count_outbox(session) == 0


def test_enqueue_in_a_service_keeps_the_services_audit_entries(session, frozen_clock):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    action = factories.assign_action(
        session, factories.SYSTEM, case_id=case.id, title="Visit",
        assigned_agency_id=owner.id, due_at=frozen_clock.now() + timedelta(days=1),
    )
    session.commit()
    [created] = audit_entries(session, entity_type="actions")
    assert (created.action, created.entity_id, created.case_id) == (
        AuditAction.CREATE, str(action.id), case.id
    )
    [message] = session.scalars(select(OutboxMessage)).all()
    assert (message.kind, message.case_id) == (EffectKind.NOTIFY_AGENCY, case.id)
    assert message.payload == {"template": "action_assigned", "action_id": action.id}


def wait_until_waiting_on_a_lock(engine, backend_pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": backend_pid},
            )
            watcher.rollback()
            if waiting == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {backend_pid} never waited on a lock")


def test_enqueue_that_loses_a_race_returns_the_winners_row(scratch_sessions, migrated_scratch):
    """B looks for the key before A commits, then inserts: PostgreSQL makes B wait on A's
    unique key, and when A commits B must hand back A's row, with B's own earlier work
    (and its audit entry) intact."""
    if migrated_scratch.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two inserts cannot race")
    with scratch_sessions() as a, scratch_sessions() as b:
        winner = enqueue(a, kind=EffectKind.EMAIL, idempotency_key="race:1",
                         payload={"by": "a"})
        b_agency = factories.agency(b)  # audited work B did before queueing the effect
        b_pid = b.scalar(text("SELECT pg_backend_pid()"))
        outcome: dict = {}

        def b_enqueues() -> None:
            try:
                outcome["message"] = enqueue(b, kind=EffectKind.EMAIL,
                                             idempotency_key="race:1", payload={"by": "b"})
            except BaseException as exc:  # reported below, in the test's thread
                outcome["error"] = exc

        racer = threading.Thread(target=b_enqueues)
        racer.start()
        wait_until_waiting_on_a_lock(migrated_scratch, b_pid)
        a.commit()
        racer.join(timeout=30)
        assert not racer.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["message"].id == winner.id
        assert outcome["message"].payload == {"by": "a"}
        b.commit()

    with scratch_sessions() as fresh:
        assert count_outbox(fresh) == 1
        assert [e.entity_id for e in audit_entries(fresh, entity_type="agencies")] == [
            str(b_agency.id)
        ]

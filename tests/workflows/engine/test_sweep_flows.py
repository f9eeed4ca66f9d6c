"""The sweep flows under Prefect's test harness (one server for the whole run): they run the
same functions, and only counts cross Prefect's boundary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from storage.db import unit_of_work
from storage.escalations.models import Escalation
from storage.outbox.models import OutboxMessage
from tests.workflows.engine.test_sweeps import case_in_scan, led_case
from workflows.engine.flows import scheduled_reviews, sweep_deadlines, use_dispatcher


def test_the_deadline_flow_records_each_escalation_once(
        prefect_harness, dispatcher, sweep_sessions, frozen_clock):
    stages = [led_case(sweep_sessions)[1] for _ in range(3)]
    with unit_of_work(sweep_sessions) as session:
        session.execute(OutboxMessage.__table__.delete())
    frozen_clock.set(max(s.due_at for s in stages))
    with use_dispatcher(dispatcher):
        assert sweep_deadlines(batch_size=2) == {"found": 3, "breaches": 3}
        assert sweep_deadlines() == {}
    with sweep_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == 3
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_the_review_flow_opens_due_reviews(prefect_harness, dispatcher, sweep_sessions,
                                           frozen_clock):
    _, reviews = case_in_scan(sweep_sessions)
    frozen_clock.set(datetime.fromisoformat(reviews["victim_update"]))
    with use_dispatcher(dispatcher):
        assert scheduled_reviews() == {"due": 1, "opened": 1}
        assert scheduled_reviews() == {"due": 0}

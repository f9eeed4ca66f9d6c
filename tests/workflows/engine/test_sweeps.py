"""The deadline sweep and the review scheduler as plain functions, against a real database
(commits for real) and, for the e-mails, a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, select

from rules.escalations import Level
from storage.accounts.models import Role
from storage.cases.models import Case, StageInstance, StageStatus
from storage.cases.workflow import close_case, definition_for, override, pause_case
from storage.db import unit_of_work
from storage.escalations.models import Escalation
from storage.escalations.services import find_due
from storage.outbox.models import OutboxMessage
from tests import factories
from web.cases.chronology import chronology
from workflows.engine.dispatch import dispatch_once
from workflows.engine.sweeps import scheduled_reviews, sweep_deadlines

MINUTE = timedelta(minutes=1)


def led_case(sessions, *, line_manager: bool = True, agency_manager: bool = True):
    """An ASB case in its first stage, led by a practitioner (with a line manager)."""
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        boss = factories.user(session, owner, Role.MANAGER) if agency_manager else None
        manager = factories.user(session, owner, Role.MANAGER) if line_manager else None
        lead = factories.user(session, owner)
        if manager is not None:
            lead.line_manager_id = manager.id
        case = factories.asb_case(session, owner, lead_officer_id=lead.id)
        stage = factories.active_stage(case)
    return case, stage, lead, manager, boss


def escalations(sessions, case_id: int | None = None) -> list[Escalation]:
    with sessions() as session:
        query = select(Escalation).order_by(Escalation.id)
        if case_id is not None:
            query = query.where(Escalation.case_id == case_id)
        return list(session.scalars(query))


def outbox(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def clear_outbox(sessions) -> None:
    with unit_of_work(sessions) as session:
        session.execute(OutboxMessage.__table__.delete())


def test_nothing_is_escalated_before_the_warning_point(sweep_sessions, frozen_clock):
    _, stage, _, _, _ = led_case(sweep_sessions)
    frozen_clock.set(stage.warn_at - MINUTE)
    assert sweep_deadlines(sweep_sessions) == {}
    assert escalations(sweep_sessions) == []


def test_one_query_finds_warnings_and_breaches_of_stages_and_actions(
        sweep_sessions, engine_db, frozen_clock):
    _, early, _, _, _ = led_case(sweep_sessions)
    frozen_clock.advance(timedelta(hours=30))  # opened later: its stage is not due yet
    late, stage, lead, _, _ = led_case(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:
        action = factories.assign_action(
            session, factories.SYSTEM, case_id=late.id, title="Fit a door camera",
            assigned_agency_id=lead.agency_id, due_at=stage.due_at)
    frozen_clock.set(max(stage.warn_at, early.due_at + MINUTE))
    assert stage.due_at > frozen_clock.now() >= stage.warn_at
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine_db, "before_cursor_execute", count)
    try:
        with sweep_sessions() as session:
            found = find_due(session, frozen_clock.now())
    finally:
        event.remove(engine_db, "before_cursor_execute", count)
    assert len(statements) == 1
    assert {(d.kind, d.target_id, d.level) for d in found} == {
        ("stage", early.id, Level.BREACH), ("stage", stage.id, Level.WARNING),
        ("action", action.id, Level.WARNING)}


def test_a_warning_is_recorded_and_e_mailed_once(
        sweep_sessions, dispatcher, smtp_sink, frozen_clock):
    case, stage, lead, _, _ = led_case(sweep_sessions)
    clear_outbox(sweep_sessions)
    frozen_clock.set(stage.warn_at)
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "warnings": 1}
    assert sweep_deadlines(sweep_sessions) == {}  # the second run changes nothing
    [warning] = escalations(sweep_sessions)
    assert (warning.level, warning.stage_instance_id, warning.due_at) == (
        Level.WARNING, stage.id, stage.due_at)
    assert warning.key == f"stage:{stage.id}:due:{stage.due_at.isoformat()}:warning"
    assert warning.recipient_user_ids == [lead.id]
    [row] = outbox(sweep_sessions)
    assert row.idempotency_key == warning.key
    assert row.payload == {"template": "deadline_warning", "escalation_id": warning.id,
                           "case_id": case.id}
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [received] = smtp_sink.messages
    assert received.rcpt_tos == [lead.email]
    assert case.reference in received.message["Subject"]
    for part in (received.part("plain"), received.part("html")):
        assert "Report and risk screening" in part
        assert f"https://casebridge.test/cases/{case.reference}" in part
        assert "Test Street" not in part  # the case title stays behind sign-in
        assert lead.display_name not in part
    assert sweep_deadlines(sweep_sessions) == {}
    assert len(outbox(sweep_sessions)) == 1


def test_a_breach_goes_to_the_assignee_and_their_line_manager(
        sweep_sessions, dispatcher, smtp_sink, frozen_clock):
    _case, stage, lead, manager, _boss = led_case(sweep_sessions)
    clear_outbox(sweep_sessions)
    frozen_clock.set(stage.due_at + MINUTE)
    # Never warned (the sweep did not run in time): the breach alone is recorded.
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "breaches": 1}
    [breach] = escalations(sweep_sessions)
    assert breach.level is Level.BREACH
    assert breach.recipient_user_ids == [lead.id, manager.id]  # not the agency's other manager
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [received] = smtp_sink.messages
    assert sorted(received.rcpt_tos) == sorted([lead.email, manager.email])
    assert "overdue" in received.message["Subject"]
    assert sweep_deadlines(sweep_sessions) == {}
    assert len(escalations(sweep_sessions)) == len(outbox(sweep_sessions)) == 1


def test_without_a_line_manager_a_breach_goes_to_the_owning_agencys_managers(
        sweep_sessions, frozen_clock):
    _, stage, lead, _, boss = led_case(sweep_sessions, line_manager=False)
    frozen_clock.set(stage.warn_at)
    sweep_deadlines(sweep_sessions)
    frozen_clock.set(stage.due_at)
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "breaches": 1}
    warning, breach = escalations(sweep_sessions)
    assert warning.recipient_user_ids == [lead.id]
    assert breach.recipient_user_ids == [lead.id, boss.id]


def test_unassigned_work_is_told_to_the_agency_that_owes_it(
        sweep_sessions, dispatcher, smtp_sink, frozen_clock):
    with unit_of_work(sweep_sessions) as session:
        owner = factories.agency(session)
        staff = factories.user(session, owner)
        case = factories.asb_case(session, owner)  # no lead officer: the agency's queue
        stage = factories.active_stage(case)
        session.execute(OutboxMessage.__table__.delete())
    frozen_clock.set(stage.warn_at)
    sweep_deadlines(sweep_sessions)
    [warning] = escalations(sweep_sessions)
    assert (warning.recipient_user_ids, warning.notify_agency_id) == ([], owner.id)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert smtp_sink.messages[0].rcpt_tos == [staff.email]


def test_paused_and_closed_cases_are_skipped(sweep_sessions, frozen_clock):
    paused, paused_stage, _, _, _ = led_case(sweep_sessions)
    closed, _, _, _, _ = led_case(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:
        pause_case(session, factories.SYSTEM, case_id=paused.id, expected_version=paused.version,
                   reason="Waiting for the victim to come back from hospital")
        close_case(session, factories.SYSTEM, case_id=closed.id, expected_version=closed.version,
                   reason="Reported in error")
    frozen_clock.set(paused_stage.due_at + timedelta(days=30))
    assert sweep_deadlines(sweep_sessions) == {}
    assert escalations(sweep_sessions) == []


def test_a_moved_deadline_is_escalated_again_and_the_stale_e_mail_is_not_sent(
        sweep_sessions, dispatcher, smtp_sink, frozen_clock):
    _case, stage, _lead, _, _ = led_case(sweep_sessions)
    clear_outbox(sweep_sessions)
    frozen_clock.set(stage.due_at + MINUTE)
    sweep_deadlines(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:  # e.g. a manager gave more time
        row = session.get(StageInstance, stage.id)
        row.due_at, row.warn_at = stage.due_at + timedelta(days=2), stage.due_at + timedelta(days=1)
    assert sweep_deadlines(sweep_sessions) == {}  # the new deadline is not near yet
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert smtp_sink.messages == []  # the first breach no longer holds: nothing sent
    frozen_clock.set(stage.due_at + timedelta(days=2))
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "breaches": 1}
    first, second = escalations(sweep_sessions)
    assert (first.level, second.level) == (Level.BREACH, Level.BREACH)
    assert second.due_at == stage.due_at + timedelta(days=2) != first.due_at
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert len(smtp_sink.messages) == 1


def test_completed_work_is_not_escalated(sweep_sessions, frozen_clock):
    case, stage, _, _, _ = led_case(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:
        factories.submit(session, session.get(Case, case.id), factories.ASB_REPORT)
        assert session.get(StageInstance, stage.id).status is StageStatus.COMPLETED
    frozen_clock.set(stage.due_at + MINUTE)
    assert all(e.stage_instance_id != stage.id for e in escalations(sweep_sessions))
    sweep_deadlines(sweep_sessions)
    assert all(e.stage_instance_id != stage.id for e in escalations(sweep_sessions))


def test_an_action_warns_a_day_before_and_escalates_when_overdue(
        sweep_sessions, dispatcher, smtp_sink, frozen_clock):
    case, _, lead, manager, _ = led_case(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:
        action = factories.assign_action(
            session, factories.SYSTEM, case_id=case.id, title="Visit Mrs Example at home",
            assigned_agency_id=lead.agency_id, assigned_user_id=lead.id,
            due_at=frozen_clock.now() + timedelta(days=3))
        session.execute(OutboxMessage.__table__.delete())
        session.execute(StageInstance.__table__.update().values(due_at=None, warn_at=None))
    frozen_clock.set(action.due_at - timedelta(hours=23))
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "warnings": 1}
    frozen_clock.set(action.due_at)
    assert sweep_deadlines(sweep_sessions) == {"found": 1, "breaches": 1}
    warning, breach = escalations(sweep_sessions)
    assert (warning.action_id, breach.action_id) == (action.id, action.id)
    assert breach.recipient_user_ids == [lead.id, manager.id]
    assert dispatch_once(dispatcher, 10) == {"claimed": 2, "done": 2}
    for received in smtp_sink.messages:
        text = received.part("plain")
        assert "Mrs Example" not in text  # an action's title is free text: not e-mailed
        assert f"https://casebridge.test/actions/{action.id}" in text


def test_the_case_chronology_shows_each_escalation(sweep_sessions, frozen_clock):
    case, stage, lead, manager, _ = led_case(sweep_sessions)
    frozen_clock.set(stage.warn_at)
    sweep_deadlines(sweep_sessions)
    frozen_clock.set(stage.due_at)
    sweep_deadlines(sweep_sessions)
    with sweep_sessions() as session:
        row = session.get(Case, case.id)
        page = chronology(session, lead, row, definition_for(session, row), 1)
    breach, warning = page.events[:2]
    assert warning.title == "Deadline warning for stage 'Report and risk screening'"
    assert warning.detail == f"E-mailed {lead.display_name}"
    assert breach.title == "Deadline missed for stage 'Report and risk screening': escalated"
    assert breach.detail == f"E-mailed {lead.display_name}, {manager.display_name}"
    assert breach.by == warning.by == "Casebridge (automatically)"


def test_batches_carry_on_until_every_deadline_is_recorded(sweep_sessions, frozen_clock):
    stages = [led_case(sweep_sessions)[1] for _ in range(5)]
    frozen_clock.set(max(s.due_at for s in stages))
    assert sweep_deadlines(sweep_sessions, batch_size=2) == {"found": 5, "breaches": 5}
    assert sorted(e.stage_instance_id for e in escalations(sweep_sessions)) == sorted(
        s.id for s in stages)


# --- scheduled reviews ----------------------------------------------------------------------


def case_in_scan(sessions):
    """An ASB case moved by a manager into 'scan', where its recurring stages run."""
    case, _, _, _, _ = led_case(sessions)
    with unit_of_work(sessions) as session:
        case = override(session, factories.SYSTEM, case_id=case.id,
                        expected_version=case.version, reason="Straight to problem solving",
                        to_stages=["scan"])
        reviews = dict(case.workflow_state["next_reviews"])
    return case, reviews


def runs_of(sessions, case_id: int, key: str) -> list[StageInstance]:
    with sessions() as session:
        return list(session.scalars(select(StageInstance).where(
            StageInstance.case_id == case_id, StageInstance.stage_key == key)))


def test_a_review_that_falls_due_is_opened_once(sweep_sessions, frozen_clock):
    case, reviews = case_in_scan(sweep_sessions)
    assert set(reviews) == {"review", "victim_update"}
    assert scheduled_reviews(sweep_sessions) == {"due": 0}
    frozen_clock.set(datetime.fromisoformat(reviews["victim_update"]))
    assert scheduled_reviews(sweep_sessions) == {"due": 1, "opened": 1}
    assert scheduled_reviews(sweep_sessions) == {"due": 0}
    [update] = runs_of(sweep_sessions, case.id, "victim_update")
    assert update.status is StageStatus.ACTIVE
    assert runs_of(sweep_sessions, case.id, "review") == []


def test_an_open_review_is_not_opened_twice_and_paused_cases_wait(
        sweep_sessions, frozen_clock):
    case, reviews = case_in_scan(sweep_sessions)
    paused, _ = case_in_scan(sweep_sessions)
    with unit_of_work(sweep_sessions) as session:
        pause_case(session, factories.SYSTEM, case_id=paused.id,
                   expected_version=session.get(Case, paused.id).version,
                   reason="Waiting for the victim")
    frozen_clock.set(datetime.fromisoformat(reviews["victim_update"]))
    assert scheduled_reviews(sweep_sessions) == {"due": 1, "opened": 1}
    with sweep_sessions() as session:
        next_due = session.get(Case, case.id).workflow_state["next_reviews"]
    frozen_clock.set(datetime.fromisoformat(next_due["victim_update"]))
    # The first update is still not done: it stays open (and overdue), none piles up.
    assert scheduled_reviews(sweep_sessions) == {"due": 1, "rescheduled": 1}
    assert len(runs_of(sweep_sessions, case.id, "victim_update")) == 1
    assert runs_of(sweep_sessions, paused.id, "victim_update") == []

"""The dispatcher against a real database and a real SMTP server: every row is carried
out once, survives a crash and a relay outage, and e-mails show no personal data."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from storage.accounts.models import Role, User
from storage.agencies.models import AgencyType
from storage.agencies.services import create_agency
from storage.db import unit_of_work
from storage.outbox.dispatch import retry
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue
from tests import factories
from tests.workflows.engine.conftest import POLICY, dispatch_and_crash_before_marking
from workflows.engine import dispatch
from workflows.engine.dispatch import dispatch_once
from workflows.engine.mail import message_id_for

SENDER = "noreply@casebridge.test"


def outbox_row(sessions, message_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))


def only_row(sessions, kind: EffectKind) -> OutboxMessage:
    with sessions() as session:
        [row] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        return row


def assigned_action(sessions, frozen_clock, *, contact: str | None = "triage@housing.test",
                    with_user: bool = False):
    """A case with an action for a housing agency: one NOTIFY_AGENCY row, committed."""
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        n = factories._counter.__next__()
        housing = create_agency(session, factories.SYSTEM, name=f"Engine Housing {n}",
                                code=f"EH{n}", agency_type=AgencyType.HOUSING,
                                contact_email=contact)
        officer = factories.user(session, housing) if with_user else None
        colleague = factories.user(session, housing)
        case = factories.asb_case(session, owner)
        session.execute(OutboxMessage.__table__.delete())  # only the row under test
        action = factories.assign_action(
            session, factories.SYSTEM, case_id=case.id, title="Visit Mrs Example at home",
            assigned_agency_id=housing.id, assigned_user_id=officer.id if officer else None,
            due_at=frozen_clock.now() + timedelta(days=7),
        )
    return case, action, housing, officer, colleague


def test_an_agency_is_told_once_of_an_action_without_personal_data(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    case, action, _, _, _ = assigned_action(engine_sessions, frozen_clock)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["triage@housing.test"]
    assert received.message_id == message_id_for(f"action-assigned:{action.id}", SENDER)
    text, html = received.part("plain"), received.part("html")
    for part in (text, html):
        assert case.reference in part
        assert f"https://casebridge.test/actions/{action.id}" in part
        assert "Mrs Example" not in part  # the action's free text stays behind sign-in
        assert "Test Street" not in part  # and so does the case title
    assert "Monday 9 March 2026, 09:00" in text
    done = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 1)
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}
    assert len(smtp_sink.messages) == 1


def test_without_a_contact_address_the_agencys_active_users_are_told(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    _, _, housing, officer, colleague = assigned_action(
        engine_sessions, frozen_clock, contact=None, with_user=True)
    with unit_of_work(engine_sessions) as session:
        inactive = factories.user(session, housing)
        session.get(User, inactive.id).active = False
    dispatch_once(dispatcher, 10)
    [received] = smtp_sink.messages
    assert sorted(received.rcpt_tos) == sorted([officer.email, colleague.email])
    assert received.message["To"] == "undisclosed-recipients:;"


def test_an_email_to_the_cases_lead_names_the_stage(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    with unit_of_work(engine_sessions) as session:
        owner = factories.agency(session)
        lead = factories.user(session, owner, Role.PRACTITIONER)
        case = factories.asb_case(session, owner, lead_officer_id=lead.id)
        stage = factories.active_stage(case)
        session.execute(OutboxMessage.__table__.delete())
        enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"notify:{case.id}:x",
                payload={"template": "stage_assigned", "case_id": case.id,
                         "stage": stage.stage_key, "sequence": stage.sequence,
                         "recipient": {"kind": "lead", "role": None, "agency_type": None}},
                case_id=case.id)
    assert dispatch_once(dispatcher, 10)["done"] == 1
    [received] = smtp_sink.messages
    assert received.rcpt_tos == [lead.email]
    assert case.reference in received.message["Subject"]
    assert f"https://casebridge.test/cases/{case.reference}" in received.part("plain")


def test_an_email_to_a_user_id_or_an_address(dispatcher, engine_sessions, smtp_sink,
                                            frozen_clock):
    with unit_of_work(engine_sessions) as session:
        user = factories.user(session, factories.agency(session))
        for n, recipient in enumerate(({"user_id": user.id}, {"address": "Ops@Example.test"})):
            enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"direct:{n}",
                    payload={"template": "stage_assigned", "recipient": recipient,
                             "case_id": None})
    # stage_assigned needs a case: without one it is a template error, failed at once.
    assert dispatch_once(dispatcher, 10) == {"claimed": 2, "failed": 2}
    with unit_of_work(engine_sessions) as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {r.status for r in rows} == {OutboxStatus.FAILED}
        assert all("UndefinedError" in r.last_error for r in rows)
        case = factories.asb_case(session, factories.agency(session))
        for row in rows:
            row.payload = {**row.payload, "case_id": case.id}
    with unit_of_work(engine_sessions) as session:
        assert retry(session, all_failed=True) == 2
    assert dispatch_once(dispatcher, 10) == {"claimed": 2, "done": 2}
    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == sorted(
        [user.email, "ops@example.test"])


def test_a_crash_after_sending_loses_nothing_and_resends_the_same_message(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, monkeypatch):
    _, action, _, _, _ = assigned_action(engine_sessions, frozen_clock)
    dispatch_and_crash_before_marking(dispatcher, monkeypatch)
    assert len(smtp_sink.messages) == 1
    stuck = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert stuck.status is OutboxStatus.CLAIMED
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}  # the lease still holds it
    frozen_clock.advance(POLICY.lease)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    first, second = smtp_sink.messages
    assert first.message_id == second.message_id == message_id_for(
        f"action-assigned:{action.id}", SENDER)
    done = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 2)
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}


def test_a_relay_outage_backs_off_then_delivers_once(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    assigned_action(engine_sessions, frozen_clock)
    smtp_sink.stop()
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "retrying": 1}
    waiting = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.available_at == frozen_clock.now() + POLICY.base_delay
    assert waiting.last_error.startswith("ConnectionRefusedError")
    frozen_clock.advance(POLICY.base_delay)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "retrying": 1}
    waiting = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert waiting.available_at == frozen_clock.now() + 2 * POLICY.base_delay
    smtp_sink.start()
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}  # still backing off
    frozen_clock.advance(2 * POLICY.base_delay)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert len(smtp_sink.messages) == 1
    assert only_row(engine_sessions, EffectKind.NOTIFY_AGENCY).attempts == 3


def test_a_relay_that_never_comes_back_fails_the_row_with_its_error(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    assigned_action(engine_sessions, frozen_clock)
    smtp_sink.stop()
    for _ in range(POLICY.max_attempts):
        dispatch_once(dispatcher, 10)
        frozen_clock.advance(POLICY.max_delay)
    failed = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, POLICY.max_attempts)
    assert "ConnectionRefusedError" in failed.last_error


def test_an_agency_with_no_one_to_tell_fails_at_once(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    _, _, housing, _, colleague = assigned_action(engine_sessions, frozen_clock, contact=None)
    with unit_of_work(engine_sessions) as session:
        session.get(User, colleague.id).active = False
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "failed": 1}
    failed = only_row(engine_sessions, EffectKind.NOTIFY_AGENCY)
    assert failed.last_error == (f"Undeliverable: agency {housing.id} has no contact address "
                                 "and no active users")
    assert smtp_sink.messages == []


def test_kinds_not_supported_yet_stay_pending_and_are_logged_by_id(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, caplog):
    with unit_of_work(engine_sessions) as session:
        unsupported = enqueue(session, kind=EffectKind.CREATE_ACTIONS, idempotency_key="ca:1",
                              payload={"title": "secret-person-name"})
    with caplog.at_level(logging.WARNING, logger="casebridge.engine"):
        assert dispatch_once(dispatcher, 10) == {"claimed": 0}
    row = outbox_row(engine_sessions, unsupported.id)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 0, None)
    assert (f"outbox row {unsupported.id} (kind create_actions) left pending: not supported "
            "yet") in caplog.text
    assert "secret-person-name" not in caplog.text


def test_a_row_whose_lease_is_nearly_out_is_handed_back_unsent(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    assigned_action(engine_sessions, frozen_clock)
    [claimed] = dispatch.claim(dispatcher, "slow-worker", 10)
    frozen_clock.advance(POLICY.lease - timedelta(seconds=2))
    assert dispatch.run_effects(dispatcher, "slow-worker", [claimed.id]) == {"released": 1}
    assert smtp_sink.messages == []
    back = outbox_row(engine_sessions, claimed.id)
    assert (back.status, back.attempts) == (OutboxStatus.PENDING, 0)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}


def test_a_settled_action_needs_no_notice(dispatcher, engine_sessions, smtp_sink, frozen_clock):
    from storage.cases.models import ActionStatus
    from storage.cases.services import change_action_status

    _, action, _, _, _ = assigned_action(engine_sessions, frozen_clock)
    with unit_of_work(engine_sessions) as session:
        change_action_status(session, factories.SYSTEM, action_id=action.id,
                             status=ActionStatus.DONE, outcome="done already")
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert smtp_sink.messages == []


def test_one_row_that_cannot_be_composed_fails_alone_in_its_chunk(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    """Leases are checked and e-mails composed a chunk at a time in one transaction: a row
    that fails there is recorded without undoing its neighbours, which go out once each."""
    with unit_of_work(engine_sessions) as session:
        case = factories.asb_case(session, factories.agency(session))
        session.execute(OutboxMessage.__table__.delete())
        for n in range(3):
            enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"chunk:{n}",
                    payload={"template": "stage_assigned", "case_id": case.id,
                             "recipient": {"address": f"worker{n}@example.test"}})
        enqueue(session, kind=EffectKind.EMAIL, idempotency_key="chunk:broken",
                payload={"template": "stage_assigned", "case_id": case.id, "recipient": {}})
    assert dispatch_once(dispatcher, 10) == {"claimed": 4, "done": 3, "failed": 1}
    with engine_sessions() as session:
        statuses = dict(session.execute(select(OutboxMessage.idempotency_key,
                                               OutboxMessage.status)).all())
    assert statuses == {"chunk:0": OutboxStatus.DONE, "chunk:1": OutboxStatus.DONE,
                        "chunk:2": OutboxStatus.DONE, "chunk:broken": OutboxStatus.FAILED}
    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == [
        f"worker{n}@example.test" for n in range(3)]


def test_a_referral_tells_the_service_which_case_and_why_without_personal_data(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    with unit_of_work(engine_sessions) as session:
        owner = factories.agency(session)
        n = factories._counter.__next__()
        create_agency(session, factories.SYSTEM, name=f"Engine Victim Support {n}",
                      code=f"VS{n}", agency_type=AgencyType.VICTIM_SERVICE,
                      contact_email="referrals@support.test")
        case = factories.asb_case(session, owner)
        session.execute(OutboxMessage.__table__.delete())
        enqueue(session, kind=EffectKind.REFERRAL, idempotency_key=f"refer:{case.id}",
                case_id=case.id, payload={"service": "victim_service", "case_id": case.id,
                                          "reason": "Vulnerability score of 22 or more."})
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["referrals@support.test"]
    text = received.part("plain")
    assert case.reference in text
    assert "Vulnerability score of 22 or more." in text
    assert "Test Street" not in text  # the case title stays behind sign-in
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}


def test_a_referral_with_no_such_service_fails_at_once_for_a_person_to_see(
        dispatcher, engine_sessions, smtp_sink, frozen_clock):
    with unit_of_work(engine_sessions) as session:
        case = factories.asb_case(session, factories.agency(session))
        session.execute(OutboxMessage.__table__.delete())
        enqueue(session, kind=EffectKind.REFERRAL, idempotency_key=f"refer:none:{case.id}",
                case_id=case.id, payload={"service": "no_such_service", "case_id": case.id})
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "failed": 1}
    failed = only_row(engine_sessions, EffectKind.REFERRAL)
    assert "no such kind of agency" in failed.last_error
    assert smtp_sink.messages == []

"""Minimum standards in the deadline sweep, against a real database (commits for real) and a
real SMTP server: the ladder steps level by level as time moves, stops when the standard is
met or the case is paused or closed, a second sweep sends nothing new, and the partnership
lead gets one digest a day instead of one e-mail per breach."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from storage.accounts.models import Role
from storage.cases.models import Case
from storage.cases.workflow import close_case, pause_case, resume_case
from storage.db import unit_of_work
from storage.outbox.models import OutboxMessage
from storage.standards.models import (
    DigestItem,
    EscalationContact,
    StandardEscalation,
    StandardsVersion,
)
from storage.standards.services import publish_default, set_partnership_lead, set_spoc
from tests import factories
from tests.storage.helpers import ASB_REPORT
from workflows.engine.dispatch import dispatch_once
from workflows.engine.sweeps import send_digests, sweep_deadlines

STANDARD = "Risk assessment done within 2 working days of the report"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def standards(sweep_sessions, frozen_clock):
    """The default standards published in the engine database for this test only."""
    with unit_of_work(sweep_sessions) as session:
        publish_default(session, factories.SYSTEM)
    yield sweep_sessions
    with unit_of_work(sweep_sessions) as session:
        for model in (DigestItem, StandardEscalation, StandardsVersion, EscalationContact):
            session.execute(delete(model))


def people(sessions):
    """A lead with a line manager, the agency's SPOC and a partnership lead (digest)."""
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        manager = factories.user(session, owner, Role.MANAGER)
        lead = factories.user(session, owner)
        lead.line_manager_id = manager.id
        spoc = factories.user(session, owner)
        boss = factories.user(session, factories.agency(session), Role.PARTNERSHIP_ADMIN)
        set_spoc(session, factories.SYSTEM, agency_id=owner.id, user_id=spoc.id)
        set_partnership_lead(session, factories.SYSTEM, user_id=boss.id)
    return owner, lead, manager, spoc, boss


def asb_case(sessions, owner, lead):
    """Opened Monday 2 March 09:00; its report done, so only the risk assessment is due
    (Wednesday 17:00, warning Tuesday 17:00)."""
    with unit_of_work(sessions) as session:
        case = factories.asb_case(session, owner, lead_officer_id=lead.id)
        factories.submit(session, case, ASB_REPORT, key="report")
        session.execute(OutboxMessage.__table__.delete())
    return case


def standard_mail(smtp_sink) -> list:
    return [m for m in smtp_sink.messages if "minimum standard" in m.message["Subject"]]


def step(sessions, dispatcher, smtp_sink, frozen_clock, when: str) -> list:
    """Move the clock, sweep twice (the second must change nothing), send, and return the
    standard e-mails this step delivered."""
    frozen_clock.set(at(when))
    sweep_deadlines(sessions)
    assert {k: v for k, v in sweep_deadlines(sessions).items() if k.startswith("standard")} == {}
    before = len(standard_mail(smtp_sink))
    dispatch_once(dispatcher, 100)
    return standard_mail(smtp_sink)[before:]


def test_the_ladder_steps_level_by_level_and_the_lead_gets_a_daily_digest(
        standards, dispatcher, smtp_sink, frozen_clock):
    owner, lead, manager, spoc, boss = people(standards)
    case = asb_case(standards, owner, lead)
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-03 16:59") == []
    [warning] = step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-03 17:00")
    assert warning.rcpt_tos == [lead.email]
    assert "due soon" in warning.message["Subject"]
    assert case.reference in warning.message["Subject"]
    [breach] = step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-04 17:00")
    assert sorted(breach.rcpt_tos) == sorted([lead.email, manager.email])
    text = breach.part("plain")
    assert STANDARD in text
    assert "has been missed" in text
    assert f"https://casebridge.test/cases/{case.reference}" in text
    assert "Test Street" not in text
    assert lead.display_name not in text
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-06 16:59") == []
    [second] = step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-06 17:00")
    assert second.rcpt_tos == [spoc.email]
    assert "escalation level 2" in second.message["Subject"]
    # Level 3 goes to the partnership lead, who asked for a digest: no e-mail of its own.
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-11 17:00") == []
    with standards() as session:
        levels = session.scalars(select(StandardEscalation.level).where(
            StandardEscalation.case_id == case.id).order_by(StandardEscalation.level)).all()
        assert levels == [0, 1, 2, 3]
        [item] = session.scalars(select(DigestItem)).all()
        assert (item.user_id, item.digest_on) == (boss.id, None)
    # Before the digest hour (08:00 London) nothing; after it, one digest, once.
    frozen_clock.set(at("2026-03-12 07:59"))
    assert send_digests(standards, "Europe/London") == {}
    frozen_clock.set(at("2026-03-12 08:00"))
    assert send_digests(standards, "Europe/London") == {"digests": 1}
    assert send_digests(standards, "Europe/London") == {}
    dispatch_once(dispatcher, 100)
    [digest] = [m for m in smtp_sink.messages if "escalation" in m.message["Subject"]
                and "Casebridge:" in m.message["Subject"]]
    assert digest.rcpt_tos == [boss.email]
    assert case.reference in digest.part("plain")
    assert STANDARD in digest.part("plain")
    assert "still open" in digest.part("plain")
    frozen_clock.set(at("2026-03-13 08:00"))
    assert send_digests(standards, "Europe/London") == {}  # nothing new: no digest


def test_the_ladder_stops_when_the_standard_is_met(
        standards, dispatcher, smtp_sink, frozen_clock):
    owner, lead, _manager, _spoc, _ = people(standards)
    case = asb_case(standards, owner, lead)
    assert len(step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-04 17:00")) == 1
    frozen_clock.set(at("2026-03-06 17:00"))
    sweep_deadlines(standards)  # level 2 recorded and queued...
    with unit_of_work(standards) as session:  # ... then the assessment is done before it goes
        row = session.get(Case, case.id)
        factories.submit(session, row, {
            "repeat_victim": "no", "targeted_for_identity": "no", "physical_harm": "no",
            "lives_alone": "no", "disability": "no", "mental_health": "no",
            "children_affected": "no", "sleep_or_work_affected": "no",
            "considering_moving": "no", "perpetrator_nearby": "no", "alcohol_or_drugs": "no",
            "support_network": "no", "assessor_view": "standard"}, key="risk_assessment")
    before = len(standard_mail(smtp_sink))
    dispatch_once(dispatcher, 100)
    assert standard_mail(smtp_sink)[before:] == []  # remedied: the queued e-mail is not sent
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-20 17:00") == []


def test_the_ladder_stops_while_paused_and_for_good_when_closed(
        standards, dispatcher, smtp_sink, frozen_clock):
    owner, lead, _, _, _ = people(standards)
    paused = asb_case(standards, owner, lead)
    closed = asb_case(standards, owner, lead)
    frozen_clock.set(at("2026-03-03 10:00"))
    with unit_of_work(standards) as session:
        for case, close in ((paused, False), (closed, True)):
            version = session.get(Case, case.id).version
            if close:
                close_case(session, factories.SYSTEM, case_id=case.id,
                           expected_version=version, reason="Reported in error")
            else:
                pause_case(session, factories.SYSTEM, case_id=case.id,
                           expected_version=version, reason="Waiting for the victim")
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-20 17:00") == []
    with unit_of_work(standards) as session:  # resumed on Friday 20th, 17:00
        resume_case(session, factories.SYSTEM, case_id=paused.id,
                    expected_version=session.get(Case, paused.id).version)
    # Paused Tuesday 3rd to Friday 20th: the 13 working days crossed are added back, so
    # it is due Monday 23rd (warning at the close of Friday 20th).
    [warning] = step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-20 17:01")
    assert warning.rcpt_tos == [lead.email]
    assert "due soon" in warning.message["Subject"]
    assert step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-23 16:59") == []
    [breach] = step(standards, dispatcher, smtp_sink, frozen_clock, "2026-03-23 17:00")
    assert "missed" in breach.message["Subject"]
    assert all(closed.reference not in m.message["Subject"] for m in smtp_sink.messages)


def test_a_standard_escalation_is_on_the_case_chronology(standards, frozen_clock):
    from storage.cases.workflow import definition_for
    from web.cases.chronology import chronology

    owner, lead, manager, _, _ = people(standards)
    case = asb_case(standards, owner, lead)
    frozen_clock.set(at("2026-03-04 17:00"))
    sweep_deadlines(standards)
    with standards() as session:
        row = session.get(Case, case.id)
        page = chronology(session, lead, row, definition_for(session, row), 1)
    titles = [e.title for e in page.events]
    assert f"Minimum standard missed: {STANDARD}" in titles
    # Newest first (SQLite may reuse an emptied table's ids, so older tests' entries can
    # share the case id in this shared database).
    event = next(e for e in page.events if e.title == f"Minimum standard missed: {STANDARD}")
    assert event.detail == f"E-mailed {lead.display_name}, {manager.display_name}"

"""What a hit does, once: a detection row, one flag on the person or place, one e-mail to
the owning agency (ids only in the outbox), the Case Review duty's action and e-mail to the
lead officer, a case opened when the configuration says so. Run twice (intake, then the
sweep) it does nothing new; a real SMTP server receives the owning agency's e-mail once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from casebridge.settings import load_settings
from rules.detectors import config as detector_config
from rules.detectors import detect_for_case, sweep
from storage.accounts.models import Role
from storage.cases.models import Action, Case, CaseLink, LinkKind
from storage.db import unit_of_work
from storage.detections.models import Detection
from storage.flags.models import Flag, FlagKind
from storage.outbox.dispatch import RetryPolicy
from storage.outbox.models import OutboxMessage
from tests import factories
from tests.rules.detectors.helpers import person, place, report
from workflows.engine.dispatch import Dispatcher, dispatch_once

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DEFAULTS = detector_config.load()


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def three_reports(session, clock, owner, victim, **extra):
    report(session, clock, NOW - 20 * DAY, owner, victim=victim, **extra)
    report(session, clock, NOW - 10 * DAY, owner, victim=victim, **extra)
    return report(session, clock, NOW, owner, victim=victim, **extra)


def test_a_repeat_victim_hit_flags_once_and_notifies_the_owner_once(session, frozen_clock):
    owner = factories.agency(session)
    victim = person(session)
    newest = three_reports(session, frozen_clock, owner, victim)
    found = detect_for_case(session, DEFAULTS, newest.id, NOW)
    assert "Repeat victim: 3 reports in 6 months" in [r.message for r in found]
    assert "ASB Case Review threshold met: 3 reports in 6 months" in [r.message for r in found]
    # again at intake, and in the sweep's query: nothing new
    assert detect_for_case(session, DEFAULTS, newest.id, NOW) == []
    assert count(session, Detection, Detection.person_id == victim.id,
                 Detection.detector == "repeat_victim") == 1
    flags = session.scalars(select(Flag).where(Flag.person_id == victim.id)).all()
    assert [f.kind for f in flags] == [FlagKind.REPEAT_VICTIM]
    assert "Testgiven" not in (flags[0].detail or "")
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == newest.id)
                           .order_by(OutboxMessage.id)).all()
    owner_mail = [r for r in rows if r.payload.get("template") == "detection_hit"]
    assert len(owner_mail) == 2  # repeat victim, Case Review threshold
    for row in owner_mail:
        assert set(row.payload) == {"template", "detection_id", "case_id", "recipient"}
        assert row.payload["recipient"] == {"kind": "owner"}


def test_an_active_flag_is_not_raised_again(session, frozen_clock):
    owner = factories.agency(session)
    victim = person(session)
    session.add(Flag(kind=FlagKind.REPEAT_VICTIM, person_id=victim.id, raised_at=NOW - DAY))
    newest = three_reports(session, frozen_clock, owner, victim)
    found = detect_for_case(session, DEFAULTS, newest.id, NOW)
    assert [r.flag_raised for r in found if r.hit.detector == "repeat_victim"] == [False]
    assert count(session, Flag, Flag.person_id == victim.id) == 1


def test_a_hot_spot_is_flagged_on_the_location(session, frozen_clock):
    owner = factories.agency(session)
    spot = place(session)
    for days in (40, 30, 20, 10):
        report(session, frozen_clock, NOW - days * DAY, owner, location=spot)
    newest = report(session, frozen_clock, NOW, owner, location=spot)
    found = detect_for_case(session, DEFAULTS, newest.id, NOW)
    assert [r.message for r in found] == ["Repeat location: 5 reports about this location in "
                                          "6 months"]
    assert [f.kind for f in session.scalars(select(Flag).where(Flag.location_id == spot.id))] \
        == [FlagKind.HOT_SPOT]


def test_the_case_review_duty_gives_the_lead_officer_an_action_and_an_email(
        session, frozen_clock):
    owner = factories.agency(session)
    lead = factories.user(session, owner)
    victim = person(session)
    report(session, frozen_clock, NOW - 10 * DAY, owner, victim=victim)
    second = report(session, frozen_clock, NOW, owner, victim=victim, lead_officer_id=lead.id)
    found = detect_for_case(session, DEFAULTS, second.id, NOW)
    assert [r.message for r in found] == ["Tell the victim about the ASB Case Review: 2 reports "
                                          "in 6 months"]
    actions = session.scalars(select(Action).where(Action.case_id == second.id)).all()
    assert [(a.title, a.assigned_user_id, a.due_at) for a in actions] == [
        ("Explain the ASB Case Review to the victim", lead.id, NOW + 10 * DAY)]
    duty = session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == second.id,
        OutboxMessage.idempotency_key.like("detection:%"))).all()
    assert [r.payload["recipient"] for r in duty] == [{"kind": "lead"}]


def test_a_threshold_hit_opens_a_case_review_when_configured(session, frozen_clock):
    config = detector_config.load_text(
        "detectors:\n  case_review_threshold:\n    open_case: asb_case_review\n")
    owner = factories.agency(session)
    victim = person(session)
    newest = three_reports(session, frozen_clock, owner, victim)
    found = detect_for_case(session, config, newest.id, NOW)
    opened = [r.opened_case_id for r in found if r.hit.detector == "case_review_threshold"]
    assert len(opened) == 1
    review = session.get(Case, opened[0])
    assert review.case_type == "asb_case_review"
    assert review.owning_agency_id == owner.id
    assert [p.person_id for p in review.participants] == [victim.id]
    assert count(session, CaseLink, CaseLink.from_case_id == newest.id,
                 CaseLink.to_case_id == review.id, CaseLink.kind == LinkKind.ESCALATED_TO) == 1
    assert detect_for_case(session, config, newest.id, NOW) == []  # not a second review


# --- intake, then the sweep, then the engine: one e-mail ------------------------------------


@pytest.fixture
def mail_settings(smtp_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    return load_settings(data_dir=tmp_path, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port,
                         smtp_timeout_seconds=5, public_url="https://casebridge.test",
                         mail_from="Casebridge <noreply@casebridge.test>")


def test_intake_then_sweep_twice_sends_the_owning_agency_one_email(
        scratch_sessions, frozen_clock, smtp_sink, mail_settings):
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        owner.contact_email = "asb-team@owner.test"
        elsewhere = factories.agency(session)
        factories.user(session, elsewhere, Role.MANAGER)
        victim = person(session)
        report(session, frozen_clock, NOW - 20 * DAY, elsewhere, victim=victim)
        report(session, frozen_clock, NOW - 10 * DAY, elsewhere, victim=victim)
        newest = report(session, frozen_clock, NOW, owner, victim=victim)
        detect_for_case(session, DEFAULTS, newest.id, NOW)
        reference = newest.reference
    assert sweep(scratch_sessions, DEFAULTS, NOW) == {}
    frozen_clock.advance(timedelta(hours=1))
    assert sweep(scratch_sessions, DEFAULTS) == {}
    dispatcher = Dispatcher(scratch_sessions, mail_settings, policy=RetryPolicy(
        max_attempts=2, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=5),
        lease=timedelta(minutes=5)))
    dispatch_once(dispatcher, 50)
    assert dispatch_once(dispatcher, 50) == {"claimed": 0}
    hits = [m for m in smtp_sink.messages
            if m.message["Subject"].startswith("Repeat victim")]
    assert len(hits) == 1
    mail = hits[0]
    assert mail.rcpt_tos == ["asb-team@owner.test"]
    assert mail.message["Subject"] == f"Repeat victim: case {reference}"
    text = mail.part("plain")
    assert "Repeat victim (3 reports in 6 months)" in text
    assert "3 reports about a person on the case" in text
    assert f"https://casebridge.test/cases/{reference}" in text
    assert "Testgiven" not in text
    assert "Testfam" not in text
    assert "Testgiven" not in mail.part("html")


def test_the_sweep_finds_what_intake_did_not_see(scratch_sessions, frozen_clock):
    """Reports recorded without the intake page (the API, a participant added later) are
    found by the sweep, once, and a second sweep finds nothing."""
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        victim = person(session)
        newest = three_reports(session, frozen_clock, owner, victim)
        newest_id = newest.id
    first = sweep(scratch_sessions, DEFAULTS, NOW)
    # Never told about the Case Review either: the duty fires on this newest report.
    assert first == {"repeat_victim": 1, "case_review_threshold": 1, "case_review_duty": 1,
                     "flags": 1}
    assert sweep(scratch_sessions, DEFAULTS, NOW) == {}
    with scratch_sessions() as session:
        assert count(session, Detection, Detection.case_id == newest_id) == 3
        assert count(session, Flag, Flag.person_id == victim.id) == 1
        assert count(session, OutboxMessage, OutboxMessage.idempotency_key.like(
            "detection:%:owner")) == 2

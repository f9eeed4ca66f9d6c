"""Each shipped standard measured in SQL against a table of cases: just inside, just outside,
across weekends and bank holidays, starts after hours, paused clocks, met and not met."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.calendars import calendar_for
from storage.cases.models import Case, CaseStatus, RiskLevel, StageInstance, StageStatus
from storage.cases.workflow import close_case, pause_case, resume_case
from storage.meetings.models import AgendaItem, Meeting, MeetingKind, MeetingStatus
from storage.standards.escalate import in_force
from storage.standards.evaluate import findings
from tests import factories

UTC_ = UTC
MINUTE = timedelta(minutes=1)
CALENDAR = calendar_for()


def at(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM' (London is on GMT until 29 March 2026)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def open_at(session, frozen_clock, when: datetime, case_type: str = "asb",
            risk: RiskLevel | None = None, lead=None) -> Case:
    frozen_clock.set(when)
    owner = factories.agency(session)
    return factories.open_case(
        session, factories.SYSTEM, case_type=case_type, title="Test case",
        owning_agency_id=owner.id, risk_level=risk,
        lead_officer_id=lead.id if lead is not None else None)


def measured(session, now: datetime, standard: str, case: Case | None = None):
    row, standards = in_force(session)
    hits = findings(session, standards, row.calendar_key, now, names=[standard],
                    case_ids=[case.id] if case is not None else None)
    return hits


def level(session, now: datetime, standard: str, case: Case) -> int | None:
    hits = measured(session, now, standard, case)
    assert len(hits) <= 1
    return hits[0].level if hits else None


def completed_stage(session, case: Case, key: str, when: datetime, **answers) -> None:
    session.add(StageInstance(
        case_id=case.id, stage_key=key, sequence=100 + len(case.stages), opened_at=when,
        status=StageStatus.COMPLETED, completed_at=when, form_data=answers or {"done": "yes"}))
    session.flush()
    session.expire(case)


# --- risk assessment within 2 working days of the report ------------------------------------


@pytest.mark.parametrize(("opened", "due"), [
    ("2026-03-02 09:00", "2026-03-04 17:00"),  # Monday: due Wednesday close of business
    ("2026-03-02 18:00", "2026-03-05 17:00"),  # after hours: day zero is Tuesday
    ("2026-03-05 10:00", "2026-03-09 17:00"),  # Thursday: across the weekend
    ("2026-03-07 10:00", "2026-03-11 17:00"),  # Saturday: day zero is Monday
    ("2026-04-02 09:00", "2026-04-08 16:00"),  # Good Friday and Easter Monday; BST
    ("2026-12-23 10:00", "2026-12-29 17:00"),  # Christmas and Boxing Day (observed 28th)
])
def test_the_deadline_is_counted_in_working_days_on_the_calendar(
        session, published, frozen_clock, opened, due):
    case = open_at(session, frozen_clock, at(opened))
    [hit] = measured(session, at(due), "asb_risk_assessment", case)
    assert hit.due_at == at(due) == CALENDAR.add_working_days(at(opened), 2)
    assert hit.level == 1  # breached exactly at the deadline
    assert level(session, at(due) - MINUTE, "asb_risk_assessment", case) == 0


def test_the_sql_deadline_matches_the_python_calendar_for_many_starts(
        session, published, frozen_clock):
    starts = [at("2026-03-27 08:00") + timedelta(hours=7 * n) for n in range(60)]
    cases = [open_at(session, frozen_clock, start) for start in starts]
    hits = {h.case_id: h for h in measured(session, at("2026-06-01 12:00"),
                                            "asb_risk_assessment")}
    for case, start in zip(cases, starts, strict=True):
        assert hits[case.id].due_at == CALENDAR.add_working_days(start, 2), start
    # Clocks that start at a stage's completion, and start again: one row each, not shared.
    for case, start in zip(cases[:10], starts[:10], strict=True):
        completed_stage(session, case, "victim_contact", start + timedelta(hours=1))
    updates = {h.case_id: h for h in measured(session, at("2026-06-01 12:00"),
                                               "asb_victim_updates")}
    for case, start in zip(cases[:10], starts[:10], strict=True):
        assert updates[case.id].due_at == CALENDAR.add_working_days(
            start + timedelta(hours=1), 10), start


def test_warning_one_working_day_before_and_nothing_earlier(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-05 10:00"))  # Thursday
    assert level(session, at("2026-03-06 16:59"), "asb_risk_assessment", case) is None
    assert level(session, at("2026-03-06 17:00"), "asb_risk_assessment", case) == 0  # Friday
    assert level(session, at("2026-03-08 12:00"), "asb_risk_assessment", case) == 0  # Sunday
    assert level(session, at("2026-03-09 17:00"), "asb_risk_assessment", case) == 1


def test_ladder_levels_follow_the_delays_in_working_days(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"))  # due Wed 4 March 17:00
    # The standard ladder: level 2 two working days after the breach, level 3 three more.
    assert level(session, at("2026-03-06 16:59"), "asb_risk_assessment", case) == 1
    assert level(session, at("2026-03-06 17:00"), "asb_risk_assessment", case) == 2
    assert level(session, at("2026-03-11 16:59"), "asb_risk_assessment", case) == 2
    assert level(session, at("2026-03-11 17:00"), "asb_risk_assessment", case) == 3
    assert level(session, at("2026-06-11 17:00"), "asb_risk_assessment", case) == 3


def test_met_when_the_stage_is_completed(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"))
    completed_stage(session, case, "risk_assessment", at("2026-03-05 11:00"))  # late, but met
    assert measured(session, at("2026-03-20 12:00"), "asb_risk_assessment", case) == []


def test_a_paused_case_is_not_measured_and_its_clock_stops(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"))  # due Wed 4 March 17:00
    frozen_clock.set(at("2026-03-03 10:00"))  # Tuesday
    pause_case(session, factories.SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Waiting for the victim")
    assert measured(session, at("2026-03-04 17:00"), "asb_risk_assessment", case) == []
    frozen_clock.set(at("2026-03-05 10:00"))  # Thursday: two working days crossed paused
    resume_case(session, factories.SYSTEM, case_id=case.id,
                expected_version=session.get(Case, case.id).version)
    assert session.get(Case, case.id).status is CaseStatus.OPEN
    [hit] = measured(session, at("2026-03-06 17:00"), "asb_risk_assessment", case)
    assert (hit.due_at, hit.level) == (at("2026-03-06 17:00"), 1)
    assert level(session, at("2026-03-06 16:59"), "asb_risk_assessment", case) == 0


def test_closed_cases_are_not_measured(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"))
    close_case(session, factories.SYSTEM, case_id=case.id,
                         expected_version=case.version, reason="Reported in error")
    assert measured(session, at("2026-03-20 12:00"), "asb_risk_assessment", case) == []


# --- high-risk ASB victim contacted within 1 working day ------------------------------------


def test_high_risk_contact_needs_the_victim_reached(session, published, frozen_clock):
    high = open_at(session, frozen_clock, at("2026-03-06 15:00"), risk=RiskLevel.HIGH)  # Fri
    standard = open_at(session, frozen_clock, at("2026-03-06 15:00"), risk=RiskLevel.STANDARD)
    # Due Monday 17:00 (1 working day); warning 4 working hours before, Monday 13:00.
    assert level(session, at("2026-03-09 12:59"), "high_risk_asb_contact", high) is None
    assert level(session, at("2026-03-09 13:00"), "high_risk_asb_contact", high) == 0
    assert level(session, at("2026-03-09 17:00"), "high_risk_asb_contact", high) == 1
    assert measured(session, at("2026-03-09 17:00"), "high_risk_asb_contact", standard) == []
    completed_stage(session, high, "victim_contact", at("2026-03-09 10:00"), contact_made="no")
    assert level(session, at("2026-03-09 17:00"), "high_risk_asb_contact", high) == 1
    completed_stage(session, high, "victim_contact", at("2026-03-09 11:00"), contact_made="yes")
    assert measured(session, at("2026-03-09 17:00"), "high_risk_asb_contact", high) == []


# --- victim updated every 10 working days ---------------------------------------------------


def test_victim_updates_start_the_clock_again(session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"))
    assert measured(session, at("2026-06-01 12:00"), "asb_victim_updates", case) == []
    completed_stage(session, case, "victim_contact", at("2026-03-03 11:00"))  # Tuesday
    [hit] = measured(session, at("2026-03-17 17:00"), "asb_victim_updates", case)
    assert (hit.started_at, hit.due_at, hit.level) == (
        at("2026-03-03 11:00"), at("2026-03-17 17:00"), 1)  # 10 working days on
    assert level(session, at("2026-03-13 16:59"), "asb_victim_updates", case) is None
    assert level(session, at("2026-03-13 17:00"), "asb_victim_updates", case) == 0
    completed_stage(session, case, "victim_update", at("2026-03-16 10:00"))
    assert measured(session, at("2026-03-17 17:00"), "asb_victim_updates", case) == []
    [again] = measured(session, at("2026-03-30 17:00"), "asb_victim_updates", case)
    assert (again.started_at, again.due_at) == (at("2026-03-16 10:00"), at("2026-03-30 16:00"))


# --- hate crime and Case Review --------------------------------------------------------------


@pytest.mark.parametrize(("case_type", "standard", "met_by", "days"), [
    ("hate_crime", "hate_crime_support_referral", "needs_assessment", 2),
    ("asb_case_review", "case_review_acknowledged", "acknowledgement", 5),
])
def test_within_n_working_days_of_the_report(session, published, frozen_clock, case_type,
                                             standard, met_by, days):
    opened = at("2026-03-26 10:00")  # Thursday; the clocks go forward on Sunday 29th
    case = open_at(session, frozen_clock, opened, case_type=case_type)
    due = CALENDAR.add_working_days(opened, days)
    assert level(session, due - MINUTE, standard, case) == 0
    assert level(session, due, standard, case) == 1
    completed_stage(session, case, met_by, due - MINUTE)
    assert measured(session, due, standard, case) == []


def test_enhanced_rights_victim_updated_within_a_working_day_of_a_significant_event(
        session, published, frozen_clock):
    case = open_at(session, frozen_clock, at("2026-03-02 09:00"), case_type="hate_crime",
                   risk=RiskLevel.HIGH)
    other = open_at(session, frozen_clock, at("2026-03-02 09:00"), case_type="hate_crime",
                    risk=RiskLevel.STANDARD)
    assert measured(session, at("2026-03-20 12:00"), "enhanced_rights_updates", case) == []
    for row in (case, other):
        completed_stage(session, row, "investigation_decision", at("2026-03-05 16:30"))
    # Thursday 16:30: due Friday 17:00, warning 4 working hours before (13:00).
    assert level(session, at("2026-03-06 12:59"), "enhanced_rights_updates", case) is None
    assert level(session, at("2026-03-06 13:00"), "enhanced_rights_updates", case) == 0
    assert level(session, at("2026-03-06 17:00"), "enhanced_rights_updates", case) == 1
    assert measured(session, at("2026-03-06 17:00"), "enhanced_rights_updates", other) == []
    completed_stage(session, case, "victim_update", at("2026-03-06 11:00"))
    assert measured(session, at("2026-03-06 17:00"), "enhanced_rights_updates", case) == []
    completed_stage(session, case, "investigation", at("2026-03-10 09:30"))  # a new event
    assert level(session, at("2026-03-11 17:00"), "enhanced_rights_updates", case) == 1


# --- MARAC actions before the next meeting ---------------------------------------------------


def marac_action(session, frozen_clock, meeting_at: datetime):
    case = open_at(session, frozen_clock, meeting_at - timedelta(days=3))
    meeting = Meeting(kind=MeetingKind.MARAC, title="MARAC", scheduled_for=meeting_at,
                      organiser_agency_id=case.owning_agency_id, status=MeetingStatus.HELD)
    session.add(meeting)
    session.flush()
    item = AgendaItem(meeting_id=meeting.id, case_id=case.id, position=1, reason="Referred")
    session.add(item)
    session.flush()
    frozen_clock.set(meeting_at + timedelta(hours=1))
    action = factories.assign_action(session, factories.SYSTEM, case_id=case.id,
                                     title="Safety plan", assigned_agency_id=case.owning_agency_id,
                                     due_at=meeting_at + timedelta(days=60))
    action.agenda_item_id = item.id
    session.flush()
    return case, action


def test_marac_actions_are_due_at_the_next_meeting(session, published, frozen_clock):
    case, action = marac_action(session, frozen_clock, at("2026-03-02 10:00"))
    assert measured(session, at("2026-04-30 10:00"), "marac_actions", case) == []  # no meeting
    session.add(Meeting(kind=MeetingKind.ASBRAC, title="ASB panel", status=MeetingStatus.PLANNED,
                        scheduled_for=at("2026-03-16 10:00"),
                        organiser_agency_id=case.owning_agency_id))
    session.add(Meeting(kind=MeetingKind.MARAC, title="MARAC", status=MeetingStatus.PLANNED,
                        scheduled_for=at("2026-03-30 10:00"),
                        organiser_agency_id=case.owning_agency_id))
    session.flush()
    # Warning 5 working days before the meeting's day, at close of business.
    assert level(session, at("2026-03-20 16:59"), "marac_actions", case) is None
    assert level(session, at("2026-03-20 17:00"), "marac_actions", case) == 0
    assert level(session, at("2026-03-30 09:59"), "marac_actions", case) == 0
    [hit] = measured(session, at("2026-03-30 10:00"), "marac_actions", case)
    assert (hit.action_id, hit.due_at, hit.level) == (action.id, at("2026-03-30 10:00"), 1)
    action.status, action.completed_at = "done", at("2026-03-25 12:00")
    session.flush()
    assert measured(session, at("2026-03-30 12:00"), "marac_actions", case) == []

"""Targeted scenarios for the pure interpreter: the shipped ASB case type for the everyday
rules, and small hand-written case types for what ASB does not use (parallel branches and a
join, a stage that completes when its actions settle, a deadline counted from an answer).

Times are fixed, timezone-aware UTC instants. England and Wales calendar: 17:00 London is
16:00 UTC in summer (BST) and 17:00 UTC in winter; Monday 4 May 2026 is a bank holiday.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

from casebridge.yamlsource import load_yaml
from forms.loader import check_form, shipped_forms
from workflows import interpreter as wf
from workflows.loader import load_definition_text, shipped_definitions
from workflows.model import Definition, Worker, WorkerKind

from .walker import check_invariants

ASB = shipped_definitions()[("asb", 1)]
FORMS = shipped_forms()
ASB_RUN = wf.Interpreter(ASB, FORMS)

LEAD = Worker(WorkerKind.LEAD)
MANAGER_ROLE = Worker(WorkerKind.ROLE, role="manager")

# asb_report: every screening question answered "no" scores 0 (standard).
REPORT_NO = {
    "incident_date": "2026-04-29",
    "description": "Loud music every night",
    "category": "nuisance",
    "happened_before": "no",
    "reported_elsewhere": "no",
    "feels_targeted": "no",
    "disability_or_illness": "no",
    "hate_motivated": "no",
    "impact_on_health": "no",
    "fears_for_safety": "no",
}
MATRIX_QUESTIONS = ("repeat_victim", "targeted_for_identity", "physical_harm", "lives_alone",
                    "disability", "mental_health", "children_affected", "sleep_or_work_affected",
                    "considering_moving", "perpetrator_nearby", "alcohol_or_drugs",
                    "support_network")


def report(**yes: str) -> dict[str, str]:
    return {**REPORT_NO, **yes}


def risk_matrix(level: str) -> dict[str, str]:
    """asb_risk_matrix answers whose vulnerability band is `level`."""
    answers = dict.fromkeys(MATRIX_QUESTIONS, "no") | {"assessor_view": "standard"}
    if level == "medium":  # 4 + 4 + 4 = 12
        answers |= {"repeat_victim": "yes", "targeted_for_identity": "yes",
                    "physical_harm": "yes"}
    elif level == "high":  # the assessor's judgement alone scores 22
        answers |= {"assessor_view": "high", "judgement_reason": "Very vulnerable"}
    return answers


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def submit(run: wf.Interpreter, state: wf.CaseState, at: datetime, stage: str,
           answers: dict | None = None, sequence: int | None = None) -> wf.Outcome:
    return run.handle(state, wf.SubmitStage(at=at, stage=stage, answers=answers or {},
                                            sequence=sequence))


def active_keys(state: wf.CaseState) -> list[str]:
    return sorted(r.key for r in state.active())


def of_type(outcome: wf.Outcome, kind: type) -> list:
    return [e for e in outcome.effects if isinstance(e, kind)]


def to_victim_contact(opened: datetime, level: str) -> wf.CaseState:
    """Open an ASB case and work it to victim contact with the given vulnerability band."""
    state = ASB_RUN.start(wf.OpenCase(at=opened)).state
    state = submit(ASB_RUN, state, opened + timedelta(minutes=30), "report", report()).state
    state = submit(ASB_RUN, state, opened + timedelta(hours=1), "risk_assessment",
                   risk_matrix(level)).state
    assert active_keys(state) == ["victim_contact"]
    assert state.risk == level
    return state


def to_scan(level: str) -> tuple[wf.CaseState, datetime]:
    """An ASB case at 'scan', entered at Tue 5 May 2026 09:00 UTC (10:00 BST)."""
    state = to_victim_contact(utc(2026, 5, 1, 10), level)
    entered = utc(2026, 5, 5, 9)
    state = submit(ASB_RUN, state, entered, "victim_contact", {"contact_made": "yes"}).state
    assert "scan" in active_keys(state)
    return state, entered


def load(text: str, forms: dict | None = None) -> Definition:
    return load_definition_text(text, "test.yaml", forms or {})


# --- opening and the report stage ------------------------------------------------------


def test_opening_gives_the_report_stage_due_in_one_working_day():
    opened = utc(2026, 4, 30, 10)  # Thursday, 11:00 BST
    outcome = ASB_RUN.start(wf.OpenCase(at=opened))
    assert outcome.effects[0] == wf.StageOpened(
        key="report", sequence=1, form="asb_report", worker=LEAD, opened_at=opened,
        due_at=utc(2026, 5, 1, 16),  # Friday 17:00 BST
        warn_at=utc(2026, 5, 1, 12),  # 4 working hours earlier: Friday 13:00 BST
    )
    assert wf.StatusChanged("New report") in outcome.effects
    state = outcome.state
    assert (state.status, state.opened_at, state.episode_start) == (wf.OPEN, opened, opened)
    assert [(r.key, r.sequence, r.status) for r in state.stages] == [("report", 1, wf.ACTIVE)]
    assert state.business_status == "New report"
    assert state.risk is None


def test_opening_an_open_case_again_is_refused():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="already open"):
        ASB_RUN.handle(state, wf.OpenCase(at=utc(2026, 4, 30, 11)))


@pytest.mark.parametrize(
    ("yes", "score", "band"),
    [
        pytest.param({}, 0, "standard", id="0-standard"),
        pytest.param(dict.fromkeys(["happened_before", "feels_targeted",
                                    "disability_or_illness", "reported_elsewhere"], "yes"),
                     11, "medium", id="11-medium"),
        pytest.param(dict.fromkeys(["happened_before", "feels_targeted", "reported_elsewhere",
                                    "fears_for_safety"], "yes"), 12, "high", id="12-high"),
        pytest.param(dict.fromkeys(["happened_before", "feels_targeted", "fears_for_safety",
                                    "disability_or_illness", "impact_on_health"], "yes"),
                     15, "high", id="15-high"),
    ],
)
def test_risk_is_set_from_the_screening_score_band(yes, score, band):
    assert FORMS["asb_report"].compute_scores(report(**yes))["screening"] == {
        "value": score, "band": band}
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    outcome = submit(ASB_RUN, state, utc(2026, 4, 30, 11), "report", report(**yes))
    assert outcome.state.risk == band
    assert of_type(outcome, wf.RiskChanged) == [wf.RiskChanged(None, band)]
    assert active_keys(outcome.state) == ["risk_assessment"]


@pytest.mark.parametrize(("hate", "referred"), [("yes", True), ("no", False),
                                                ("dont_know", False)])
def test_a_referral_is_made_only_for_hate_motivated_reports(hate, referred):
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    outcome = submit(ASB_RUN, state, utc(2026, 4, 30, 11), "report",
                     report(hate_motivated=hate))
    referrals = of_type(outcome, wf.Referral)
    if referred:
        assert [(r.service, r.stage, r.sequence) for r in referrals] == [
            ("victim_service", "report", 1)]
        assert "Hate-motivated" in referrals[0].reason
    else:
        assert referrals == []


# --- victim contact --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "due"),
    [
        # Fri 1 May 10:00 UTC + 1 working day: Mon 4 May is a bank holiday -> Tue 5 May.
        pytest.param("high", utc(2026, 5, 5, 16), id="high-1-working-day"),
        pytest.param("medium", utc(2026, 5, 7, 16), id="medium-3-working-days"),
        pytest.param("standard", utc(2026, 5, 11, 16), id="standard-5-working-days"),
    ],
)
def test_victim_contact_is_due_by_risk_from_the_case_opening(level, due):
    assert ASB_RUN.calendar.holiday_name(date(2026, 5, 4)) is not None
    state = to_victim_contact(utc(2026, 5, 1, 10), level)
    run = state.run("victim_contact")
    assert run.opened_at == utc(2026, 5, 1, 11)
    assert run.due_at == due
    assert run.warn_at is None


def test_victim_contact_counts_from_the_case_opening_not_from_entering_the_stage():
    opened = utc(2026, 4, 30, 10)  # Thursday
    state = ASB_RUN.start(wf.OpenCase(at=opened)).state
    state = submit(ASB_RUN, state, utc(2026, 4, 30, 12), "report", report()).state
    # risk_assessment: 2 working days from the case opening, past the 4 May bank holiday.
    assert state.run("risk_assessment").due_at == utc(2026, 5, 5, 16)
    entered = utc(2026, 5, 1, 15, 30)  # Friday 16:30 BST, a day after the case opened
    state = submit(ASB_RUN, state, entered, "risk_assessment", risk_matrix("high")).state
    run = state.run("victim_contact")
    assert run.opened_at == entered
    # High risk: 1 working day from Thursday's opening is Friday 17:00 BST, not Tuesday.
    assert run.due_at == utc(2026, 5, 1, 16)


def test_three_failed_contact_attempts_lead_to_the_no_contact_letter():
    state = to_victim_contact(utc(2026, 3, 2, 10), "standard")
    no = {"contact_made": "no"}
    first = submit(ASB_RUN, state, utc(2026, 3, 2, 12), "victim_contact", no)
    assert [(r.key, r.sequence) for r in first.state.active()] == [("victim_contact", 2)]
    second = submit(ASB_RUN, first.state, utc(2026, 3, 3, 12), "victim_contact", no)
    assert [(r.key, r.sequence) for r in second.state.active()] == [("victim_contact", 3)]
    third = submit(ASB_RUN, second.state, utc(2026, 3, 4, 12), "victim_contact", no)
    assert [(r.key, r.sequence) for r in third.state.active()] == [("no_contact_letter", 1)]
    assert [r.sequence for r in third.state.stages if r.key == "victim_contact"] == [1, 2, 3]
    assert third.state.business_status == "Waiting for the victim to reply"


def test_contact_made_on_the_second_attempt_goes_to_scan():
    state = to_victim_contact(utc(2026, 3, 2, 10), "standard")
    state = submit(ASB_RUN, state, utc(2026, 3, 2, 12), "victim_contact",
                   {"contact_made": "no"}).state
    state = submit(ASB_RUN, state, utc(2026, 3, 3, 12), "victim_contact",
                   {"contact_made": "yes"}).state
    assert active_keys(state) == ["scan"]


LOOP = """\
key: loop
name: Loop
version: 1
reference_prefix: LP
start: attempt
stages:
  attempt:
    name: Attempt
    form: again
    max_instances: 2
    transitions:
      - to: attempt
        when: "answers.again == 'yes'"
      - to: closed
        otherwise: true
        close_reason: Done
"""
AGAIN_FORM = """\
key: again
title: Again
fields:
  - {key: again, type: yes_no, label: Try again, required: true}
"""


def test_max_instances_refuses_one_run_too_many():
    forms = {"again": check_form(load_yaml(AGAIN_FORM, "again.yaml"))}
    run = wf.Interpreter(load(LOOP, forms), forms)
    state = run.start(wf.OpenCase(at=utc(2026, 3, 2, 10))).state
    state = submit(run, state, utc(2026, 3, 2, 11), "attempt", {"again": "yes"}).state
    assert [(r.key, r.sequence, r.status) for r in state.stages] == [
        ("attempt", 1, wf.COMPLETED), ("attempt", 2, wf.ACTIVE)]
    with pytest.raises(wf.WorkflowError, match="at most 2 time"):
        submit(run, state, utc(2026, 3, 2, 12), "attempt", {"again": "yes"})
    closed = submit(run, state, utc(2026, 3, 2, 12), "attempt", {"again": "no"}).state
    assert closed.status == wf.CLOSED


# --- pausing ---------------------------------------------------------------------------


def test_pause_and_resume_keep_the_working_time_left_on_a_pausable_stage():
    # Opened Mon 2 Mar 2026 10:00 UTC (GMT); standard: 5 working days -> Mon 9 Mar 17:00.
    state = to_victim_contact(utc(2026, 3, 2, 10), "standard")
    assert state.run("victim_contact").due_at == utc(2026, 3, 9, 17)
    paused = ASB_RUN.handle(state, wf.Pause(at=utc(2026, 3, 4, 12), reason="Victim abroad"))
    left = (5 + 3 * 8) * 3600  # Wed 12:00-17:00, then Thu, Fri and Mon
    assert paused.state.status == wf.PAUSED
    assert paused.state.paused == {"victim_contact:1": wf.Paused(left, None, True)}
    assert paused.state.run("victim_contact").due_at is None
    assert paused.effects == (wf.StageRescheduled("victim_contact", 1, None, None),
                              wf.CasePaused("Victim abroad"))
    resumed = ASB_RUN.handle(paused.state, wf.Resume(at=utc(2026, 3, 9, 9)))
    due = utc(2026, 3, 12, 14)  # Mon, Tue, Wed (24h) + 5h on Thursday
    assert resumed.state.run("victim_contact").due_at == due
    assert resumed.effects == (wf.StageRescheduled("victim_contact", 1, due, None),
                               wf.CaseResumed())
    assert (resumed.state.status, resumed.state.paused) == (wf.OPEN, {})
    assert ASB_RUN.calendar.working_time_between(utc(2026, 3, 9, 9), due) == timedelta(
        seconds=left)


def test_pausing_leaves_a_non_pausable_stage_due_unchanged():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    before = state.run("report")
    paused = ASB_RUN.handle(state, wf.Pause(at=utc(2026, 4, 30, 12), reason="Waiting"))
    assert paused.effects == (wf.CasePaused("Waiting"),)
    assert paused.state.run("report") == before
    assert paused.state.paused == {}
    resumed = ASB_RUN.handle(paused.state, wf.Resume(at=utc(2026, 5, 6, 9)))
    assert resumed.state.run("report") == before
    assert resumed.effects == (wf.CaseResumed(),)


def test_submitting_while_paused_is_refused():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    paused = ASB_RUN.handle(state, wf.Pause(at=utc(2026, 4, 30, 12), reason="Waiting")).state
    with pytest.raises(wf.WorkflowError, match="paused"):
        submit(ASB_RUN, paused, utc(2026, 4, 30, 13), "report", report())


@pytest.mark.parametrize("reason", ["", "   "])
def test_pausing_needs_a_reason(reason):
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="why"):
        ASB_RUN.handle(state, wf.Pause(at=utc(2026, 4, 30, 12), reason=reason))


def test_resuming_a_case_that_is_not_paused_is_refused():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="not paused"):
        ASB_RUN.handle(state, wf.Resume(at=utc(2026, 4, 30, 12)))


# --- deadlines -------------------------------------------------------------------------


def test_a_deadline_warning_notifies_the_stage_worker():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    outcome = ASB_RUN.handle(state, wf.DeadlineReached(at=utc(2026, 5, 1, 12), stage="report",
                                                       sequence=1, kind="warning"))
    assert outcome.effects == (wf.Notification(LEAD, "deadline_warning", "report", 1,
                                               "warning"),)
    assert outcome.state == state


def test_a_missed_deadline_notifies_the_worker_and_the_managers():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    outcome = ASB_RUN.handle(state, wf.DeadlineReached(at=utc(2026, 5, 1, 16), stage="report",
                                                       sequence=1, kind="due"))
    assert outcome.effects == (
        wf.Notification(LEAD, "deadline_breached", "report", 1, "due"),
        wf.Notification(MANAGER_ROLE, "deadline_escalation", "report", 1, "due"),
    )
    assert outcome.state == state


@pytest.mark.parametrize("kind", ["warning", "due"])
def test_a_deadline_on_a_completed_stage_does_nothing(kind):
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    state = submit(ASB_RUN, state, utc(2026, 4, 30, 11), "report", report()).state
    outcome = ASB_RUN.handle(state, wf.DeadlineReached(at=utc(2026, 5, 1, 16), stage="report",
                                                       sequence=1, kind=kind))
    assert outcome.effects == ()
    assert outcome.state == state


def test_a_deadline_while_paused_does_nothing():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    paused = ASB_RUN.handle(state, wf.Pause(at=utc(2026, 4, 30, 12), reason="Waiting")).state
    outcome = ASB_RUN.handle(paused, wf.DeadlineReached(at=utc(2026, 5, 1, 16), stage="report",
                                                        sequence=1, kind="due"))
    assert (outcome.effects, outcome.state) == ((), paused)


# --- recurring reviews -----------------------------------------------------------------


@pytest.mark.parametrize(("level", "days"), [("high", 14), ("medium", 28), ("standard", 56)])
def test_entering_scan_schedules_the_supervisor_review_by_risk(level, days):
    state, entered = to_scan(level)
    assert state.next_reviews["review"] == entered + timedelta(days=days)  # all in BST
    # Victim updates every 10 working days: Tue 5 May (day 0) -> Tue 19 May 17:00 BST.
    assert state.next_reviews["victim_update"] == utc(2026, 5, 19, 16)


def test_a_review_before_its_time_does_nothing():
    state, entered = to_scan("high")
    early_at = entered + timedelta(days=14) - timedelta(minutes=1)
    early = ASB_RUN.handle(state, wf.ReviewDue(at=early_at, stage="review"))
    assert (early.effects, early.state) == ((), state)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=3)], ids=["on-time", "late"])
def test_a_due_review_opens_and_the_next_one_is_scheduled(late):
    state, entered = to_scan("high")
    at = entered + timedelta(days=14) + late
    assert at - late == utc(2026, 5, 19, 9)
    outcome = ASB_RUN.handle(state, wf.ReviewDue(at=at, stage="review"))
    opened = of_type(outcome, wf.StageOpened)
    assert [(e.key, e.sequence, e.worker, e.opened_at) for e in opened] == [
        ("review", 1, MANAGER_ROLE, at)]
    # 5 working days from Tue 19 May, skipping the spring bank holiday (Mon 25 May).
    assert opened[0].due_at == utc(2026, 5, 27, 16)
    assert active_keys(outcome.state) == ["review", "scan"]
    assert outcome.state.next_reviews["review"] == at + timedelta(days=14)
    # The review completes without moving the case, and its answer can change the risk.
    done = submit(ASB_RUN, outcome.state, at + timedelta(days=1), "review",
                  {"progress": "Better", "risk_now": "medium", "actions_on_track": "yes"})
    assert active_keys(done.state) == ["scan"]
    assert done.state.risk == "medium"
    assert wf.RiskChanged("high", "medium") in done.effects


def test_a_review_falling_due_while_the_last_one_is_open_does_not_pile_up():
    state, entered = to_scan("high")
    first_at = entered + timedelta(days=14)
    state = ASB_RUN.handle(state, wf.ReviewDue(at=first_at, stage="review")).state
    second_at = state.next_reviews["review"]
    assert second_at == first_at + timedelta(days=14)
    outcome = ASB_RUN.handle(state, wf.ReviewDue(at=second_at, stage="review"))
    assert of_type(outcome, wf.StageOpened) == []
    assert [(r.key, r.sequence) for r in outcome.state.active("review")] == [("review", 1)]
    assert outcome.state.next_reviews["review"] == second_at + timedelta(days=14)


def test_leaving_the_review_stages_removes_the_schedule():
    state, entered = to_scan("high")
    scheduled = dict(state.next_reviews)
    day = timedelta(days=1)
    state = submit(ASB_RUN, state, entered + day, "scan", {}).state
    state = submit(ASB_RUN, state, entered + 2 * day, "analyse", {}).state
    state = submit(ASB_RUN, state, entered + 3 * day, "respond", {}).state
    assert active_keys(state) == ["assess"]
    assert state.next_reviews == scheduled  # still working the problem: unchanged
    state = submit(ASB_RUN, state, entered + 4 * day, "assess", {"outcome": "resolved"}).state
    assert active_keys(state) == ["closure"]
    assert state.next_reviews == {}
    late = ASB_RUN.handle(state, wf.ReviewDue(at=entered + 30 * day, stage="review"))
    assert (late.effects, late.state) == ((), state)


# --- manual moves, closing and reopening -----------------------------------------------


@pytest.mark.parametrize(
    ("reason", "by_manager", "message"),
    [("Moved at the panel", False, "only a manager"), ("", True, "say why"),
     ("  ", True, "say why")],
    ids=["not-a-manager", "no-reason", "blank-reason"],
)
def test_an_override_needs_a_manager_and_a_reason(reason, by_manager, message):
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match=message):
        ASB_RUN.handle(state, wf.Override(at=utc(2026, 4, 30, 11), reason=reason,
                                          to=("scan",), by_manager=by_manager))


def test_an_override_to_an_unknown_stage_is_refused():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="not a stage"):
        ASB_RUN.handle(state, wf.Override(at=utc(2026, 4, 30, 11), reason="Panel",
                                          to=("nowhere",), by_manager=True))


def test_an_override_cancels_the_active_stages_and_opens_the_target():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    at = utc(2026, 4, 30, 11)
    outcome = ASB_RUN.handle(state, wf.Override(at=at, reason=" Agreed at the panel ",
                                                to=("scan",), by_manager=True))
    assert outcome.effects[0] == wf.OverrideRecorded("Agreed at the panel", ("scan",))
    assert wf.StageCancelled("report", 1, "moved by a manager: Agreed at the panel") in (
        outcome.effects)
    assert [(e.key, e.sequence, e.opened_at) for e in of_type(outcome, wf.StageOpened)] == [
        ("scan", 1, at)]
    assert [(r.key, r.status) for r in outcome.state.stages] == [
        ("report", wf.CANCELLED), ("scan", wf.ACTIVE)]
    assert outcome.state.episode_start == at
    # Scan is one of the stages victim updates recur in (10 working days from Thu 30 Apr
    # 11:00 UTC, past the 4 May bank holiday). No risk is set yet, so the supervisor review
    # takes the default interval of 56 calendar days (same London wall-clock time).
    assert outcome.state.next_reviews == {"victim_update": utc(2026, 5, 15, 16),
                                          "review": utc(2026, 6, 25, 11)}


def test_close_then_reopen_starts_a_new_episode_with_fresh_attempts():
    state = to_victim_contact(utc(2026, 3, 2, 10), "standard")
    no = {"contact_made": "no"}
    state = submit(ASB_RUN, state, utc(2026, 3, 2, 12), "victim_contact", no).state
    state = submit(ASB_RUN, state, utc(2026, 3, 3, 12), "victim_contact", no).state
    closed = ASB_RUN.handle(state, wf.Close(at=utc(2026, 3, 3, 13), reason="Moved away"))
    assert closed.state.status == wf.CLOSED
    assert closed.state.close_reason == "Moved away"
    assert wf.StageCancelled("victim_contact", 3, "the case was closed") in closed.effects
    assert closed.effects[-1] == wf.CaseClosed("Moved away", utc(2026, 3, 3, 13))
    assert closed.state.active() == []
    with pytest.raises(wf.WorkflowError, match="closed"):
        submit(ASB_RUN, closed.state, utc(2026, 3, 3, 14), "victim_contact", no, sequence=3)

    reopened_at = utc(2026, 4, 1, 10)
    reopened = ASB_RUN.handle(closed.state, wf.Reopen(at=reopened_at, reason="New incident",
                                                      to=("victim_contact",)))
    assert reopened.effects[0] == wf.CaseReopened("New incident")
    assert (reopened.state.status, reopened.state.closed_at) == (wf.OPEN, None)
    assert reopened.state.episode_start == reopened_at
    assert [(r.key, r.sequence) for r in reopened.state.active()] == [("victim_contact", 4)]
    # Attempt 1 of the new episode: a "no" tries again instead of sending the letter, and
    # max_instances (3) counts from the reopening too.
    state = reopened.state
    for sequence, day in ((5, 2), (6, 3)):
        state = submit(ASB_RUN, state, utc(2026, 4, day, 10), "victim_contact", no).state
        assert [(r.key, r.sequence) for r in state.active()] == [("victim_contact", sequence)]
    state = submit(ASB_RUN, state, utc(2026, 4, 6, 10), "victim_contact", no).state
    assert active_keys(state) == ["no_contact_letter"]


def test_reopen_without_a_target_goes_back_to_the_start():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    closed = ASB_RUN.handle(state, wf.Close(at=utc(2026, 4, 30, 11), reason="Duplicate")).state
    reopened = ASB_RUN.handle(closed, wf.Reopen(at=utc(2026, 5, 6, 10), reason="Not a dup"))
    assert [(r.key, r.sequence) for r in reopened.state.active()] == [("report", 2)]


def test_reopening_an_open_case_is_refused():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="only a closed case"):
        ASB_RUN.handle(state, wf.Reopen(at=utc(2026, 4, 30, 11), reason="Again"))


def test_closing_needs_a_reason_and_an_open_case():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    with pytest.raises(wf.WorkflowError, match="say why"):
        ASB_RUN.handle(state, wf.Close(at=utc(2026, 4, 30, 11), reason=" "))
    closed = ASB_RUN.handle(state, wf.Close(at=utc(2026, 4, 30, 11), reason="Done")).state
    with pytest.raises(wf.WorkflowError, match="closed"):
        ASB_RUN.handle(closed, wf.Close(at=utc(2026, 4, 30, 12), reason="Again"))


# --- parallel branches and a join ------------------------------------------------------

FORK_JOIN = """\
key: fork_join
name: Fork and join
version: 1
reference_prefix: FJ
start: triage
stages:
  triage:
    name: Triage
    transitions:
      - to: [police_research, health_research]
  police_research:
    name: Police research
    worked_by: {agency_type: police}
    transitions:
      - to: meeting
  health_research:
    name: Health research
    worked_by: {agency_type: health}
    transitions:
      - to: meeting
  meeting:
    name: Meeting
    join: [police_research, health_research]
    transitions:
      - to: closed
        close_reason: Discussed at the meeting
"""


@pytest.mark.parametrize("first", ["police_research", "health_research"])
def test_the_join_stage_opens_only_when_both_branches_have_completed(first):
    run = wf.Interpreter(load(FORK_JOIN), {})
    state = run.start(wf.OpenCase(at=utc(2026, 3, 2, 10))).state
    forked = submit(run, state, utc(2026, 3, 2, 11), "triage")
    assert active_keys(forked.state) == ["health_research", "police_research"]
    second = ({"police_research", "health_research"} - {first}).pop()

    one = submit(run, forked.state, utc(2026, 3, 3, 11), first)
    assert active_keys(one.state) == [second]
    assert one.state.arrivals == {"meeting": (first,)}
    assert of_type(one, wf.StageOpened) == []

    both = submit(run, one.state, utc(2026, 3, 4, 11), second)
    assert active_keys(both.state) == ["meeting"]
    assert both.state.arrivals == {}
    assert [e.key for e in of_type(both, wf.StageOpened)] == ["meeting"]
    done = submit(run, both.state, utc(2026, 3, 5, 11), "meeting")
    assert done.state.status == wf.CLOSED
    assert done.state.close_reason == "Discussed at the meeting"


# --- a stage that completes when its actions settle ------------------------------------

ACTIONS = """\
key: actions
name: Actions
version: 1
reference_prefix: ACT
start: plan
stages:
  plan:
    name: Action plan
    on_enter:
      - create_action: {title: Share research, to: {agency_type: police}, due: 5 working days}
      - create_action: {title: Visit the victim, to: {agency_type: housing}, due: 2 weeks}
    completes_when: actions_settled
    transitions:
      - {to: closed, when: "actions.declined == 0", close_reason: All actions completed}
      - {to: follow_up, otherwise: true}
  follow_up:
    name: Follow up
    transitions:
      - to: closed
        close_reason: Followed up
"""


def actions_run() -> tuple[wf.Interpreter, wf.Outcome]:
    run = wf.Interpreter(load(ACTIONS), {})
    return run, run.start(wf.OpenCase(at=utc(2026, 3, 2, 10)))


def test_entering_the_stage_requests_its_actions():
    _, opened = actions_run()
    assert of_type(opened, wf.ActionRequested) == [
        wf.ActionRequested("Share research", Worker(WorkerKind.AGENCY_TYPE, agency_type="police"),
                           utc(2026, 3, 9, 17), "plan", 1),
        wf.ActionRequested("Visit the victim",
                           Worker(WorkerKind.AGENCY_TYPE, agency_type="housing"),
                           utc(2026, 3, 16, 10), "plan", 1),
    ]


def test_outstanding_actions_keep_the_stage_open():
    run, opened = actions_run()
    outcome = run.handle(opened.state, wf.ActionsSettled(at=utc(2026, 3, 3, 10), stage="plan",
                                                         sequence=1, done=1, declined=0,
                                                         outstanding=1))
    assert (outcome.effects, outcome.state) == ((), opened.state)


@pytest.mark.parametrize(
    ("done", "declined", "closed", "active"),
    [(2, 0, True, []), (1, 1, False, ["follow_up"]), (0, 2, False, ["follow_up"])],
    ids=["all-done", "one-declined", "all-declined"],
)
def test_settled_actions_complete_the_stage_and_choose_by_declined(done, declined, closed,
                                                                    active):
    run, opened = actions_run()
    at = utc(2026, 3, 4, 10)
    outcome = run.handle(opened.state, wf.ActionsSettled(at=at, stage="plan", sequence=1,
                                                         done=done, declined=declined,
                                                         outstanding=0))
    actions = {"done": done, "declined": declined}
    assert outcome.effects[0] == wf.StageCompleted("plan", 1, {"actions": actions}, at)
    assert outcome.state.run("plan", 1).status == wf.COMPLETED
    assert (outcome.state.status == wf.CLOSED) is closed
    assert active_keys(outcome.state) == active
    if closed:
        assert outcome.state.close_reason == "All actions completed"


# --- a deadline counted from an answer -------------------------------------------------

LISTING = """\
key: listing
name: Listing
version: 1
reference_prefix: LST
start: listing
stages:
  listing:
    name: List the meeting
    form: listing
    transitions:
      - to: meeting
  meeting:
    name: Hold the meeting
    deadline:
      within: 0 working days
      from: answer:listing.meeting_date
    transitions:
      - to: closed
"""
LISTING_FORM = """\
key: listing
title: Listing
fields:
  - {key: meeting_date, type: date, label: When is the meeting, required: true}
"""


@pytest.mark.parametrize(
    ("answer", "due"),
    [
        pytest.param("2026-06-10", utc(2026, 6, 10, 16), id="weekday-in-summer"),
        pytest.param(date(2026, 6, 10), utc(2026, 6, 10, 16), id="date-object"),
        pytest.param("2026-06-13", utc(2026, 6, 15, 16), id="saturday-gives-monday"),
        pytest.param("2026-12-01", utc(2026, 12, 1, 17), id="winter"),
    ],
)
def test_an_answer_anchored_deadline_counts_from_the_date_given(answer, due):
    forms = {"listing": check_form(load_yaml(LISTING_FORM, "listing.yaml"))}
    run = wf.Interpreter(load(LISTING, forms), forms)
    state = run.start(wf.OpenCase(at=utc(2026, 6, 1, 10))).state
    outcome = submit(run, state, utc(2026, 6, 1, 11), "listing", {"meeting_date": answer})
    (opened,) = of_type(outcome, wf.StageOpened)
    assert (opened.key, opened.due_at) == ("meeting", due)
    assert outcome.state.run("meeting").due_at == due


# --- purity ----------------------------------------------------------------------------


def scripted_events() -> list[tuple[wf.Interpreter, wf.Event]]:
    """A run through most event kinds, on ASB and on the fork/join case type."""
    fork = wf.Interpreter(load(FORK_JOIN), {})
    events: list[tuple[wf.Interpreter, wf.Event]] = [
        (ASB_RUN, wf.OpenCase(at=utc(2026, 5, 1, 10), facts={"x": 1})),
        (ASB_RUN, wf.SubmitStage(at=utc(2026, 5, 1, 11), stage="report",
                                 answers=report(hate_motivated="yes"))),
        (ASB_RUN, wf.SubmitStage(at=utc(2026, 5, 1, 12), stage="risk_assessment",
                                 answers=risk_matrix("high"))),
        (ASB_RUN, wf.Pause(at=utc(2026, 5, 1, 13), reason="Waiting")),
        (ASB_RUN, wf.DeadlineReached(at=utc(2026, 5, 1, 14), stage="victim_contact",
                                     sequence=1, kind="due")),
        (ASB_RUN, wf.Resume(at=utc(2026, 5, 5, 9))),
        (ASB_RUN, wf.DeadlineReached(at=utc(2026, 5, 5, 10), stage="victim_contact",
                                     sequence=1, kind="warning")),
        (ASB_RUN, wf.SubmitStage(at=utc(2026, 5, 5, 11), stage="victim_contact",
                                 answers={"contact_made": "yes", "method": "phone"})),
        (ASB_RUN, wf.ReviewDue(at=utc(2026, 5, 19, 12), stage="review")),
        (ASB_RUN, wf.Override(at=utc(2026, 5, 20, 9), reason="Panel", to=("respond",),
                              by_manager=True)),
        (ASB_RUN, wf.Close(at=utc(2026, 5, 21, 9), reason="Resolved")),
        (ASB_RUN, wf.Reopen(at=utc(2026, 6, 1, 9), reason="New report")),
        (fork, wf.OpenCase(at=utc(2026, 3, 2, 10))),
        (fork, wf.SubmitStage(at=utc(2026, 3, 2, 11), stage="triage", answers={})),
        (fork, wf.SubmitStage(at=utc(2026, 3, 3, 11), stage="police_research", answers={})),
        (fork, wf.SubmitStage(at=utc(2026, 3, 4, 11), stage="health_research", answers={})),
    ]
    return events


def test_handle_never_changes_its_input_and_is_deterministic():
    states: dict[int, wf.CaseState] = {}
    handled = 0
    for run, event in scripted_events():
        state = wf.CaseState() if isinstance(event, wf.OpenCase) else states[id(run)]
        snapshot = copy.deepcopy(state)
        event_snapshot = copy.deepcopy(event)
        first = run.handle(state, event)
        second = run.handle(state, event)
        assert state == snapshot, f"{event!r} changed the state it was given"
        assert event == event_snapshot, f"{event!r} was changed"
        assert first == second, f"{event!r} gave different outcomes for the same input"
        states[id(run)] = first.state
        handled += 1
    assert states[id(ASB_RUN)].run("report", 2).status == wf.ACTIVE
    assert handled == len(scripted_events())


def test_the_outcome_does_not_share_mutable_answers_with_the_event():
    state = ASB_RUN.start(wf.OpenCase(at=utc(2026, 4, 30, 10))).state
    answers = report()
    outcome = submit(ASB_RUN, state, utc(2026, 4, 30, 11), "report", answers)
    answers["category"] = "changed later"
    assert outcome.state.run("report", 1).answers["category"] == "nuisance"


# --- bugs found ------------------------------------------------------------------------


def test_actions_settled_while_paused_are_not_lost():
    run, opened = actions_run()
    paused = run.handle(opened.state, wf.Pause(at=utc(2026, 3, 3, 10), reason="Waiting")).state
    settled = wf.ActionsSettled(at=utc(2026, 3, 4, 10), stage="plan", sequence=1, done=2,
                                declined=0, outstanding=0)
    try:
        after = run.handle(paused, settled).state
    except wf.WorkflowError:
        return  # refusing the event is fine: the caller then knows it was not applied
    if after.status != wf.CLOSED:  # the plan may have closed the case by itself
        after = run.handle(after, wf.Resume(at=utc(2026, 3, 5, 10))).state
    assert after.active("plan") == [], "the plan is stuck although every action settled"


def test_a_review_that_fell_due_is_not_skipped_by_an_earlier_handled_event():
    state, _ = to_scan("high")
    due = state.next_reviews["review"]
    state = submit(ASB_RUN, state, due + timedelta(minutes=1), "scan", {}).state
    outcome = ASB_RUN.handle(state, wf.ReviewDue(at=due + timedelta(minutes=2),
                                                 stage="review"))
    assert [e.key for e in of_type(outcome, wf.StageOpened)] == ["review"]


@pytest.mark.parametrize("how", ["override", "reopen"])
def test_moving_a_case_by_hand_to_a_recurring_stage_does_not_leave_it_stuck(how):
    state, entered = to_scan("high")
    at = entered + timedelta(days=1)
    try:
        if how == "override":
            event: wf.Event = wf.Override(at=at, reason="Panel", to=("review",),
                                          by_manager=True)
        else:
            state = ASB_RUN.handle(state, wf.Close(at=at, reason="Resolved")).state
            event = wf.Reopen(at=at + timedelta(hours=1), reason="Again", to=("review",))
        state = ASB_RUN.handle(state, event).state
    except wf.WorkflowError:
        return  # refusing a recurring target is the fix
    check_invariants(ASB, state)


def test_latest_answers_takes_each_stages_last_completion_and_the_later_run_on_a_tie():
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    later = at + timedelta(days=1)
    runs = (
        wf.StageRun("review", 2, wf.COMPLETED, at, completed_at=later, answers={"n": 2}),
        wf.StageRun("review", 1, wf.COMPLETED, at, completed_at=at, answers={"n": 1}),
        wf.StageRun("review", 3, wf.ACTIVE, later),
        wf.StageRun("scan", 1, wf.COMPLETED, at, completed_at=at, answers={"first": True}),
        wf.StageRun("scan", 1, wf.COMPLETED, at, completed_at=at, answers={"second": True}),
        wf.StageRun("assess", 1, wf.CANCELLED, at, completed_at=later, answers={"x": 1}),
    )
    state = wf.CaseState(stages=runs)
    expected: dict = {}
    for run in sorted(runs, key=lambda r: (r.completed_at or r.opened_at, r.sequence)):
        if run.status == wf.COMPLETED and run.answers is not None:
            expected[run.key] = run.answers
    assert state.latest_answers() == expected == {"review": {"n": 2}, "scan": {"second": True}}

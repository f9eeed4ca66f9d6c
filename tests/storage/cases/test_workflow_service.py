"""storage.cases.workflow through the database: the published definition drives each case,
the interpreter decides, and the rows, actions, outbox messages and audit entries follow."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from forms.loader import shipped_forms
from forms.sampling import sample_answers
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditEntry
from storage.audit.services import verify_chain
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseStatus,
    RiskLevel,
    StageInstance,
    StageStatus,
)
from storage.cases.services import OUTSTANDING_ACTIONS, assign_action
from storage.cases.workflow import (
    close_case,
    deadline_reached,
    definition_for,
    next_review_times,
    open_case,
    override,
    pause_case,
    record_stage_submission,
    reopen_case,
    respond_to_action,
    resume_case,
    review_due,
)
from storage.db import unit_of_work
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState
from storage.outbox.models import EffectKind, OutboxMessage
from storage.workflows.services import publish
from tests import factories
from tests.storage.helpers import (
    ASB_PATH,
    ASB_RISK_STANDARD,
    advance_asb,
    audit_entries,
)
from workflows.loader import latest_shipped
from workflows.model import Definition
from workflows.model import EffectKind as SpecKind

SYSTEM = factories.SYSTEM
MAX_STEPS = 60
SEEDS = range(40)


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def lead(session, owner):
    return factories.user(session, owner)


@pytest.fixture
def case(session, owner, lead, frozen_clock):
    return factories.asb_case(session, owner, lead_officer_id=lead.id)


def outbox(session, case: Case) -> list[OutboxMessage]:
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id)
    ))


def stage_rows(case: Case) -> list[tuple[str, int, StageStatus]]:
    return [(s.stage_key, s.sequence, s.status) for s in case.stages]


# --- done when: every shipped case type runs from opening to closed --------------------------


def walk(session, actor, definition: Definition, owner, lead, clock, rng: random.Random) -> Case:
    """Work one case with sampled answers until it closes or MAX_STEPS run out."""
    forms = shipped_forms()

    def facts() -> dict[str, bool]:
        return {name: rng.choice([True, False]) for name in definition.facts}

    case = open_case(session, actor, case_type=definition.key, title="Worked by the walk test",
                     owning_agency_id=owner.id, lead_officer_id=lead.id, facts=facts())
    for _ in range(MAX_STEPS):
        if case.status is CaseStatus.CLOSED:
            return case
        clock.advance(timedelta(hours=rng.randint(1, 5)))
        waiting = [s for s in case.active_stages
                   if definition.stage(s.stage_key).recurring is None]
        if not waiting:
            return case  # stuck: reported by the caller
        stage = rng.choice(waiting)
        spec = definition.stage(stage.stage_key)
        outstanding = session.scalars(
            select(Action).where(Action.stage_instance_id == stage.id,
                                 Action.status.in_(OUTSTANDING_ACTIONS))
        ).all()
        if spec.completes_when_actions_settled and outstanding:
            for action in outstanding:
                respond_to_action(session, actor, action_id=action.id, status=ActionStatus.DONE,
                                  outcome="Done as asked")
            continue
        form = forms[spec.form] if spec.form else None
        answers = sample_answers(form, rng, today=clock.now().date()) if form else {}
        record_stage_submission(session, actor, case_id=case.id, stage_instance_id=stage.id,
                                expected_version=case.version, form_data=answers,
                                facts=facts())
    return case


@pytest.mark.parametrize("case_type", sorted(latest_shipped()))
def test_every_shipped_case_type_can_be_worked_from_opening_to_closed(
    session, frozen_clock, case_type
):
    # Stages may be worked by {agency_type: ...}: the partnership has one agency of each type.
    agencies = {t: factories.agency(session, t) for t in AgencyType}
    shipped = latest_shipped()[case_type]
    owner_type = AgencyType(shipped.opened_by_agency_types[0]
                            if shipped.opened_by_agency_types else AgencyType.POLICE)
    owner = agencies[owner_type]
    role = Role(shipped.opened_by_roles[0] if shipped.opened_by_roles else Role.PRACTITIONER)
    lead = factories.user(session, owner, role)
    actor = factories.actor_for(lead)

    outcomes: dict[int, str] = {}
    closed: Case | None = None
    for seed in SEEDS:
        try:
            case = walk(session, actor, shipped, owner, lead, frozen_clock, random.Random(seed))
        except InvalidState as exc:
            outcomes[seed] = f"refused: {exc}"
            continue
        if case.status is CaseStatus.CLOSED:
            closed = case
            break
        outcomes[seed] = f"still open in {[s.stage_key for s in case.active_stages]}"
    assert closed is not None, f"no seed closed a {case_type} case: {outcomes}"

    definition = definition_for(session, closed)
    assert definition.content_hash == shipped.content_hash
    assert closed.active_stages == []
    assert closed.closed_at is not None
    assert closed.closure_reason
    completed = [s for s in closed.stages if s.status is StageStatus.COMPLETED]
    assert completed
    assert all(s.form_data is not None for s in completed)
    session.commit()
    assert audit_entries(session, case_id=closed.id)
    assert verify_chain(session).intact


# --- pausing ----------------------------------------------------------------------------------


def test_pausing_stops_the_victim_contact_clock_and_resuming_restarts_it(
    session, case, frozen_clock
):
    advance_asb(session, case, to="victim_contact")
    contact = factories.active_stage(case, "victim_contact")
    # Standard risk: 5 working days from the case being opened (Monday 2 March, 09:00).
    assert contact.due_at == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    frozen_clock.advance(timedelta(hours=1))  # Monday 10:00

    pause_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Waiting for the victim to come home from hospital")
    assert case.status is CaseStatus.PAUSED
    assert contact.due_at is None
    with pytest.raises(InvalidState, match="paused"):
        factories.submit(session, case, ASB_PATH["victim_contact"])
    with pytest.raises(InvalidState, match="paused"):
        pause_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Again")

    frozen_clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))  # two working days later
    resume_case(session, SYSTEM, case_id=case.id, expected_version=case.version)
    assert case.status is CaseStatus.OPEN
    # The two working days the case was paused are added to the deadline.
    assert contact.due_at == datetime(2026, 3, 11, 17, 0, tzinfo=UTC)
    assert case.workflow_state["paused"] == {}

    factories.submit(session, case, ASB_PATH["victim_contact"])
    assert contact.status is StageStatus.COMPLETED
    with pytest.raises(InvalidState, match="not paused"):
        resume_case(session, SYSTEM, case_id=case.id, expected_version=case.version)


# --- moving a case by hand ------------------------------------------------------------------


def test_only_a_manager_can_move_a_case_by_hand(session, owner, case, frozen_clock):
    practitioner = factories.user(session, owner, Role.PRACTITIONER)
    version = case.version
    with pytest.raises(InvalidState, match="only a manager"):
        override(session, factories.actor_for(practitioner), case_id=case.id,
                 expected_version=version, reason="Skip ahead", to_stages=["scan"])
    assert case.version == version
    assert stage_rows(case) == [("report", 1, StageStatus.ACTIVE)]

    manager = factories.user(session, owner, Role.MANAGER)
    reason = "Victim seen at the front desk; the report was taken on paper"
    override(session, factories.actor_for(manager), case_id=case.id, expected_version=version,
             reason=reason, to_stages=["scan"])
    assert case.version == version + 1
    assert stage_rows(case) == [("report", 1, StageStatus.CANCELLED),
                                ("scan", 1, StageStatus.ACTIVE)]
    session.commit()

    [entry] = [e for e in audit_entries(session, case_id=case.id)
               if "override" in json.loads(e.changes).get("detail", {})]
    assert json.loads(entry.changes)["detail"] == {"override": reason, "to": ["scan"]}
    assert entry.actor_user_id == manager.id


def test_a_manager_must_say_why_a_case_is_moved(session, owner, case):
    manager = factories.user(session, owner, Role.MANAGER)
    with pytest.raises(InvalidRequest) as blank:
        override(session, factories.actor_for(manager), case_id=case.id,
                 expected_version=case.version, reason="  ", to_stages=["scan"])
    assert "Say why" in blank.value.field_errors["reason"]
    with pytest.raises(InvalidState, match="not a stage"):
        override(session, factories.actor_for(manager), case_id=case.id,
                 expected_version=case.version, reason="Typo", to_stages=["scna"])


# --- closing and reopening ------------------------------------------------------------------


def test_closing_waits_for_actions_and_reopening_starts_again(
    session, owner, case, frozen_clock
):
    assert case.actions == []  # loaded before the action exists: must not go stale
    action = assign_action(session, SYSTEM, case_id=case.id, title="Visit the victim",
                           assigned_agency_id=owner.id,
                           due_at=frozen_clock.now() + timedelta(days=3))
    with pytest.raises(InvalidState, match="1 outstanding action"):
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Resolved")
    assert case.status is CaseStatus.OPEN

    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                      outcome="Visited")
    frozen_clock.advance(timedelta(days=1))
    close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Resolved")
    assert (case.status, case.closed_at, case.closure_reason) == (
        CaseStatus.CLOSED, frozen_clock.now(), "Resolved"
    )
    with pytest.raises(InvalidState, match="is closed"):
        pause_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Too late")

    frozen_clock.advance(timedelta(days=1))
    version = case.version
    reopen_case(session, SYSTEM, case_id=case.id, expected_version=version,
                reason="The music started again")
    assert case.version == version + 1
    assert (case.status, case.closed_at, case.closure_reason) == (CaseStatus.OPEN, None, None)
    assert stage_rows(case) == [("report", 1, StageStatus.CANCELLED),
                                ("report", 2, StageStatus.ACTIVE)]
    assert factories.active_stage(case).opened_at == frozen_clock.now()
    with pytest.raises(InvalidState, match="only a closed case"):
        reopen_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                    reason="Twice")


# --- deadlines and reviews ------------------------------------------------------------------


def test_a_deadline_warning_is_queued_once_and_leaves_the_case_version_alone(
    session, case, lead, frozen_clock
):
    report = factories.active_stage(case, "report")
    version = case.version
    frozen_clock.set(report.warn_at)
    deadline_reached(session, SYSTEM, stage_instance_id=report.id, kind="warning")
    deadline_reached(session, SYSTEM, stage_instance_id=report.id, kind="warning")

    [message] = outbox(session, case)
    assert message.kind is EffectKind.EMAIL
    assert message.payload["template"] == "deadline_warning"
    assert message.payload["stage"] == "report"
    assert message.payload["recipient"]["kind"] == "lead"
    assert case.version == version

    factories.submit(session, case, factories.ASB_REPORT)
    version = case.version
    assert deadline_reached(session, SYSTEM, stage_instance_id=report.id, kind="warning") is None
    assert deadline_reached(session, SYSTEM, stage_instance_id=report.id, kind="due") is None
    assert outbox(session, case) == [message]
    assert case.version == version


def test_a_missed_deadline_tells_the_worker_and_escalates_to_managers(session, case, frozen_clock):
    report = factories.active_stage(case, "report")
    frozen_clock.set(report.due_at)
    deadline_reached(session, SYSTEM, stage_instance_id=report.id, kind="due")
    assert [(m.payload["template"], m.payload["recipient"]["kind"]) for m in outbox(session, case)
            ] == [("deadline_breached", "lead"), ("deadline_escalation", "role")]


def test_a_supervisor_review_opens_when_it_falls_due(session, owner, case, frozen_clock):
    advance_asb(session, case, to="scan")
    due = next_review_times(case)["review"]
    # Standard risk: a supervisor review every 56 calendar days while problem solving,
    # counted in London time: 09:00 GMT on 2 March is 09:00 BST (08:00 UTC) on 27 April.
    assert due == datetime(2026, 4, 27, 8, 0, tzinfo=UTC)

    frozen_clock.advance(timedelta(days=55))
    review_due(session, SYSTEM, case_id=case.id, stage_key="review")
    assert [s.stage_key for s in case.active_stages] == ["scan"]

    frozen_clock.set(due + timedelta(minutes=5))
    review_due(session, SYSTEM, case_id=case.id, stage_key="review")
    review = factories.active_stage(case, "review")
    assert (review.sequence, review.form_key) == (1, "case_review")
    assert (review.assignee_role, review.assignee_agency_id, review.assignee_user_id) == (
        "manager", owner.id, None
    )
    assert factories.active_stage(case, "scan").status is StageStatus.ACTIVE
    # The next review is scheduled from this one.
    assert next_review_times(case)["review"] == frozen_clock.now() + timedelta(days=56)

    review_due(session, SYSTEM, case_id=case.id, stage_key="review")
    assert len([s for s in case.stages if s.stage_key == "review"]) == 1


# --- outbox effects of stages ---------------------------------------------------------------


def test_a_hate_motivated_report_queues_a_referral(session, case, frozen_clock):
    factories.submit(session, case, factories.ASB_REPORT | {"hate_motivated": "yes"})
    [referral] = [m for m in outbox(session, case) if m.kind is EffectKind.REFERRAL]
    assert referral.payload["service"] == "victim_service"
    assert (referral.payload["case_id"], referral.payload["stage"]) == (case.id, "report")
    assert referral.idempotency_key == f"refer:{case.id}:report:1:victim_service"


def test_a_report_that_is_not_hate_motivated_refers_nobody(session, case, frozen_clock):
    factories.submit(session, case, factories.ASB_REPORT)
    factories.submit(session, case, ASB_RISK_STANDARD)
    assert outbox(session, case) == []
    assert case.risk_level is RiskLevel.STANDARD


# --- stages that wait for their actions -----------------------------------------------------

SETTLE_TEST_DEFINITION = """
key: settle_test
name: Actions settle test
version: 1
reference_prefix: STL
start: share
stages:
  share:
    name: Agencies share what they know
    worked_by: owner
    on_enter:
      - create_action: {title: Share housing records, to: {agency_type: housing},
                        due: 5 working days}
      - create_action: {title: Share police records, to: lead, due: 5 working days}
    completes_when: actions_settled
    transitions:
      - {to: closed, when: "actions.declined == 0", close_reason: Every agency shared}
      - {to: follow_up, otherwise: true}
  follow_up:
    name: Follow up what was declined
    transitions:
      - {to: closed, otherwise: true, close_reason: Followed up}
"""


@pytest.mark.parametrize("housing_answer", [ActionStatus.DONE, ActionStatus.DECLINED])
def test_settling_the_last_action_completes_a_stage_that_waits_for_them(
    session, owner, lead, frozen_clock, housing_answer
):
    housing = factories.agency(session, AgencyType.HOUSING)
    publish(session, SYSTEM, source_text=SETTLE_TEST_DEFINITION,
            source_name="tests/settle_test.yaml")
    case = open_case(session, SYSTEM, case_type="settle_test", title="Sharing records",
                     owning_agency_id=owner.id, lead_officer_id=lead.id)
    share = factories.active_stage(case, "share")
    housing_action, police_action = session.scalars(
        select(Action).where(Action.stage_instance_id == share.id).order_by(Action.id)
    ).all()
    assert (police_action.assigned_agency_id, police_action.assigned_user_id) == (
        owner.id, lead.id
    )
    assert housing_action.assigned_agency_id == housing.id
    assert [s.agency_id for s in case.shares] == [housing.id]

    frozen_clock.advance(timedelta(hours=3))
    respond_to_action(session, SYSTEM, action_id=police_action.id, status=ActionStatus.DONE,
                      outcome="Shared")
    assert share.status is StageStatus.ACTIVE
    respond_to_action(session, SYSTEM, action_id=housing_action.id, status=ActionStatus.ACCEPTED)
    assert share.status is StageStatus.ACTIVE

    respond_to_action(session, SYSTEM, action_id=housing_action.id, status=housing_answer,
                      reason="No records held", outcome="Shared")
    assert share.status is StageStatus.COMPLETED
    assert share.completed_at == frozen_clock.now()
    if housing_answer is ActionStatus.DONE:
        assert share.form_data == {"actions": {"done": 2, "declined": 0}}
        assert (case.status, case.closure_reason) == (CaseStatus.CLOSED, "Every agency shared")
    else:
        assert share.form_data == {"actions": {"done": 1, "declined": 1}}
        assert [s.stage_key for s in case.active_stages] == ["follow_up"]


def settling_stages() -> list[tuple[str, str]]:
    """Shipped stages that wait for actions they always create on entry."""
    found = []
    for key, definition in sorted(latest_shipped().items()):
        for stage in definition.stages.values():
            creates = [e for e in stage.on_enter
                       if e.kind is SpecKind.CREATE_ACTION and not e.when]
            if stage.completes_when_actions_settled and creates:
                found.append((key, stage.key))
    return found


@pytest.mark.parametrize(("case_type", "stage_key"), settling_stages())
def test_shipped_stages_that_wait_for_actions_complete_when_they_are_done(
    session, frozen_clock, case_type, stage_key
):
    """E.g. MARAC, when it ships: a manager moves a case into the stage, its actions are
    done, and the stage completes by itself."""
    agencies = {t: factories.agency(session, t) for t in AgencyType}
    definition = latest_shipped()[case_type]
    owner = agencies[AgencyType(definition.opened_by_agency_types[0]
                                if definition.opened_by_agency_types else AgencyType.POLICE)]
    lead = factories.user(session, owner)
    manager = factories.user(session, owner, Role.MANAGER)
    case = open_case(session, SYSTEM, case_type=case_type, title="Waiting for actions",
                     owning_agency_id=owner.id, lead_officer_id=lead.id)
    override(session, factories.actor_for(manager), case_id=case.id,
             expected_version=case.version, reason="Straight to the meeting",
             to_stages=[stage_key])
    stage = factories.active_stage(case, stage_key)
    actions = session.scalars(select(Action).where(Action.stage_instance_id == stage.id)).all()
    assert actions
    for action in actions:
        respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                          outcome="Done")
    assert stage.status is StageStatus.COMPLETED
    assert stage.form_data == {"actions": {"done": len(actions), "declined": 0}}


# --- two people at once ---------------------------------------------------------------------


def test_a_stale_submission_through_a_second_session_is_a_conflict(
    scratch_sessions, frozen_clock
):
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        case = factories.asb_case(session, owner)
        factories.submit(session, case, factories.ASB_REPORT)
        case_id = case.id
        risk_id = factories.active_stage(case, "risk_assessment").id
        version = case.version

    a_answers = ASB_RISK_STANDARD
    b_answers = ASB_RISK_STANDARD | {"physical_harm": "yes", "assessor_view": "high",
                                     "judgement_reason": "Threatened with a knife"}
    with scratch_sessions() as a, scratch_sessions() as b:
        assert a.get(Case, case_id).version == b.get(Case, case_id).version == version
        b.get(StageInstance, risk_id)

        record_stage_submission(a, SYSTEM, case_id=case_id, stage_instance_id=risk_id,
                                expected_version=version, form_data=a_answers)
        a.commit()

        with pytest.raises(ConcurrencyConflict) as caught:
            record_stage_submission(b, SYSTEM, case_id=case_id, stage_instance_id=risk_id,
                                    expected_version=version, form_data=b_answers)
        b.rollback()

    assert caught.value.submitted == b_answers
    assert caught.value.expected_version == version
    with scratch_sessions() as fresh:
        case = fresh.get(Case, case_id)
        risk = fresh.get(StageInstance, risk_id)
        assert case.version == version + 1
        assert (risk.status, risk.form_data) == (StageStatus.COMPLETED, a_answers)
        assert case.risk_level is RiskLevel.STANDARD
        assert [s.stage_key for s in case.active_stages] == ["victim_contact"]
        changes = fresh.scalars(select(AuditEntry.changes)).all()
        assert not any("knife" in c for c in changes)
        assert verify_chain(fresh).intact


# --- rules that hold however a change arrives ----------------------------------------------


def test_a_stage_cannot_close_the_case_while_an_action_is_outstanding(
    session, owner, case, frozen_clock
):
    """Closing by a stage's own transition keeps the same promise as close_case: nothing an
    agency still owes the victim is silently dropped."""
    manager = factories.user(session, owner, Role.MANAGER)
    override(session, factories.actor_for(manager), case_id=case.id,
             expected_version=case.version, reason="Straight to closure", to_stages=["closure"])
    action = assign_action(session, SYSTEM, case_id=case.id, title="Return the keys",
                           assigned_agency_id=owner.id,
                           due_at=frozen_clock.now() + timedelta(days=3))
    version = case.version
    no_contact = {"reason": "no_contact", "closure_letter_sent": "yes", "summary": "No reply"}
    with pytest.raises(InvalidState, match="Return the keys"):
        factories.submit(session, case, no_contact, key="closure")
    assert case.version == version, "refused before anything was written"
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE)
    factories.submit(session, case, no_contact, key="closure")
    assert case.status is CaseStatus.CLOSED


def test_engine_events_that_change_nothing_leave_the_version_alone(session, case, frozen_clock):
    """A background sweep must not invalidate the form a practitioner has open."""
    version = case.version
    review_due(session, SYSTEM, case_id=case.id, stage_key="review")  # not scheduled yet
    assert case.version == version


def test_work_for_an_agency_type_the_partnership_lacks_stays_with_the_owner(
    session, owner, lead, frozen_clock
):
    """A caseworker's submission is never blocked because the partnership has not (yet) put
    a kind of agency on Casebridge: the owner gets the action, with a note saying so."""
    publish(session, SYSTEM, source_text=SETTLE_TEST_DEFINITION,
            source_name="tests/settle_test.yaml")
    case = open_case(session, SYSTEM, case_type="settle_test", title="Sharing records",
                     owning_agency_id=owner.id, lead_officer_id=lead.id)
    housing_action = session.scalars(
        select(Action).where(Action.case_id == case.id, Action.title.like("%housing%"))
    ).one()
    assert housing_action.assigned_agency_id == owner.id
    assert "no housing agency on Casebridge" in housing_action.detail
    assert case.shares == []

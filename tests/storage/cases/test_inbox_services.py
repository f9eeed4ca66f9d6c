"""Taking queued work (claim_stage, claim_action) and progress notes on actions
(record_action_progress): who may, what is written, and what a second taker is told."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import Action, ActionStatus, ActionUpdate, StageInstance
from storage.cases.services import claim_action, claim_stage, record_action_progress
from storage.cases.workflow import respond_to_action
from storage.db import unit_of_work
from storage.errors import InvalidRequest, InvalidState, NotFound
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def housing(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def worker(session, owner):
    return factories.user(session, owner)


@pytest.fixture
def colleague(session, owner):
    return factories.user(session, owner)


@pytest.fixture
def case(session, owner, frozen_clock):
    """An ASB case with no lead officer: its first stage waits in the owner's queue."""
    case = factories.asb_case(session, owner)
    session.commit()
    return case


@pytest.fixture
def stage(case):
    stage = factories.active_stage(case)
    assert (stage.assignee_agency_id, stage.assignee_user_id) == (case.owning_agency_id, None)
    return stage


def queued_action(session, case, agency, frozen_clock, **overrides):
    values = {"case_id": case.id, "title": "Check the tenancy", "assigned_agency_id": agency.id,
              "due_at": frozen_clock.now() + timedelta(days=5)}
    action = factories.assign_action(session, SYSTEM, **(values | overrides))
    session.commit()
    return action


def updates_of(session, action):
    return session.scalars(
        select(ActionUpdate).where(ActionUpdate.action_id == action.id).order_by(ActionUpdate.id)
    ).all()


# --- claim_stage ----------------------------------------------------------------------------


def test_taking_a_queued_stage_makes_it_mine_and_is_audited(session, case, stage, worker):
    version = case.version
    claimed = claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    session.commit()

    assert claimed is stage
    assert stage.assignee_user_id == worker.id
    assert stage.assignee_user == worker
    assert case.version == version, "who works a stage is not the case's state"
    [entry] = audit_entries(session, entity_type="stage_instances", action=AuditAction.UPDATE)
    assert (entry.entity_id, entry.case_id, entry.actor_user_id) == (
        str(stage.id), case.id, worker.id
    )
    assert json.loads(entry.changes) == {
        "before": {"assignee_user_id": None}, "after": {"assignee_user_id": worker.id}
    }


def test_a_stage_someone_else_took_is_refused_and_unchanged(
    session, stage, worker, colleague
):
    claim_stage(session, factories.actor_for(colleague), stage_instance_id=stage.id)
    session.commit()
    before = len(audit_entries(session))

    with pytest.raises(InvalidState, match="Someone else took it first"):
        claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    session.commit()
    assert stage.assignee_user_id == colleague.id
    assert len(audit_entries(session)) == before


def test_taking_a_stage_that_is_already_mine_changes_nothing(session, stage, worker):
    claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    session.commit()
    before = len(audit_entries(session))
    claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    session.commit()
    assert stage.assignee_user_id == worker.id
    assert len(audit_entries(session)) == before


def test_another_agency_cannot_take_the_stage(session, stage, housing):
    outsider = factories.user(session, housing)
    with pytest.raises(InvalidState, match="another agency"):
        claim_stage(session, factories.actor_for(outsider), stage_instance_id=stage.id)
    assert stage.assignee_user_id is None


def test_a_stage_queued_for_a_role_needs_that_role(session, owner, stage, worker):
    stage.assignee_role = "manager"
    session.commit()
    with pytest.raises(InvalidState, match="managers"):
        claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    manager = factories.user(session, owner, Role.MANAGER)
    claim_stage(session, factories.actor_for(manager), stage_instance_id=stage.id)
    assert stage.assignee_user_id == manager.id


def test_a_finished_stage_cannot_be_taken(session, case, stage, worker):
    factories.submit(session, case, factories.ASB_REPORT)
    with pytest.raises(InvalidState, match="completed"):
        claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)


def test_taking_needs_a_person_and_a_stage_that_exists(session, stage, worker):
    with pytest.raises(InvalidState, match="active account"):
        claim_stage(session, SYSTEM, stage_instance_id=stage.id)
    worker.active = False
    with pytest.raises(InvalidState, match="active account"):
        claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id)
    worker.active = True
    with pytest.raises(NotFound):
        claim_stage(session, factories.actor_for(worker), stage_instance_id=stage.id + 10_000)


# --- claim_action ---------------------------------------------------------------------------


def test_taking_a_queued_action_makes_it_mine_and_is_audited(
    session, case, housing, frozen_clock
):
    action = queued_action(session, case, housing, frozen_clock)
    taker = factories.user(session, housing)
    claim_action(session, factories.actor_for(taker), action_id=action.id)
    session.commit()

    assert action.assigned_user_id == taker.id
    assert action.status is ActionStatus.OPEN
    [entry] = audit_entries(session, entity_type="actions", action=AuditAction.UPDATE)
    assert (entry.entity_id, entry.case_id) == (str(action.id), case.id)
    assert json.loads(entry.changes)["after"] == {"assigned_user_id": taker.id}


def test_an_action_someone_else_took_is_refused(session, case, housing, frozen_clock):
    first, second = factories.user(session, housing), factories.user(session, housing)
    action = queued_action(session, case, housing, frozen_clock, assigned_user_id=first.id)
    with pytest.raises(InvalidState, match="Someone else took it first"):
        claim_action(session, factories.actor_for(second), action_id=action.id)
    assert action.assigned_user_id == first.id
    assert audit_entries(session, entity_type="actions", action=AuditAction.UPDATE) == []


def test_an_action_for_another_agency_or_already_settled_cannot_be_taken(
    session, case, owner, housing, frozen_clock, worker
):
    action = queued_action(session, case, housing, frozen_clock)
    with pytest.raises(InvalidState, match="another agency"):
        claim_action(session, factories.actor_for(worker), action_id=action.id)
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DECLINED,
                      reason="Not our tenant")
    taker = factories.user(session, housing)
    with pytest.raises(InvalidState, match="declined"):
        claim_action(session, factories.actor_for(taker), action_id=action.id)
    with pytest.raises(NotFound):
        claim_action(session, factories.actor_for(taker), action_id=action.id + 10_000)


# --- two people at once ---------------------------------------------------------------------


def test_when_two_take_the_same_stage_at_once_the_second_is_refused(
    scratch_sessions, frozen_clock
):
    """B has taken the stage but not yet committed when A tries: A waits for B, then is
    refused, and B keeps it."""
    with unit_of_work(scratch_sessions) as setup:
        owner = factories.agency(setup)
        a_user, b_user = factories.user(setup, owner), factories.user(setup, owner)
        case = factories.asb_case(setup, owner)
        stage_id = factories.active_stage(case).id
        a_actor, b_actor = factories.actor_for(a_user), factories.actor_for(b_user)

    a_session, b_session = scratch_sessions(), scratch_sessions()
    try:
        a_session.get(StageInstance, stage_id)  # A is looking at the unclaimed stage
        claim_stage(b_session, b_actor, stage_instance_id=stage_id)
        b_session.flush()

        outcome: dict[str, BaseException | None] = {}

        def a_takes() -> None:
            try:
                claim_stage(a_session, a_actor, stage_instance_id=stage_id)
                outcome["error"] = None
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=a_takes)
        thread.start()
        thread.join(timeout=0.5)
        waited = thread.is_alive()
        b_session.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert isinstance(outcome["error"], InvalidState)
        if a_session.get_bind().dialect.name == "postgresql":
            # A read the stage as free, then its guarded UPDATE waited on B's row lock and
            # matched nothing once B committed. (SQLite refuses A's write at once instead.)
            assert waited
            assert str(outcome["error"]) == "Someone else took it first"
        a_session.rollback()
    finally:
        a_session.close()
        b_session.close()

    with unit_of_work(scratch_sessions) as check:
        assert check.get(StageInstance, stage_id).assignee_user_id == b_user.id
        takes = audit_entries(check, entity_type="stage_instances", action=AuditAction.UPDATE)
        assert [e.actor_user_id for e in takes] == [b_user.id]


# --- record_action_progress -----------------------------------------------------------------


def test_progress_is_recorded_with_its_author_and_audited(
    session, case, housing, frozen_clock
):
    action = queued_action(session, case, housing, frozen_clock)
    author = factories.user(session, housing)
    frozen_clock.advance(timedelta(hours=2))
    progress = record_action_progress(session, factories.actor_for(author),
                                      action_id=action.id, body="  Visited; no answer  ")
    session.commit()

    assert isinstance(progress, ActionUpdate)
    assert (progress.body, progress.author_id, progress.created_at) == (
        "Visited; no answer", author.id, frozen_clock.now()
    )
    assert action.updates == [progress]
    assert action.status is ActionStatus.OPEN, "progress is not a change of status"
    [entry] = audit_entries(session, entity_type="action_updates")
    assert (entry.action, entry.case_id, entry.entity_id) == (
        AuditAction.CREATE, case.id, str(progress.id)
    )
    assert json.loads(entry.changes)["after"] == {"action_id": action.id,
                                                  "body": "Visited; no answer"}


@pytest.mark.parametrize("body", ["", "   \n "])
def test_blank_progress_is_refused(session, case, housing, frozen_clock, body):
    action = queued_action(session, case, housing, frozen_clock)
    with pytest.raises(InvalidRequest) as caught:
        record_action_progress(session, SYSTEM, action_id=action.id, body=body)
    assert set(caught.value.field_errors) == {"body"}
    assert updates_of(session, action) == []


def test_no_progress_on_a_settled_or_missing_action(session, case, housing, frozen_clock):
    action = queued_action(session, case, housing, frozen_clock)
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                      outcome="Tenancy checked")
    with pytest.raises(InvalidState, match="done"):
        record_action_progress(session, SYSTEM, action_id=action.id, body="More")
    assert updates_of(session, action) == []
    with pytest.raises(NotFound):
        record_action_progress(session, SYSTEM, action_id=action.id + 10_000, body="More")
    assert session.scalar(select(Action).where(Action.id == action.id)).status is (
        ActionStatus.DONE
    )

"""Actions: who may be given one, when it may be due, and how it may be answered."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import Action, ActionStatus
from storage.cases.workflow import close_case, respond_to_action
from storage.errors import InvalidRequest, InvalidState, NotFound
from storage.outbox.models import EffectKind, OutboxMessage
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
def case(session, owner, frozen_clock):
    return factories.asb_case(session, owner)


def assign(session, case, agency, frozen_clock, **overrides):
    values = {
        "case_id": case.id,
        "title": "Visit the victim",
        "assigned_agency_id": agency.id,
        "due_at": frozen_clock.now() + timedelta(days=5),
    }
    return factories.assign_action(session, SYSTEM, **(values | overrides))


def field_errors(caught) -> set[str]:
    return set(caught.value.field_errors)


# --- assigning ------------------------------------------------------------------------------


def test_assigning_writes_the_action_shares_the_case_bumps_its_version_and_audits(
    session, case, housing, frozen_clock
):
    worker = factories.user(session, housing)
    version = case.version
    action = assign(session, case, housing, frozen_clock, assigned_user_id=worker.id,
                    title="  Visit the victim  ", detail="Ring first")
    session.commit()

    assert action.status is ActionStatus.OPEN
    assert action.title == "Visit the victim"
    assert action.created_at == frozen_clock.now()
    assert case.version == version + 1
    assert [s.agency_id for s in case.shares] == [housing.id]

    [created] = audit_entries(session, entity_type="actions")
    assert (created.action, created.case_id, created.entity_id) == (
        AuditAction.CREATE, case.id, str(action.id)
    )
    assert json.loads(created.changes)["after"]["assigned_user_id"] == worker.id
    [shared] = audit_entries(session, entity_type="case_shares")
    assert shared.entity_id == f"{case.id}/{housing.id}"
    [message] = session.scalars(select(OutboxMessage)).all()
    assert message.kind is EffectKind.NOTIFY_AGENCY


def test_assigning_to_the_owning_agency_does_not_share(session, case, owner, frozen_clock):
    assign(session, case, owner, frozen_clock)
    assert case.shares == []


def test_assignee_must_work_for_the_assigned_agency(session, case, owner, housing, frozen_clock):
    outsider = factories.user(session, owner)
    with pytest.raises(InvalidRequest) as caught:
        assign(session, case, housing, frozen_clock, assigned_user_id=outsider.id)
    assert field_errors(caught) == {"assigned_user"}
    assert "works for the agency" in caught.value.field_errors["assigned_user"]


def test_assignee_must_have_an_active_account(session, case, housing, frozen_clock):
    leaver = factories.user(session, housing)
    leaver.active = False
    with pytest.raises(InvalidRequest) as caught:
        assign(session, case, housing, frozen_clock, assigned_user_id=leaver.id)
    assert field_errors(caught) == {"assigned_user"}


def test_action_cannot_be_due_in_the_past(session, case, housing, frozen_clock):
    with pytest.raises(InvalidRequest) as caught:
        assign(session, case, housing, frozen_clock,
               due_at=frozen_clock.now() - timedelta(minutes=1))
    assert field_errors(caught) == {"due_at"}


def test_action_due_date_must_carry_a_time_zone(session, case, housing, frozen_clock):
    naive = datetime(2026, 3, 9, 17, 0)  # noqa: DTZ001 (the point of the test)
    with pytest.raises(InvalidRequest) as caught:
        assign(session, case, housing, frozen_clock, due_at=naive)
    assert field_errors(caught) == {"due_at"}
    assert "time zone" in caught.value.field_errors["due_at"]


def test_every_bad_field_is_reported_at_once(session, case, housing, frozen_clock):
    other_case = factories.asb_case(session, housing)
    housing_id = housing.id
    housing.active = False
    with pytest.raises(InvalidRequest) as caught:
        assign(session, case, housing, frozen_clock, title=" ", assigned_agency_id=housing_id,
               due_at=frozen_clock.now() - timedelta(days=1),
               stage_instance_id=other_case.stages[0].id)
    assert field_errors(caught) == {"title", "assigned_agency", "due_at", "stage"}
    assert session.scalars(select(Action)).all() == []


def test_actions_cannot_be_added_to_a_closed_case(session, case, housing, frozen_clock):
    close_case(session, SYSTEM, case_id=case.id, expected_version=case.version, reason="Done")
    with pytest.raises(InvalidState, match="closed"):
        assign(session, case, housing, frozen_clock)


def test_assigning_on_an_unknown_case_is_not_found(session, case, housing, frozen_clock):
    with pytest.raises(NotFound):
        assign(session, case, housing, frozen_clock, case_id=case.id + 1000)


# --- responding -----------------------------------------------------------------------------

# The rule, written out here independently of the code: done and declined are final.
ALLOWED = {
    ActionStatus.OPEN: {ActionStatus.ACCEPTED, ActionStatus.DECLINED, ActionStatus.DONE,
                        ActionStatus.OVERDUE},
    ActionStatus.ACCEPTED: {ActionStatus.DONE, ActionStatus.DECLINED, ActionStatus.OVERDUE},
    ActionStatus.OVERDUE: {ActionStatus.ACCEPTED, ActionStatus.DONE, ActionStatus.DECLINED},
    ActionStatus.DONE: set(),
    ActionStatus.DECLINED: set(),
}


def bring_to(session, action: Action, status: ActionStatus) -> None:
    if status is not ActionStatus.OPEN:
        respond_to_action(session, SYSTEM, action_id=action.id, status=status,
                          reason="Not for us")
    assert action.status is status


@pytest.mark.parametrize(
    ("start", "target"), list(itertools.product(ActionStatus, ActionStatus)),
    ids=lambda s: s.value,
)
def test_action_status_transitions(session, case, housing, frozen_clock, start, target):
    action = assign(session, case, housing, frozen_clock)
    bring_to(session, action, start)
    if target in ALLOWED[start]:
        respond_to_action(session, SYSTEM, action_id=action.id, status=target,
                          reason="Not for us", outcome="Visited")
        assert action.status is target
    else:
        with pytest.raises(InvalidState, match=f"{start.value} cannot become {target.value}"):
            respond_to_action(session, SYSTEM, action_id=action.id, status=target,
                              reason="Not for us")
        assert action.status is start


def test_declining_needs_a_reason(session, case, housing, frozen_clock):
    action = assign(session, case, housing, frozen_clock)
    for reason in (None, "", "   "):
        with pytest.raises(InvalidRequest) as caught:
            respond_to_action(session, SYSTEM, action_id=action.id,
                              status=ActionStatus.DECLINED, reason=reason)
        assert field_errors(caught) == {"reason"}
    assert action.status is ActionStatus.OPEN


def test_declining_keeps_the_reason_and_is_audited(session, case, housing, frozen_clock):
    action = assign(session, case, housing, frozen_clock)
    session.commit()
    respond_to_action(session, SYSTEM, action_id=action.id, status="declined",
                      reason="  Not a housing matter ")
    session.commit()
    assert (action.status, action.decline_reason) == (
        ActionStatus.DECLINED, "Not a housing matter"
    )
    [update] = audit_entries(session, entity_type="actions", action=AuditAction.UPDATE)
    assert update.case_id == case.id
    assert json.loads(update.changes) == {
        "before": {"status": "open", "decline_reason": None},
        "after": {"status": "declined", "decline_reason": "Not a housing matter"},
    }


def test_completing_stamps_the_time_and_outcome(session, case, housing, frozen_clock):
    action = assign(session, case, housing, frozen_clock)
    frozen_clock.advance(timedelta(days=2))
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.DONE,
                      outcome="Victim visited, safety plan agreed")
    session.commit()
    assert action.completed_at == frozen_clock.now()
    assert action.outcome == "Victim visited, safety plan agreed"
    [update] = audit_entries(session, entity_type="actions", action=AuditAction.UPDATE)
    assert json.loads(update.changes)["after"]["status"] == "done"


def test_responding_to_an_unknown_action_is_not_found(session):
    with pytest.raises(NotFound):
        respond_to_action(session, SYSTEM, action_id=31_337, status=ActionStatus.DONE)


def test_an_unknown_status_is_refused(session, case, housing, frozen_clock):
    action = assign(session, case, housing, frozen_clock)
    with pytest.raises(ValueError, match="finished"):
        respond_to_action(session, SYSTEM, action_id=action.id, status="finished")

from datetime import timedelta

import pytest

from storage.cases.models import CaseStatus, StageStatus
from storage.cases.services import StagePlan, record_stage_submission
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState
from storage.outbox.models import OutboxMessage
from tests import factories


def test_cases_get_sequential_references_per_prefix_and_year(session, frozen_clock):
    owner = factories.agency(session)
    first = factories.asb_case(session, owner)
    second = factories.asb_case(session, owner)
    assert (first.reference, second.reference) == ("ASB-2026-000001", "ASB-2026-000002")
    assert first.status is CaseStatus.OPEN
    assert first.version == 1
    assert [s.stage_key for s in first.active_stages] == ["intake"]


def test_open_case_reports_every_bad_field(session):
    owner = factories.agency(session)
    with pytest.raises(InvalidRequest) as caught:
        factories.open_case(
            session, factories.SYSTEM, case_type=factories.ASB_V1, title="  ",
            owning_agency_id=owner.id, first_stages=[], lead_officer_id=999_999,
        )
    assert set(caught.value.field_errors) == {"title", "stages", "lead_officer"}


def test_stage_submission_completes_stage_opens_next_and_bumps_version(session, frozen_clock):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    intake = case.active_stages[0]
    due = frozen_clock.now() + timedelta(days=2)
    record_stage_submission(
        session, factories.SYSTEM, case_id=case.id, stage_instance_id=intake.id,
        expected_version=1, form_data={"what_happened": "loud music"},
        next_stages=[StagePlan("risk_assessment", due_at=due)],
    )
    session.commit()
    assert case.version == 2
    assert intake.status is StageStatus.COMPLETED
    assert [s.stage_key for s in case.active_stages] == ["risk_assessment"]
    with pytest.raises(InvalidState):
        record_stage_submission(
            session, factories.SYSTEM, case_id=case.id, stage_instance_id=intake.id,
            expected_version=2, form_data={},
        )


def test_stale_form_gets_conflict_and_keeps_what_was_typed(session):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    with pytest.raises(ConcurrencyConflict) as caught:
        record_stage_submission(
            session, factories.SYSTEM, case_id=case.id,
            stage_instance_id=case.active_stages[0].id, expected_version=7,
            form_data={"what_happened": "typed carefully"},
        )
    assert caught.value.submitted == {"what_happened": "typed carefully"}
    assert "changed by someone else" in str(caught.value)


def test_assigning_an_action_shares_the_case_and_queues_one_notification(session, frozen_clock):
    owner = factories.agency(session)
    from storage.agencies.models import AgencyType

    housing = factories.agency(session, AgencyType.HOUSING)
    case = factories.asb_case(session, owner)
    action = factories.assign_action(
        session, factories.SYSTEM, case_id=case.id, title="Visit the victim",
        assigned_agency_id=housing.id, due_at=frozen_clock.now() + timedelta(days=5),
    )
    assert {s.agency_id for s in case.shares} == {housing.id}
    messages = session.query(OutboxMessage).filter_by(case_id=case.id).all()
    assert [m.idempotency_key for m in messages] == [f"action-assigned:{action.id}"]

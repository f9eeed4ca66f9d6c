from datetime import UTC, datetime, timedelta

import pytest

from storage.agencies.models import AgencyType
from storage.cases.models import CaseStatus, RiskLevel, StageStatus
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState
from storage.outbox.models import OutboxMessage
from tests import factories
from workflows.loader import latest_shipped


def test_cases_get_sequential_references_and_start_in_the_definitions_first_stage(
    session, frozen_clock
):
    owner = factories.agency(session)
    first = factories.asb_case(session, owner)
    second = factories.asb_case(session, owner)
    assert (first.reference, second.reference) == ("ASB-2026-000001", "ASB-2026-000002")
    assert first.status is CaseStatus.OPEN
    assert (first.case_type, first.definition_version, first.version) == (
        "asb", latest_shipped()["asb"].version, 1)
    report = factories.active_stage(first, "report")
    # Monday 09:00 UTC + 1 working day = end of Tuesday, 17:00 London (GMT in March).
    assert report.due_at == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert report.form_key == "asb_report"


def test_open_case_reports_every_bad_field(session):
    owner = factories.agency(session)
    with pytest.raises(InvalidRequest) as caught:
        factories.open_case(
            session, factories.SYSTEM, case_type="asb", title="  ",
            owning_agency_id=owner.id, lead_officer_id=999_999,
        )
    assert set(caught.value.field_errors) == {"title", "lead_officer"}


def test_a_user_may_only_open_case_types_their_role_and_agency_allow(session):
    domestic_abuse = factories.agency(session, AgencyType.DOMESTIC_ABUSE_SERVICE)
    auditor = factories.user(session, domestic_abuse, factories.Role.AUDITOR)
    with pytest.raises(InvalidRequest) as caught:
        factories.asb_case(session, domestic_abuse, factories.actor_for(auditor))
    assert set(caught.value.field_errors) == {"case_type", "owning_agency"}


def test_stage_submission_completes_stage_opens_next_and_bumps_version(session, frozen_clock):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    report = factories.active_stage(case, "report")
    frozen_clock.advance(timedelta(hours=2))
    factories.submit(session, case, factories.ASB_REPORT)
    session.commit()
    assert case.version == 2
    assert report.status is StageStatus.COMPLETED
    assert report.form_data == factories.ASB_REPORT
    assert case.risk_level is RiskLevel.STANDARD
    assert [s.stage_key for s in case.active_stages] == ["risk_assessment"]
    with pytest.raises(InvalidState):
        factories.record_stage_submission(
            session, factories.SYSTEM, case_id=case.id, stage_instance_id=report.id,
            expected_version=2, form_data={},
        )


def test_stale_form_gets_conflict_and_keeps_what_was_typed(session):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    with pytest.raises(ConcurrencyConflict) as caught:
        factories.record_stage_submission(
            session, factories.SYSTEM, case_id=case.id,
            stage_instance_id=factories.active_stage(case).id, expected_version=7,
            form_data={"description": "typed carefully"},
        )
    assert caught.value.submitted == {"description": "typed carefully"}
    assert "changed by someone else" in str(caught.value)


def test_assigning_an_action_shares_the_case_and_queues_one_notification(session, frozen_clock):
    owner = factories.agency(session)
    housing = factories.agency(session, AgencyType.HOUSING)
    case = factories.asb_case(session, owner)
    action = factories.assign_action(
        session, factories.SYSTEM, case_id=case.id, title="Visit the victim",
        assigned_agency_id=housing.id, due_at=frozen_clock.now() + timedelta(days=5),
    )
    assert {s.agency_id for s in case.shares} == {housing.id}
    messages = session.query(OutboxMessage).filter_by(case_id=case.id).all()
    assert [m.idempotency_key for m in messages] == [f"action-assigned:{action.id}"]

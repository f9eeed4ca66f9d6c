"""Opening, progressing and closing a case through the services, with the audit they leave."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import ActionStatus, CaseStatus, StageStatus
from storage.cases.workflow import (
    close_case,
    open_case,
    record_stage_submission,
    respond_to_action,
)
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState, NotFound
from storage.workflows.services import current_version
from tests import factories
from tests.storage.helpers import (
    ASB_PATH,
    VICTIM_NOT_REACHED,
    advance_asb,
    audit_entries,
)

SYSTEM = factories.SYSTEM

# Report answers that screen as high risk (3 + 3 + 3 + 4 = 13 points) and refer nobody.
HIGH_RISK_REPORT = factories.ASB_REPORT | {
    "description": "Threats through the letterbox", "happened_before": "yes",
    "feels_targeted": "yes", "disability_or_illness": "yes", "fears_for_safety": "yes",
}


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def case(session, owner, frozen_clock):
    return factories.asb_case(session, owner)


def submit(session, case, stage=None, **kwargs):
    kwargs.setdefault("form_data", factories.ASB_REPORT)
    return record_stage_submission(
        session, SYSTEM, case_id=case.id, stage_instance_id=(stage or case.active_stages[0]).id,
        expected_version=kwargs.pop("expected_version", case.version), **kwargs,
    )


def add_action(session, case, agency, frozen_clock, title="Visit the victim"):
    return factories.assign_action(
        session, SYSTEM, case_id=case.id, title=title, assigned_agency_id=agency.id,
        due_at=frozen_clock.now() + timedelta(days=5),
    )


# --- opening --------------------------------------------------------------------------------


def test_open_case_records_the_definition_and_audits_case_and_stage(session, owner, case):
    session.commit()
    published = current_version(session, "asb")
    assert (case.case_type, case.definition_version, case.definition_hash) == (
        "asb", published.version, published.content_hash
    )
    entries = audit_entries(session, case_id=case.id)
    assert [(e.action, e.entity_type) for e in entries] == [
        (AuditAction.CREATE, "cases"), (AuditAction.CREATE, "stage_instances")
    ]
    after = json.loads(entries[0].changes)["after"]
    assert after["reference"] == case.reference
    assert after["owning_agency_id"] == owner.id
    assert entries[1].entity_id == str(case.stages[0].id)


def test_open_case_shares_with_other_agencies_but_not_the_owner(session, owner, frozen_clock):
    housing = factories.agency(session, AgencyType.HOUSING)
    case = open_case(
        session, SYSTEM, case_type="asb", title="Shared", owning_agency_id=owner.id,
        share_with_agency_ids=[housing.id, owner.id, housing.id],
    )
    assert [s.agency_id for s in case.shares] == [housing.id]


def test_open_case_refuses_a_lead_officer_from_an_agency_not_on_the_case(session, owner):
    elsewhere = factories.agency(session, AgencyType.COUNCIL)
    officer = factories.user(session, elsewhere)
    with pytest.raises(InvalidRequest) as caught:
        open_case(session, SYSTEM, case_type="asb", title="Case", owning_agency_id=owner.id,
                  lead_officer_id=officer.id)
    assert set(caught.value.field_errors) == {"lead_officer"}


def test_open_case_accepts_a_lead_officer_from_a_sharing_agency(session, owner):
    elsewhere = factories.agency(session, AgencyType.COUNCIL)
    officer = factories.user(session, elsewhere)
    case = open_case(session, SYSTEM, case_type="asb", title="Case", owning_agency_id=owner.id,
                     lead_officer_id=officer.id, share_with_agency_ids=[elsewhere.id])
    assert case.lead_officer_id == officer.id
    # The first stage is worked by the lead officer, for the agency they work for.
    report = factories.active_stage(case, "report")
    assert (report.assignee_user_id, report.assignee_agency_id) == (officer.id, elsewhere.id)


def test_open_case_refuses_an_inactive_owner_and_unknown_sharing_agency(session, owner):
    owner.active = False
    with pytest.raises(InvalidRequest) as caught:
        open_case(session, SYSTEM, case_type="asb", title="Case", owning_agency_id=owner.id,
                  share_with_agency_ids=[987_654])
    assert set(caught.value.field_errors) == {"owning_agency", "share_with"}


# --- stage submissions ----------------------------------------------------------------------


def test_submission_on_a_closed_case_is_refused(session, case):
    report = case.active_stages[0]
    close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
               reason="Resolved informally")
    with pytest.raises(InvalidState, match="is closed"):
        submit(session, case, stage=report)
    assert report.status is StageStatus.CANCELLED
    assert report.form_data is None


def test_submission_for_a_stage_of_another_case_is_not_found(session, owner, case):
    other = factories.asb_case(session, owner)
    with pytest.raises(NotFound):
        submit(session, case, stage=other.active_stages[0])


def test_submission_with_a_stale_version_is_a_conflict(session, case):
    with pytest.raises(ConcurrencyConflict) as caught:
        submit(session, case, expected_version=case.version + 1)
    assert caught.value.current_version == case.version
    assert case.active_stages[0].status is StageStatus.ACTIVE


def test_a_repeated_stage_gets_the_next_sequence_number(session, case):
    # Victim not reached: the ASB workflow opens victim contact again (up to three tries).
    advance_asb(session, case, to="victim_contact")
    submit(session, case, form_data=VICTIM_NOT_REACHED)
    submit(session, case, form_data=VICTIM_NOT_REACHED)
    assert [(s.stage_key, s.sequence, s.status) for s in case.stages] == [
        ("report", 1, StageStatus.COMPLETED),
        ("risk_assessment", 1, StageStatus.COMPLETED),
        ("victim_contact", 1, StageStatus.COMPLETED),
        ("victim_contact", 2, StageStatus.COMPLETED),
        ("victim_contact", 3, StageStatus.ACTIVE),
    ]


def test_submission_audits_the_answers_the_stages_and_the_risk_change(session, case):
    session.commit()
    report = case.active_stages[0]
    submit(session, case, form_data=HIGH_RISK_REPORT)
    session.commit()

    entries = audit_entries(session, case_id=case.id, action=AuditAction.UPDATE)
    by_type = {(e.entity_type, e.entity_id): json.loads(e.changes) for e in entries}
    stage_change = by_type[("stage_instances", str(report.id))]
    assert stage_change["before"]["status"] == "active"
    assert stage_change["after"]["status"] == "completed"
    assert stage_change["after"]["form_data"] == HIGH_RISK_REPORT
    assert by_type[("cases", str(case.id))] == {
        "before": {"risk_level": None}, "after": {"risk_level": "high"}
    }
    created = audit_entries(session, case_id=case.id, action=AuditAction.CREATE,
                            entity_type="stage_instances")
    assert created[-1].entity_id == str(case.active_stages[0].id)


def test_submission_can_close_the_case(session, case):
    # Three failed attempts, a letter without reply, then closure for no contact.
    advance_asb(session, case, to="victim_contact")
    for _ in range(3):
        submit(session, case, form_data=VICTIM_NOT_REACHED)
    submit(session, case, form_data={"letter_sent_on": "2026-03-02", "reply_received": "no"})
    version = case.version
    submit(session, case, form_data=ASB_PATH["closure"] | {"reason": "no_contact"})
    assert case.status is CaseStatus.CLOSED
    assert case.closure_reason == "No contact with the victim"
    assert case.version == version + 1
    assert case.active_stages == []


# --- closing --------------------------------------------------------------------------------


def test_close_case_is_refused_while_actions_are_outstanding(session, owner, case, frozen_clock):
    visit = add_action(session, case, owner, frozen_clock, title="Visit the victim")
    letter = add_action(session, case, owner, frozen_clock, title="Send a warning letter")
    respond_to_action(session, SYSTEM, action_id=letter.id, status=ActionStatus.ACCEPTED)

    with pytest.raises(InvalidState) as caught:
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Resolved")
    message = str(caught.value)
    assert "2 outstanding action(s)" in message
    assert "'Visit the victim'" in message
    assert "'Send a warning letter'" in message
    assert case.status is CaseStatus.OPEN

    respond_to_action(session, SYSTEM, action_id=visit.id, status=ActionStatus.DONE,
                      outcome="Visited")
    with pytest.raises(InvalidState, match="1 outstanding"):
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Resolved")

    respond_to_action(session, SYSTEM, action_id=letter.id, status=ActionStatus.DECLINED,
                      reason="Housing will write instead")
    closed = close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                        reason="Resolved")
    assert closed.status is CaseStatus.CLOSED


def test_an_overdue_action_also_blocks_closing(session, owner, case, frozen_clock):
    action = add_action(session, case, owner, frozen_clock)
    respond_to_action(session, SYSTEM, action_id=action.id, status=ActionStatus.OVERDUE)
    with pytest.raises(InvalidState, match="outstanding"):
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Resolved")


def test_closing_cancels_active_stages_and_is_audited(session, case, frozen_clock):
    session.commit()
    frozen_clock.advance(timedelta(days=10))
    version = case.version
    close_case(session, SYSTEM, case_id=case.id, expected_version=version,
               reason="  Resolved by mediation  ")
    session.commit()

    assert case.status is CaseStatus.CLOSED
    assert case.closed_at == frozen_clock.now()
    assert case.closure_reason == "Resolved by mediation"
    assert case.version == version + 1
    assert [s.status for s in case.stages] == [StageStatus.CANCELLED]

    updates = audit_entries(session, case_id=case.id, action=AuditAction.UPDATE)
    changes = {e.entity_type: json.loads(e.changes) for e in updates}
    assert changes["stage_instances"] == {"before": {"status": "active"},
                                          "after": {"status": "cancelled"},
                                          "detail": {"reason": "the case was closed"}}
    assert changes["cases"]["before"] == {"status": "open", "closure_reason": None}
    assert changes["cases"]["after"] == {"status": "closed",
                                         "closure_reason": "Resolved by mediation"}


def test_closing_needs_a_reason(session, case):
    with pytest.raises(InvalidRequest) as caught:
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version, reason=" ")
    assert set(caught.value.field_errors) == {"reason"}


def test_a_closed_case_cannot_be_closed_again(session, case):
    close_case(session, SYSTEM, case_id=case.id, expected_version=case.version, reason="Done")
    with pytest.raises(InvalidState, match="closed"):
        close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                   reason="Done again")


def test_close_unknown_case_is_not_found(session):
    with pytest.raises(NotFound):
        close_case(session, SYSTEM, case_id=424_242, expected_version=1, reason="x")

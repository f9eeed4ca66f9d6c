"""Restricted cases: a share is no longer enough; only the owner, partnership-wide roles and
agencies let in by an approved request (until it expires) see them. Requests, decisions and
e-mails through the outbox; who may restrict a case or lock a profile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.access import can_see_case, visible_cases
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import Case
from storage.cases.services import share_case
from storage.errors import AccessDenied, InvalidRequest, InvalidState
from storage.outbox.models import OutboxMessage
from storage.people.services import create_person
from storage.restricted import services as restricted
from storage.restricted.models import AccessRequestStatus
from tests import factories
from tests.factories import SYSTEM, actor_for


def _sees(session, user, case) -> bool:
    in_sql = session.scalar(select(Case.id).where(Case.id == case.id, visible_cases(user)))
    assert (in_sql is not None) == can_see_case(session, user, case), "the two forms agree"
    return in_sql is not None


@pytest.fixture
def world(session, frozen_clock):
    police = factories.agency(session, AgencyType.POLICE)
    housing = factories.agency(session, AgencyType.HOUSING)
    council = factories.agency(session, AgencyType.COUNCIL)
    case = factories.asb_case(session, police)
    share_case(session, SYSTEM, case_id=case.id, agency_id=housing.id)
    return {
        "case": case, "police": police, "housing": housing, "council": council,
        "manager": factories.user(session, police, Role.MANAGER),
        "officer": factories.user(session, police),
        "tenancy": factories.user(session, housing),
        "housing_manager": factories.user(session, housing, Role.MANAGER),
        "admin": factories.user(session, council, Role.PARTNERSHIP_ADMIN),
        "auditor": factories.user(session, council, Role.AUDITOR),
        "stranger": factories.user(session, council),
    }


def _restrict(session, w) -> None:
    restricted.set_case_restricted(session, actor_for(w["manager"]), w["manager"],
                                   case_id=w["case"].id, restricted=True,
                                   reason="Victim at risk from a relative in another agency")


def test_restricting_narrows_sharing_to_the_owner_and_partnership_wide_roles(session, world):
    w = world
    assert _sees(session, w["tenancy"], w["case"])
    _restrict(session, w)
    assert not _sees(session, w["tenancy"], w["case"])  # the share no longer lets them in
    assert not _sees(session, w["stranger"], w["case"])
    assert _sees(session, w["officer"], w["case"])
    assert _sees(session, w["admin"], w["case"])
    assert _sees(session, w["auditor"], w["case"])


def test_only_a_manager_of_the_owning_agency_restricts_and_says_why(session, world):
    w = world
    for user in (w["officer"], w["housing_manager"]):
        with pytest.raises(AccessDenied):
            restricted.set_case_restricted(session, actor_for(user), user, case_id=w["case"].id,
                                           restricted=True, reason="because")
    with pytest.raises(InvalidRequest, match="reason"):
        restricted.set_case_restricted(session, actor_for(w["manager"]), w["manager"],
                                       case_id=w["case"].id, restricted=True, reason="  ")
    assert not w["case"].restricted
    _restrict(session, w)
    session.commit()
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "cases", AuditEntry.action == AuditAction.UPDATE,
        AuditEntry.case_id == w["case"].id)).all()[-1]
    assert '"restricted":true' in entry.changes.replace(" ", "")


def _ask(session, w, user=None):
    user = user or w["tenancy"]
    return restricted.request_access(session, actor_for(user), user, case_id=w["case"].id,
                                     reason="We are rehousing the victim this week")


def test_request_approve_see_then_the_grant_expires(session, world, frozen_clock):
    w = world
    _restrict(session, w)
    with pytest.raises(InvalidRequest, match="reason"):
        restricted.request_access(session, actor_for(w["tenancy"]), w["tenancy"],
                                  case_id=w["case"].id, reason=" ")
    request = _ask(session, w)
    with pytest.raises(InvalidState, match="already asked"):
        _ask(session, w)
    assert restricted.pending_for(session, w["manager"]) == [request]
    assert restricted.pending_count(session, w["manager"]) == 1
    assert restricted.pending_for(session, w["housing_manager"]) == []
    assert restricted.pending_for(session, w["officer"]) == []
    with pytest.raises(AccessDenied):
        restricted.decide(session, actor_for(w["housing_manager"]), w["housing_manager"],
                          request_id=request.id, approve=True)

    restricted.decide(session, actor_for(w["manager"]), w["manager"], request_id=request.id,
                      approve=True, days=7)
    assert request.status is AccessRequestStatus.APPROVED
    assert _sees(session, w["tenancy"], w["case"])
    assert not _sees(session, w["stranger"], w["case"])
    mails = session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == w["case"].id,
        OutboxMessage.idempotency_key.like("access-%"))).all()
    assert {m.payload["template"] for m in mails} == {"access_requested",
                                                      "access_request_approved"}
    decided = next(m for m in mails if m.payload["template"] == "access_request_approved")
    assert decided.payload["recipient"] == {"user_id": w["tenancy"].id}

    frozen_clock.advance(timedelta(days=7, minutes=1))
    assert not _sees(session, w["tenancy"], w["case"])


def test_decline_needs_a_reason_and_keeps_them_out(session, world):
    w = world
    _restrict(session, w)
    request = _ask(session, w)
    with pytest.raises(InvalidRequest, match="reason"):
        restricted.decide(session, actor_for(w["manager"]), w["manager"],
                          request_id=request.id, approve=False, reason="")
    restricted.decide(session, actor_for(w["manager"]), w["manager"], request_id=request.id,
                      approve=False, reason="The victim has asked us not to share")
    assert request.status is AccessRequestStatus.DECLINED
    assert not _sees(session, w["tenancy"], w["case"])
    with pytest.raises(InvalidState, match="already been decided"):
        restricted.decide(session, actor_for(w["manager"]), w["manager"],
                          request_id=request.id, approve=True)
    assert restricted.requests_by(session, w["tenancy"]) == [request]
    session.commit()
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "access_requests")).all()
    assert actions.count(AuditAction.CREATE) >= 1
    assert actions.count(AuditAction.UPDATE) >= 1


def test_an_approval_cannot_run_past_a_year(session, world):
    w = world
    _restrict(session, w)
    request = _ask(session, w)
    with pytest.raises(InvalidRequest, match="days"):
        restricted.decide(session, actor_for(w["manager"]), w["manager"],
                          request_id=request.id, approve=True, days=400)
    assert request.status is AccessRequestStatus.PENDING


def test_locking_a_profile_is_for_managers_working_with_the_person(session, world):
    w = world
    person = create_person(session, SYSTEM, given_name="Ada", family_name="Quill")
    with pytest.raises(AccessDenied):
        restricted.set_person_locked(session, actor_for(w["manager"]), w["manager"],
                                     person_id=person.id, locked=True, reason="safety")
    person.created_by_agency_id = w["police"].id
    with pytest.raises(AccessDenied):
        restricted.set_person_locked(session, actor_for(w["officer"]), w["officer"],
                                     person_id=person.id, locked=True, reason="safety")
    restricted.set_person_locked(session, actor_for(w["manager"]), w["manager"],
                                 person_id=person.id, locked=True, reason="Fled abuse")
    assert person.restricted

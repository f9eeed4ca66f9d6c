"""Restricted cases in the browser: an agency that may not see one gets, by every path
(case page, stage and action pages, search, person profile, inbox, linked cases, meeting
agenda), only that it exists, who holds it and whom to contact; never the victim's name,
the answers or the title. Then the request, approve, see flow, and decline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from casebridge import clock
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import LinkKind, ParticipantRole
from storage.cases.services import add_participant, assign_action, link_cases, share_case
from storage.meetings import services as meetings
from storage.outbox.models import OutboxMessage
from storage.people.services import create_person
from storage.restricted import services as restricted
from storage.restricted.models import AccessRequest, AccessRequestStatus
from tests import factories
from tests.factories import ASB_REPORT, SYSTEM, actor_for
from tests.storage.meetings import builders
from tests.web.test_case_page import enter, prepared

VICTIM = "Zebedee Quartermain"
ANSWER = "Shouting threats through the letterbox at night"
TITLE = "Intimidation at the flats on Orchard Row"


@pytest.fixture
def app(app):
    return prepared(app)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


@pytest.fixture
def w(session):
    police = factories.agency(session, AgencyType.POLICE)
    housing = factories.agency(session, AgencyType.HOUSING)
    police.contact_email = "asb-team@police.example"
    manager = factories.user(session, police, Role.MANAGER)
    lead = factories.user(session, police)
    case = factories.open_case(session, SYSTEM, case_type="asb", title=TITLE,
                               owning_agency_id=police.id, lead_officer_id=lead.id)
    victim = create_person(session, SYSTEM, given_name="Zebedee", family_name="Quartermain")
    add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=victim.id)
    factories.submit(session, case, ASB_REPORT | {"description": ANSWER})
    share_case(session, SYSTEM, case_id=case.id, agency_id=housing.id)
    tenancy = factories.user(session, housing, Role.PRACTITIONER, Role.PANEL_MEMBER)
    action = assign_action(session, SYSTEM, case_id=case.id, title="Visit the neighbours",
                           assigned_agency_id=housing.id,
                           due_at=clock.now() + timedelta(days=5))
    own_case = factories.asb_case(session, housing)
    link_cases(session, SYSTEM, from_case_id=own_case.id, to_case_id=case.id,
               kind=LinkKind.RELATED, reason="Same block")
    meeting = builders.meeting(session, housing, tenancy.id, kind=meetings.MeetingKind.ASBRAC,
                               on=date(2026, 3, 12), title="ASB risk panel")
    meetings.add_to_agenda(session, SYSTEM, meeting_id=meeting.id, case_id=case.id,
                           reason="High risk")
    restricted.set_case_restricted(session, actor_for(manager), manager, case_id=case.id,
                                   restricted=True, reason="Victim's safety")
    session.commit()
    return {"case": case, "police": police, "housing": housing, "manager": manager,
            "lead": lead, "tenancy": tenancy, "victim": victim, "action": action,
            "own_case": own_case, "meeting": meeting}


def _page(client, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


def _nothing_of_the_case(page: str) -> None:
    assert VICTIM not in page
    assert "Quartermain" not in page
    assert ANSWER not in page
    assert TITLE not in page


def test_the_case_page_shows_only_that_it_exists_and_whom_to_contact(session, client, w):
    enter(client, w["tenancy"])
    status, page = _page(client, f"/cases/{w['case'].reference}")
    assert status == 403
    _nothing_of_the_case(page)
    assert "This case is restricted" in page
    assert w["police"].name in page
    assert "asb-team@police.example" in page
    assert w["lead"].display_name in page
    assert w["lead"].email in page
    assert "Request access" in page
    assert "Anti-social" not in page  # not even the case type
    denied = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.ACCESS_DENIED,
        AuditEntry.case_id == w["case"].id)).all()
    assert len(denied) == 1
    assert denied[0].actor_user_id == w["tenancy"].id


def test_every_other_path_hides_the_case(session, client, w):
    enter(client, w["tenancy"])
    case = w["case"]
    stage = case.stages[0]
    paths = {
        "stage page": f"/cases/{case.reference}/stages/{stage.id}",
        "action page": f"/actions/{w['action'].id}",
        "case list": "/cases",
        "inbox": "/",
        "search by reference": f"/search?q={case.reference}",
        "linked case": f"/cases/{w['own_case'].reference}",
        "meeting agenda": f"/meetings/{w['meeting'].id}",
    }
    # the pages that belong to the case refuse; the user's own pages leave it out
    expected = {name: 404 if name in ("stage page", "action page") else 200 for name in paths}
    for name, url in paths.items():
        status, page = _page(client, url)
        assert status == expected[name], (name, status)
        _nothing_of_the_case(page)
        if name == "search by reference":  # only that it exists and who holds it
            assert (f'Case <a class="govuk-link" href="/cases/{case.reference}">'
                    f"{case.reference}</a> is restricted: it is held by "
                    f"{w['police'].name}") in page
        else:
            assert f'href="/cases/{case.reference}"' not in page, name
        if name in ("case list", "inbox", "linked case"):
            assert case.reference not in page, name
        if name == "meeting agenda":
            assert f"Restricted case: ask {w['police'].name}" in page
    # the person profile: the name is the profile's, but not this case or its details
    status, page = _page(client, f"/people/{w['victim'].id}")
    assert status == 200
    assert ANSWER not in page
    assert TITLE not in page
    assert case.reference not in page
    assert w["police"].name in page  # "held by": whom to ask


def test_a_manager_sees_the_count_of_waiting_requests_in_the_navigation(session, client, w):
    restricted.request_access(session, actor_for(w["tenancy"]), w["tenancy"],
                              case_id=w["case"].id, reason="Need it")
    session.commit()
    enter(client, w["manager"])
    assert "Access requests (1)" in client.get("/access-requests").get_data(as_text=True)
    enter(client, w["lead"])
    page = client.get("/access-requests").get_data(as_text=True)
    assert "Access requests (1)" not in page
    assert "Access requests" in page


def test_an_unshared_case_is_a_404_and_the_attempt_is_audited(session, client, w):
    stranger = factories.user(session, factories.agency(session, AgencyType.COUNCIL))
    hidden = factories.asb_case(session, w["police"])
    session.commit()
    enter(client, stranger)
    assert client.get(f"/cases/{hidden.reference}").status_code == 404
    assert client.get("/cases/ASB-2099-999999").status_code == 404
    denied = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.ACCESS_DENIED,
        AuditEntry.actor_user_id == stranger.id)).all()
    assert [e.case_id for e in denied] == [hidden.id]


def test_request_approve_then_see(session, client, w):
    enter(client, w["tenancy"])
    reference = w["case"].reference
    response = client.post(f"/cases/{reference}/access-requests", data={"access-reason": ""})
    assert response.status_code == 400
    assert "Say why your agency needs to see this case" in response.get_data(as_text=True)
    response = client.post(f"/cases/{reference}/access-requests",
                           data={"access-reason": "We are moving the victim to a new flat"})
    assert response.status_code == 302
    status, page = _page(client, f"/cases/{reference}")
    assert status == 403
    assert "will decide" in page

    enter(client, w["manager"])
    status, page = _page(client, "/access-requests")
    assert "We are moving the victim to a new flat" in page
    request = session.scalar(select(AccessRequest).where(
        AccessRequest.case_id == w["case"].id))
    response = client.post(f"/access-requests/{request.id}",
                           data={"decision": "approve", "days": "abc"})
    assert response.status_code == 400
    assert "whole number" in response.get_data(as_text=True)
    response = client.post(f"/access-requests/{request.id}",
                           data={"decision": "approve", "days": "30"})
    assert response.status_code == 302

    enter(client, w["tenancy"])
    status, page = _page(client, f"/cases/{reference}")
    assert status == 200
    assert VICTIM in page
    assert TITLE in page
    status, page = _page(client, "/access-requests")
    assert "Approved" in page
    mail = session.scalar(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"access-decided:{request.id}"))
    assert mail.payload == {"template": "access_request_approved", "case_id": w["case"].id,
                            "recipient": {"user_id": w["tenancy"].id}}


def test_decline_with_a_reason_the_requester_sees(session, client, w):
    request = restricted.request_access(session, actor_for(w["tenancy"]), w["tenancy"],
                                        case_id=w["case"].id, reason="Need it")
    session.commit()
    enter(client, w["manager"])
    response = client.post(f"/access-requests/{request.id}", data={"decision": "decline"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Say why the request is declined" in page
    response = client.post(f"/access-requests/{request.id}",
                           data={"decision": "decline", "reason": "Victim refused consent"})
    assert response.status_code == 302
    session.refresh(request)
    assert request.status is AccessRequestStatus.DECLINED

    enter(client, w["tenancy"])
    status, page = _page(client, f"/cases/{w['case'].reference}")
    assert status == 403
    assert "Victim refused consent" in page
    _nothing_of_the_case(page)
    status, page = _page(client, "/access-requests")
    assert "Declined" in page
    assert "Victim refused consent" in page


def test_other_managers_cannot_decide(session, client, w):
    request = restricted.request_access(session, actor_for(w["tenancy"]), w["tenancy"],
                                        case_id=w["case"].id, reason="Need it")
    housing_manager = factories.user(session, w["housing"], Role.MANAGER)
    session.commit()
    enter(client, housing_manager)
    response = client.post(f"/access-requests/{request.id}", data={"decision": "approve"})
    assert response.status_code == 404
    session.refresh(request)
    assert request.status is AccessRequestStatus.PENDING


def test_a_manager_restricts_and_lifts_a_restriction_with_a_reason(session, client, w):
    enter(client, w["manager"])
    reference = w["case"].reference
    _status, page = _page(client, f"/cases/{reference}")
    assert "Remove the restriction" in page
    response = client.post(f"/cases/{reference}/restriction", data={"restricted": "no"})
    assert response.status_code == 400
    assert "Say why the case is being opened up" in response.get_data(as_text=True)
    response = client.post(f"/cases/{reference}/restriction",
                           data={"restricted": "no", "reason": "Risk has passed"})
    assert response.status_code == 302
    session.refresh(w["case"])
    assert not w["case"].restricted
    enter(client, w["lead"])  # not a manager
    assert client.get(f"/cases/{reference}/restriction").status_code == 403


def test_a_manager_locks_a_profile(session, client, w):
    enter(client, w["manager"])
    person = w["victim"]
    _status, page = _page(client, f"/people/{person.id}")
    assert "Lock this profile" in page
    response = client.post(f"/people/{person.id}/lock", data={"locked": "yes"})
    assert response.status_code == 400
    response = client.post(f"/people/{person.id}/lock",
                           data={"locked": "yes", "reason": "Fled domestic abuse"})
    assert response.status_code == 302
    session.refresh(person)
    assert person.restricted

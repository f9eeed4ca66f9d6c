"""The meeting pages: the list, planning a meeting, the meeting page (attendance, agenda,
suggested cases) and one agenda item (minutes, actions, last time's incomplete actions)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import Action, ActionStatus, ActionUpdate, ParticipantRole
from storage.cases.services import add_participant
from storage.cases.workflow import respond_to_action
from storage.meetings import services as meetings
from storage.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
)
from storage.outbox.models import OutboxMessage
from storage.people.services import create_person
from tests import factories
from tests.storage.meetings import builders
from tests.web.conftest import sign_in, user_with_password

SYSTEM = factories.SYSTEM
MEETING_DAY = date(2026, 3, 12)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


@pytest.fixture
def idva(session):
    return factories.agency(session, AgencyType.DOMESTIC_ABUSE_SERVICE)


@pytest.fixture
def housing(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def coordinator(session, idva):
    return user_with_password(session, idva, Role.PANEL_MEMBER)


@pytest.fixture
def marac(session, idva, coordinator):
    meeting = builders.meeting(session, idva, coordinator.id, on=MEETING_DAY,
                               title="Northshire MARAC, March")
    session.commit()
    return meeting


@pytest.fixture
def listed(session, idva):
    """A MARAC case listed for the March meeting, with a named victim."""
    case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    victim = create_person(session, SYSTEM, given_name="Alexa", family_name="Testcase")
    add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=victim.id)
    session.commit()
    return case


@pytest.fixture
def as_coordinator(client, coordinator):
    assert sign_in(client, coordinator).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def error_next_to(page: str, message: str) -> bool:
    """The message is shown in a GOV.UK error message (next to its field)."""
    return re.search(r'class="govuk-error-message"[^>]*>\s*<span class="govuk-visually-hidden">'
                     r"Error:</span>\s*" + re.escape(message), page) is not None


def fresh(session, model, key):
    return session.get(model, key, populate_existing=True)


def add(session, meeting, case, reason="Listed for this meeting"):
    item = meetings.add_to_agenda(session, SYSTEM, meeting_id=meeting.id, case_id=case.id,
                                  reason=reason)
    session.commit()
    return item


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_upcoming_and_past_meetings_of_the_users_agency(
    session, client, idva, housing, coordinator, marac, frozen_clock
):
    past = builders.meeting(session, idva, coordinator.id, on=date(2026, 3, 2),
                            title="Earlier MARAC")
    elsewhere = builders.meeting(session, housing, coordinator.id, title="Housing panel",
                                 kind=MeetingKind.ASBRAC)
    session.commit()
    frozen_clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
    sign_in(client, coordinator)
    page = text(client.get("/meetings"))
    assert 'href="/meetings"' in page, "Meetings is in the service navigation"
    upcoming, past_part = page.split("Past and cancelled meetings")
    assert "Northshire MARAC, March" in upcoming
    assert "Earlier MARAC" in past_part
    assert "Plan a meeting" in page
    assert elsewhere.title in page, "the chair's own meetings are listed too"
    assert past.id


def test_other_agencies_see_only_their_meetings_and_partnership_roles_see_all(
    session, client, housing, marac
):
    outsider = user_with_password(session, housing, Role.PRACTITIONER)
    sign_in(client, outsider)
    page = text(client.get("/meetings"))
    assert "Northshire MARAC" not in page
    assert "No meetings are planned." in page
    assert "Plan a meeting" not in page, "practitioners do not plan meetings"
    admin = user_with_password(session, housing, Role.PARTNERSHIP_ADMIN)
    sign_in(client, admin)
    assert "Northshire MARAC" in text(client.get("/meetings"))


# --- planning a meeting ---------------------------------------------------------------------------

GOOD_MEETING = {"kind": "marac", "title": "MARAC, April", "scheduled_for-day": "9",
                "scheduled_for-month": "4", "scheduled_for-year": "2026",
                "scheduled_time": "10:30", "venue": "Civic centre"}


def test_a_panel_member_plans_a_meeting(session, as_coordinator, coordinator, idva):
    form = as_coordinator.get("/meetings/new")
    assert form.status_code == 200
    assert "What kind of meeting is it?" in text(form)
    response = as_coordinator.post("/meetings/new",
                                   data=GOOD_MEETING | {"chair": str(coordinator.id)})
    assert response.status_code == 302
    meeting = session.scalar(select(Meeting).where(Meeting.title == "MARAC, April"))
    assert response.headers["Location"].endswith(f"/meetings/{meeting.id}")
    assert meeting.scheduled_for == datetime(2026, 4, 9, 9, 30, tzinfo=UTC)  # 10:30 BST
    assert (meeting.kind, meeting.organiser_agency_id, meeting.chair_user_id) == (
        MeetingKind.MARAC, idva.id, coordinator.id)
    page = text(as_coordinator.get(response.headers["Location"]))
    assert "MARAC, April is planned" in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": " "}, "title", "Enter a title for the meeting"),
    ({"kind": ""}, "kind", "Choose the kind of meeting"),
    ({"scheduled_for-day": "31", "scheduled_for-month": "2"}, "scheduled_for",
     "The date of the meeting must be a real date"),
    ({"scheduled_for-day": "", "scheduled_for-month": "", "scheduled_for-year": ""},
     "scheduled_for", "Enter the date of the meeting"),
    ({"scheduled_for-month": "2"}, "scheduled_for",
     "The meeting date must be today or in the future"),
    ({"scheduled_time": "half ten"}, "scheduled_time",
     "Enter the time the meeting starts like 10:00 or 2:30pm"),
    ({"scheduled_time": "25:00"}, "scheduled_time",
     "The time the meeting starts must be a real time"),
    ({"chair": ""}, "chair", "Choose who chairs the meeting"),
    ({"venue": "v" * 201}, "venue", "The venue must be 200 characters or fewer"),
])
def test_a_meeting_with_a_problem_is_sent_back_with_the_message_and_what_was_typed(
    session, as_coordinator, coordinator, changes, field, message
):
    data = GOOD_MEETING | {"chair": str(coordinator.id), "title": "Kept title"} | changes
    response = as_coordinator.post("/meetings/new", data=data)
    page = text(response)
    assert response.status_code == 400
    assert error_next_to(page, message), page
    assert f'href="#{field}' in page, "the summary links to the field"
    if field != "title":
        assert 'value="Kept title"' in page
    assert 'value="Civic centre"' in page or field == "venue"
    assert session.scalar(select(Meeting)) is None


def test_problems_with_the_date_and_the_time_are_both_shown(session, as_coordinator,
                                                              coordinator):
    data = GOOD_MEETING | {"chair": str(coordinator.id), "scheduled_for-month": "2",
                           "scheduled_time": ""}
    page = text(as_coordinator.post("/meetings/new", data=data))
    assert error_next_to(page, "The meeting date must be today or in the future")
    assert error_next_to(page, "Enter the time the meeting starts")
    data |= {"scheduled_for-day": "x"}
    page = text(as_coordinator.post("/meetings/new", data=data))
    assert error_next_to(page, "The date of the meeting must be a real date")
    assert error_next_to(page, "Enter the time the meeting starts")


def test_practitioners_cannot_plan_meetings(session, client, idva):
    practitioner = user_with_password(session, idva, Role.PRACTITIONER)
    sign_in(client, practitioner)
    assert client.get("/meetings/new").status_code == 403
    assert client.post("/meetings/new", data=GOOD_MEETING).status_code == 403


# --- the meeting page -----------------------------------------------------------------------------


def test_the_meeting_page_shows_details_and_suggested_cases_and_is_audited(
    session, as_coordinator, marac, listed, coordinator
):
    response = as_coordinator.get(f"/meetings/{marac.id}")
    page = text(response)
    assert response.status_code == 200
    assert "Northshire MARAC, March" in page
    assert "12 March 2026, 10am" in page
    assert "Town hall, room 2" in page
    assert coordinator.display_name in page
    assert "Suggested cases" in page
    assert listed.reference in page
    assert "Listed for this meeting" in page
    assert "No cases on the agenda yet." in page
    entry = session.scalar(select(AuditEntry).where(
        AuditEntry.entity_type == "meetings", AuditEntry.action == AuditAction.VIEW,
        AuditEntry.entity_id == str(marac.id)))
    assert entry is not None
    assert str(listed.id) in entry.changes


def test_a_meeting_is_hidden_from_agencies_not_part_of_it(session, client, marac, housing):
    outsider = user_with_password(session, housing, Role.MANAGER)
    sign_in(client, outsider)
    assert client.get(f"/meetings/{marac.id}").status_code == 404
    assert client.get("/meetings/987654").status_code == 404
    assert client.post(f"/meetings/{marac.id}/attendance", data={}).status_code == 404
    meetings.record_attendance(session, SYSTEM, meeting_id=marac.id, agency_id=housing.id,
                               name="Someone", attendance=Attendance.APOLOGIES)
    session.commit()
    assert client.get(f"/meetings/{marac.id}").status_code == 200, "an attending agency sees it"


def test_a_suggested_case_is_added_with_one_button(session, as_coordinator, marac, listed):
    response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                   data={"case_id": str(listed.id),
                                         "reason": "Listed for this meeting"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#agenda")
    [item] = session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == marac.id))
    assert (item.case_id, item.position, item.reason) == (listed.id, 1,
                                                          "Listed for this meeting")
    page = text(as_coordinator.get(f"/meetings/{marac.id}"))
    assert f'href="/cases/{listed.reference}"' in page
    assert "No minutes yet" in page
    assert "No other cases are due for this meeting." in page


def test_a_case_is_added_by_its_reference(session, as_coordinator, marac, idva):
    case = factories.asb_case(session, idva)
    session.commit()
    response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                   data={"case_reference": case.reference.lower(),
                                         "reason": "Referred by housing"})
    assert response.status_code == 302
    assert session.scalar(select(AgendaItem.case_id).where(
        AgendaItem.meeting_id == marac.id)) == case.id


def test_adding_a_case_that_is_unknown_hidden_or_already_listed_is_refused(
    session, as_coordinator, marac, listed, housing
):
    hidden = factories.asb_case(session, housing)
    session.commit()
    for reference in ("ASB-2026-999999", hidden.reference):
        response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                       data={"case_reference": reference, "reason": "Kept"})
        page = text(response)
        assert response.status_code == 400
        assert error_next_to(page, f"There is no case {reference} that you can see")
        assert f'value="{reference}"' in page
        assert 'value="Kept"' in page
    response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                   data={"case_reference": "", "reason": ""})
    assert error_next_to(text(response), "Enter the reference of the case to add")
    assert error_next_to(text(response), "Say why the case is on the agenda")
    add(session, marac, listed)
    response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                   data={"case_reference": listed.reference, "reason": "Again"})
    assert response.status_code == 400
    assert error_next_to(text(response), f"{listed.reference} is already on the agenda")
    response = as_coordinator.post(f"/meetings/{marac.id}/agenda",
                                   data={"case_reference": listed.reference, "reason": " "})
    assert error_next_to(text(response), "Say why the case is on the agenda")


def test_agenda_items_move_and_are_removed(session, as_coordinator, marac, listed, idva):
    other = builders.marac_case(session, idva)
    first, second = add(session, marac, listed), add(session, marac, other, "Referred")
    response = as_coordinator.post(f"/meetings/{marac.id}/items/{second.id}/move",
                                   data={"direction": "up"})
    assert response.status_code == 302
    assert fresh(session, AgendaItem, second.id).position == 1
    assert as_coordinator.post(f"/meetings/{marac.id}/items/{second.id}/move",
                               data={"direction": "sideways"}).status_code == 400
    response = as_coordinator.post(f"/meetings/{marac.id}/items/{first.id}/remove")
    assert response.status_code == 302
    assert fresh(session, AgendaItem, first.id) is None
    assert fresh(session, AgendaItem, second.id).position == 1
    assert as_coordinator.post(f"/meetings/{marac.id}/items/{first.id}/remove"
                               ).status_code == 404


def test_attendance_is_recorded_from_the_meeting_page(
    session, as_coordinator, marac, housing
):
    officer = factories.user(session, housing)
    session.commit()
    response = as_coordinator.post(f"/meetings/{marac.id}/attendance", data={
        "agency": str(housing.id), "user": str(officer.id), "attendance": "present",
        "confidentiality_signed": "yes", "information_sent": "yes"})
    assert response.status_code == 302
    [row] = session.scalars(select(MeetingAttendee).where(MeetingAttendee.meeting_id == marac.id))
    assert (row.user_id, row.attendance, row.confidentiality_signed, row.information_sent) == (
        officer.id, Attendance.PRESENT, True, True)
    page = text(as_coordinator.get(f"/meetings/{marac.id}"))
    assert officer.display_name in page
    assert housing.name in page


@pytest.mark.parametrize(("data", "message"), [
    ({"agency": "", "name": "Kept Name", "attendance": "present"}, "Choose the agency"),
    ({"name": "", "attendance": "present"},
     "Enter the name of the person attending, or choose them from the list"),
    ({"name": "Kept Name"}, "Choose whether they were present, sent apologies or were absent"),
    ({"name": "Kept Name", "attendance": "apologies", "confidentiality_signed": "yes"},
     "Only someone present signs the confidentiality statement"),
])
def test_attendance_with_a_problem_is_sent_back(
    session, as_coordinator, marac, housing, data, message
):
    response = as_coordinator.post(f"/meetings/{marac.id}/attendance",
                                   data={"agency": str(housing.id)} | data)
    page = text(response)
    assert response.status_code == 400
    assert error_next_to(page, message), page
    if data.get("name"):
        assert 'value="Kept Name"' in page
    assert session.scalar(select(MeetingAttendee)) is None


def test_attendance_of_a_user_from_another_agency_is_refused(
    session, as_coordinator, marac, housing, idva
):
    officer = factories.user(session, idva)
    session.commit()
    response = as_coordinator.post(f"/meetings/{marac.id}/attendance", data={
        "agency": str(housing.id), "user": str(officer.id), "attendance": "present"})
    assert response.status_code == 400
    assert error_next_to(text(response), "Choose someone who works for that agency")


def test_attendees_who_only_practise_read_but_do_not_change_the_meeting(
    session, client, marac, housing, listed
):
    reader = user_with_password(session, housing, Role.PRACTITIONER)
    meetings.record_attendance(session, SYSTEM, meeting_id=marac.id, agency_id=housing.id,
                               user_id=reader.id, attendance=Attendance.PRESENT)
    item = add(session, marac, listed)
    sign_in(client, reader)
    page = text(client.get(f"/meetings/{marac.id}"))
    assert "Add an agency&#39;s attendance" not in page
    assert "Suggested cases" not in page
    for url, data in [
        (f"/meetings/{marac.id}/attendance", {"agency": str(housing.id)}),
        (f"/meetings/{marac.id}/agenda", {"case_id": str(listed.id), "reason": "x"}),
        (f"/meetings/{marac.id}/items/{item.id}/remove", {}),
        (f"/meetings/{marac.id}/items/{item.id}/move", {"direction": "up"}),
        (f"/meetings/{marac.id}/status", {"change": "cancel"}),
    ]:
        assert client.post(url, data=data).status_code == 403, url


def test_a_case_the_user_may_not_see_shows_as_restricted(
    session, as_coordinator, marac, housing, coordinator
):
    hidden = factories.asb_case(session, housing)
    item = add(session, marac, hidden, reason="Referred by housing: secret detail")
    page = text(as_coordinator.get(f"/meetings/{marac.id}"))
    assert f"Restricted case: ask {housing.name}" in page
    assert hidden.reference not in page
    assert "secret detail" not in page
    item_page = as_coordinator.get(f"/meetings/{marac.id}/items/{item.id}")
    body = text(item_page)
    assert item_page.status_code == 200
    assert f"Restricted case: ask {housing.name}" in body
    assert hidden.reference not in body
    assert "Save the minutes" not in body
    assert as_coordinator.post(f"/meetings/{marac.id}/items/{item.id}",
                               data={"form": "minutes", "discussed": "yes",
                                     "minutes": "x"}).status_code == 403
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "meeting_agenda_items",
        AuditEntry.action == AuditAction.VIEW)).all()[-1]
    assert entry.case_id == hidden.id
    assert "restricted" in entry.changes


def test_the_meeting_is_cancelled_or_held(
    session, as_coordinator, coordinator, marac, frozen_clock
):
    page = text(as_coordinator.get(f"/meetings/{marac.id}"))
    assert "You can record the meeting as held on or after its date." in page
    response = as_coordinator.post(f"/meetings/{marac.id}/status", data={"change": "held"})
    assert response.status_code == 409
    assert "The meeting has not happened yet" in text(response)
    frozen_clock.set(datetime(2026, 3, 12, 15, tzinfo=UTC))
    sign_in(as_coordinator, coordinator)  # ten days on, the session has expired
    response = as_coordinator.post(f"/meetings/{marac.id}/status",
                                   data={"change": "held", "general_minutes": "Quorate"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{marac.id}")
    held = fresh(session, Meeting, marac.id)
    assert (held.status, held.general_minutes) == (MeetingStatus.HELD, "Quorate")
    response = as_coordinator.post(f"/meetings/{marac.id}/status", data={"change": "cancel"})
    assert response.status_code == 409
    assert as_coordinator.post(f"/meetings/{marac.id}/status",
                               data={"change": "postpone"}).status_code == 400


def test_a_planned_meeting_is_cancelled(session, as_coordinator, marac):
    response = as_coordinator.post(f"/meetings/{marac.id}/status",
                                   data={"change": "cancel", "reason": "Chair unwell"})
    assert response.status_code == 302
    assert fresh(session, Meeting, marac.id).status is MeetingStatus.CANCELLED
    page = text(as_coordinator.get(f"/meetings/{marac.id}"))
    assert "Cancelled" in page
    assert "Record attendance" not in page


# --- one agenda item ------------------------------------------------------------------------------


def test_the_item_page_summarises_the_case_and_is_audited(
    session, as_coordinator, marac, listed, idva
):
    item = add(session, marac, listed)
    response = as_coordinator.get(f"/meetings/{marac.id}/items/{item.id}")
    page = text(response)
    assert response.status_code == 200
    assert f"Agenda item 1: {listed.reference}" in page
    assert "Alexa Testcase" in page
    assert "MARAC (high-risk domestic abuse)" in page
    assert "Police research" in page
    assert idva.name in page
    assert "None: there are no incomplete actions" in page
    entry = session.scalar(select(AuditEntry).where(
        AuditEntry.entity_type == "meeting_agenda_items", AuditEntry.action == AuditAction.VIEW,
        AuditEntry.entity_id == str(item.id)))
    assert entry is not None
    assert entry.case_id == listed.id


def test_an_item_of_another_meeting_is_not_found(session, as_coordinator, marac, listed, idva,
                                                coordinator):
    item = add(session, marac, listed)
    other = builders.meeting(session, idva, coordinator.id, on=date(2026, 4, 9))
    session.commit()
    assert as_coordinator.get(f"/meetings/{other.id}/items/{item.id}").status_code == 404
    assert as_coordinator.get(f"/meetings/{marac.id}/items/987654").status_code == 404


def test_minutes_are_saved_and_a_blank_one_is_refused(session, as_coordinator, marac, listed):
    item = add(session, marac, listed)
    url = f"/meetings/{marac.id}/items/{item.id}"
    response = as_coordinator.post(url, data={"form": "minutes", "discussed": "yes",
                                              "minutes": "Risks heard; safety plan agreed"})
    assert response.status_code == 302
    saved = fresh(session, AgendaItem, item.id)
    assert (saved.minutes, saved.discussed) == ("Risks heard; safety plan agreed", True)
    assert "Minutes recorded" in text(as_coordinator.get(f"/meetings/{marac.id}"))
    response = as_coordinator.post(url, data={"form": "minutes", "discussed": "no",
                                              "minutes": ""})
    assert response.status_code == 400
    assert error_next_to(text(response), "Say why the case was not discussed")
    response = as_coordinator.post(url, data={"form": "minutes", "minutes": "Kept minutes"})
    assert response.status_code == 400
    assert error_next_to(text(response), "Say whether the case was discussed")
    assert "Kept minutes" in text(response)
    assert fresh(session, AgendaItem, item.id).minutes == "Risks heard; safety plan agreed"
    assert as_coordinator.post(url, data={"form": "other"}).status_code == 400


def test_an_action_is_raised_for_an_agency(session, as_coordinator, marac, listed, housing):
    item = add(session, marac, listed)
    url = f"/meetings/{marac.id}/items/{item.id}"
    response = as_coordinator.post(url, data={
        "form": "action", "title": "Fit a door alarm", "assigned_agency": str(housing.id),
        "due_at-day": "9", "due_at-month": "4", "due_at-year": "2026",
        "detail": "Before the next meeting"})
    assert response.status_code == 302
    action = session.scalar(select(Action).where(Action.agenda_item_id == item.id))
    assert (action.title, action.assigned_agency_id, action.case_id) == (
        "Fit a door alarm", housing.id, listed.id)
    assert action.due_at == datetime(2026, 4, 9, 16, tzinfo=UTC)  # 5pm BST
    assert session.scalar(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"action-assigned:{action.id}")) is not None
    page = text(as_coordinator.get(url))
    assert "Fit a door alarm" in page
    assert "Action raised" in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": ""}, "title", "Say what needs doing"),
    ({"assigned_agency": ""}, "assigned_agency", "Choose the agency that will do this"),
    ({"due_at-day": "", "due_at-month": "", "due_at-year": ""}, "due_at",
     "Enter the date the action is due"),
    ({"due_at-day": "30", "due_at-month": "2"}, "due_at",
     "The date the action is due must be a real date"),
    ({"due_at-month": "1"}, "due_at",
     "The date the action is due must be today or in the future"),
])
def test_an_action_with_a_problem_is_sent_back_with_what_was_typed(
    session, as_coordinator, marac, listed, housing, changes, field, message
):
    item = add(session, marac, listed)
    data = {"form": "action", "title": "Kept title", "assigned_agency": str(housing.id),
            "due_at-day": "9", "due_at-month": "4", "due_at-year": "2026",
            "detail": "Kept detail"} | changes
    response = as_coordinator.post(f"/meetings/{marac.id}/items/{item.id}", data=data)
    page = text(response)
    assert response.status_code == 400
    assert error_next_to(page, message), page
    assert f'href="#{field}' in page
    assert "Kept detail" in page
    if field != "title":
        assert 'value="Kept title"' in page
    assert session.scalar(select(Action).where(Action.agenda_item_id == item.id)) is None


def test_last_times_incomplete_actions_are_listed_and_accounted_for(
    session, as_coordinator, marac, listed, housing, idva, coordinator, frozen_clock
):
    march = add(session, marac, listed)
    due = frozen_clock.now() + timedelta(days=20)
    late = meetings.raise_action(session, SYSTEM, agenda_item_id=march.id, title="Rehouse",
                                 assigned_agency_id=housing.id, due_at=due)
    done = meetings.raise_action(session, SYSTEM, agenda_item_id=march.id,
                                 title="Check on the children", assigned_agency_id=idva.id,
                                 due_at=due)
    respond_to_action(session, SYSTEM, action_id=done.id, status=ActionStatus.DONE,
                      outcome="Done")
    april = builders.meeting(session, idva, coordinator.id, on=date(2026, 4, 9))
    session.commit()
    page = text(as_coordinator.get(f"/meetings/{april.id}"))
    assert "Actions outstanding from an earlier meeting" in page
    item = add(session, april, listed, "Actions outstanding")
    url = f"/meetings/{april.id}/items/{item.id}"
    page = text(as_coordinator.get(url))
    assert "Incomplete actions from the last meeting" in page
    assert "Rehouse" in page
    assert "Check on the children" not in page
    assert "Not yet reviewed" in page
    response = as_coordinator.post(url, data={"form": "review", "action_id": str(late.id),
                                              f"review-note-{late.id}": "Kept note"})
    assert response.status_code == 400
    assert error_next_to(text(response),
                         "Choose whether circumstances changed or the agency did not act")
    assert 'value="Kept note"' in text(response)
    response = as_coordinator.post(url, data={
        "form": "review", "action_id": str(late.id),
        f"review-{late.id}": "circumstances_changed",
        f"review-note-{late.id}": "Victim moved in with family"})
    assert response.status_code == 302
    [update] = session.scalars(select(ActionUpdate).where(ActionUpdate.action_id == late.id))
    assert update.body.startswith("Circumstances changed")
    assert update.body.endswith("Victim moved in with family")
    page = text(as_coordinator.get(url))
    assert "Not yet reviewed" not in page
    assert "<td class=\"govuk-table__cell\">Circumstances changed</td>" in page
    assert as_coordinator.post(url, data={"form": "review", "action_id": str(done.id),
                                          f"review-{done.id}": "agency_did_not_act"}
                               ).status_code == 409
    assert as_coordinator.post(url, data={"form": "review", "action_id": "987654",
                                          "review-987654": "agency_did_not_act"}
                               ).status_code == 404


# --- reading the forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("10:00", (10, 0)), ("9.15", (9, 15)), ("14:30", (14, 30)), ("2pm", (14, 0)),
    ("2:30 PM", (14, 30)), ("12am", (0, 0)), ("12pm", (12, 0)), ("7", (7, 0)),
])
def test_times_are_read_the_ways_people_type_them(typed, expected):
    from web.panels.forms import parse_time

    at, problem = parse_time(typed, what="the time")
    assert problem == ""
    assert (at.hour, at.minute) == expected


@pytest.mark.parametrize("typed", ["", "noon", "13pm", "24:00", "10:75", "0am"])
def test_a_time_that_is_not_one_is_explained(typed):
    from web.panels.forms import parse_time

    at, problem = parse_time(typed, what="the time")
    assert at is None
    assert problem

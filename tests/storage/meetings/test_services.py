"""Panels and meetings: planning, attendance, the agenda and what it suggests, minutes, and the
actions raised at a meeting and reviewed at the next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import Action, ActionStatus, ActionUpdate, CaseStatus, RiskLevel
from storage.cases.workflow import close_case, respond_to_action
from storage.errors import InvalidRequest, InvalidState, NotFound
from storage.meetings import services as meetings
from storage.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingKind,
    MeetingStatus,
)
from storage.outbox.models import EffectKind, OutboxMessage
from tests import factories
from tests.storage.helpers import advance_asb, audit_entries
from tests.storage.meetings import builders
from tests.storage.meetings.builders import LONDON, at_local

SYSTEM = factories.SYSTEM
MEETING_DAY = date(2026, 3, 12)  # a Thursday, ten days after the frozen clock's Monday


@pytest.fixture
def idva(session):
    return factories.agency(session, AgencyType.DOMESTIC_ABUSE_SERVICE)


@pytest.fixture
def police(session):
    return factories.agency(session, AgencyType.POLICE)


@pytest.fixture
def housing(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def chair(session, idva):
    return factories.user(session, idva, Role.PANEL_MEMBER)


@pytest.fixture
def marac(session, idva, chair, frozen_clock):
    return builders.meeting(session, idva, chair.id, on=MEETING_DAY)


def errors_of(caught) -> set[str]:
    return set(caught.value.field_errors)


def create(session, idva, chair, **overrides):
    values = {
        "kind": MeetingKind.MARAC, "title": "MARAC March", "scheduled_for": at_local(MEETING_DAY),
        "venue": "Civic centre", "chair_user_id": chair.id, "organiser_agency_id": idva.id,
    }
    return meetings.create_meeting(session, SYSTEM, **(values | overrides))


# --- planning a meeting -----------------------------------------------------------------------


def test_a_meeting_is_planned_with_its_details_and_audited(session, idva, chair, frozen_clock):
    meeting = create(session, idva, chair, title="  MARAC March  ", venue="  ")
    session.commit()
    assert meeting.status is MeetingStatus.PLANNED
    assert meeting.title == "MARAC March"
    assert meeting.venue is None
    assert meeting.kind is MeetingKind.MARAC
    [entry] = audit_entries(session, entity_type="meetings", entity_id=str(meeting.id))
    assert entry.action is AuditAction.CREATE
    assert "MARAC March" in entry.changes


def test_a_meeting_later_today_or_earlier_today_is_accepted(session, idva, chair, frozen_clock):
    today = frozen_clock.now().astimezone(LONDON).date()
    assert create(session, idva, chair, scheduled_for=at_local(today, 8)).id


@pytest.mark.parametrize(("overrides", "field"), [
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"kind": "tea_party"}, "kind"),
    ({"scheduled_for": None}, "scheduled_for"),
    ({"scheduled_for": datetime(2026, 3, 12, 10)}, "scheduled_for"),  # noqa: DTZ001 (naive on purpose)
    ({"scheduled_for": at_local(date(2026, 3, 1))}, "scheduled_for"),
    ({"venue": "v" * 201}, "venue"),
    ({"chair_user_id": None}, "chair"),
    ({"chair_user_id": 987654}, "chair"),
    ({"organiser_agency_id": 987654}, "organiser_agency"),
])
def test_a_meeting_with_a_bad_field_is_refused_naming_it(
    session, idva, chair, frozen_clock, overrides, field
):
    with pytest.raises(InvalidRequest) as caught:
        create(session, idva, chair, **overrides)
    assert errors_of(caught) == {field}
    assert session.scalar(select(Meeting)) is None


def test_a_chair_whose_account_is_closed_is_refused(session, idva, chair, frozen_clock):
    chair.active = False
    with pytest.raises(InvalidRequest) as caught:
        create(session, idva, chair)
    assert errors_of(caught) == {"chair"}


def test_every_problem_is_reported_at_once(session, idva, chair, frozen_clock):
    with pytest.raises(InvalidRequest) as caught:
        create(session, idva, chair, title="", scheduled_for=None, chair_user_id=None)
    assert errors_of(caught) == {"title", "scheduled_for", "chair"}


def test_a_meeting_is_marked_held_on_or_after_its_date(session, marac, frozen_clock):
    with pytest.raises(InvalidState, match="not happened yet"):
        meetings.mark_held(session, SYSTEM, meeting_id=marac.id)
    frozen_clock.set(datetime(2026, 3, 12, 16, tzinfo=UTC))
    meetings.mark_held(session, SYSTEM, meeting_id=marac.id, general_minutes=" Quorate ")
    session.commit()
    assert marac.status is MeetingStatus.HELD
    assert marac.general_minutes == "Quorate"
    entries = audit_entries(session, entity_type="meetings", action=AuditAction.UPDATE)
    assert "held" in entries[-1].changes
    with pytest.raises(InvalidState):
        meetings.mark_held(session, SYSTEM, meeting_id=marac.id)
    with pytest.raises(InvalidState):
        meetings.cancel_meeting(session, SYSTEM, meeting_id=marac.id)


def test_a_cancelled_meeting_takes_no_more_records(session, marac, idva, frozen_clock):
    case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    item = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                                  reason="Listed")
    meetings.cancel(session, SYSTEM, meeting_id=marac.id, reason="Chair unwell")
    session.commit()
    assert marac.status is MeetingStatus.CANCELLED
    entry = audit_entries(session, entity_type="meetings", action=AuditAction.UPDATE)[-1]
    assert "Chair unwell" in entry.changes
    with pytest.raises(InvalidState):
        meetings.cancel_meeting(session, SYSTEM, meeting_id=marac.id)
    with pytest.raises(InvalidState):
        meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                               reason="Again")
    with pytest.raises(InvalidState):
        meetings.record_minutes(session, SYSTEM, agenda_item_id=item.id, minutes="Heard")
    with pytest.raises(InvalidState):
        meetings.record_attendance(session, SYSTEM, meeting_id=marac.id, agency_id=idva.id,
                                   name="A Person", attendance=Attendance.PRESENT)
    with pytest.raises(InvalidState):
        meetings.raise_action(session, SYSTEM, agenda_item_id=item.id, title="Visit",
                              assigned_agency_id=idva.id,
                              due_at=frozen_clock.now() + timedelta(days=3))


def test_an_unknown_meeting_is_not_found(session, frozen_clock):
    with pytest.raises(NotFound):
        meetings.mark_held(session, SYSTEM, meeting_id=424242)
    with pytest.raises(NotFound):
        meetings.record_minutes(session, SYSTEM, agenda_item_id=424242, minutes="x")


# --- who sees a meeting --------------------------------------------------------------------------


def test_the_organiser_attendees_chair_and_partnership_roles_see_a_meeting(
    session, marac, idva, police, housing, chair, frozen_clock
):
    organiser_user = factories.user(session, idva)
    police_user = factories.user(session, police)
    housing_user = factories.user(session, housing)
    admin = factories.user(session, housing, Role.PARTNERSHIP_ADMIN)
    outside_chair = factories.user(session, housing, Role.PANEL_MEMBER)
    other = create(session, idva, chair, chair_user_id=outside_chair.id, title="Other")
    meetings.record_attendance(session, SYSTEM, meeting_id=marac.id, agency_id=police.id,
                               name="DS Example", attendance=Attendance.APOLOGIES)

    def visible(user):
        return set(session.scalars(select(Meeting.id).where(meetings.visible_meetings(user))))

    assert visible(organiser_user) == {marac.id, other.id}
    assert visible(police_user) == {marac.id}
    assert visible(housing_user) == set()
    assert visible(outside_chair) == {other.id}
    assert visible(admin) == {marac.id, other.id}
    assert meetings.can_see_meeting(police_user, marac)
    assert not meetings.can_see_meeting(housing_user, marac)
    assert meetings.can_see_meeting(outside_chair, other)
    assert meetings.can_see_meeting(admin, marac)
    assert not meetings.can_run_meeting(organiser_user, marac), "practitioners only read"
    assert meetings.can_run_meeting(chair, marac)
    assert not meetings.can_run_meeting(outside_chair, marac)


def test_meetings_for_splits_upcoming_from_past(session, marac, idva, chair, frozen_clock):
    later = create(session, idva, chair, title="April",
                   scheduled_for=at_local(date(2026, 4, 9)))
    cancelled = create(session, idva, chair, title="Cancelled",
                       scheduled_for=at_local(date(2026, 3, 19)))
    meetings.cancel_meeting(session, SYSTEM, meeting_id=cancelled.id)
    upcoming, past = meetings.meetings_for(session, chair)
    assert [m.id for m in upcoming] == [marac.id, later.id]
    assert [m.id for m in past] == [cancelled.id]
    frozen_clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    upcoming, past = meetings.meetings_for(session, chair)
    assert [m.id for m in upcoming] == [later.id]
    assert [m.id for m in past] == [cancelled.id, marac.id]
    assert meetings.agenda_counts(session, [marac.id]) == {}


# --- attendance -----------------------------------------------------------------------------------


def test_attendance_is_recorded_and_recording_it_again_updates_the_row(
    session, marac, police, frozen_clock
):
    officer = factories.user(session, police)
    first = meetings.record_attendance(
        session, SYSTEM, meeting_id=marac.id, agency_id=police.id, user_id=officer.id,
        attendance=Attendance.PRESENT, confidentiality_signed=True,
    )
    named = meetings.record_attendance(
        session, SYSTEM, meeting_id=marac.id, agency_id=police.id, name="PC Visitor",
        attendance="absent", information_sent=True,
    )
    again = meetings.record_attendance(
        session, SYSTEM, meeting_id=marac.id, agency_id=police.id, user_id=officer.id,
        attendance=Attendance.PRESENT, confidentiality_signed=True, information_sent=True,
    )
    session.commit()
    assert again.id == first.id
    assert [a.id for a in marac.attendees] == [first.id, named.id]
    assert (first.information_sent, first.confidentiality_signed) == (True, True)
    assert (named.attendance, named.information_sent) == (Attendance.ABSENT, True)
    entries = audit_entries(session, entity_type="meeting_attendees")
    assert [e.action for e in entries] == [AuditAction.CREATE, AuditAction.CREATE,
                                           AuditAction.UPDATE]


def test_attendance_problems_are_named(session, marac, police, housing, frozen_clock):
    officer = factories.user(session, housing)

    def attempt(**values):
        with pytest.raises(InvalidRequest) as caught:
            meetings.record_attendance(session, SYSTEM, meeting_id=marac.id,
                                       **({"agency_id": police.id, "name": "A Person",
                                           "attendance": "present"} | values))
        return errors_of(caught)

    assert attempt(agency_id=None) == {"agency"}
    assert attempt(agency_id=987654) == {"agency"}
    assert attempt(name="  ") == {"name"}
    assert attempt(name="n" * 201) == {"name"}
    assert attempt(user_id=officer.id, name=None) == {"user"}
    assert attempt(user_id=987654) == {"user"}
    assert attempt(attendance="asleep") == {"attendance"}
    assert attempt(attendance="apologies", confidentiality_signed=True) == {
        "confidentiality_signed"}
    assert marac.attendees == []


# --- the agenda -----------------------------------------------------------------------------------


def test_cases_join_the_agenda_in_order_once_each(session, marac, idva, frozen_clock):
    first = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    second = builders.marac_case(session, idva)
    one = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=first.id,
                                 reason=" Listed ")
    two = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=second.id,
                                 reason="Referred")
    session.commit()
    assert (one.position, two.position) == (1, 2)
    assert one.reason == "Listed"
    [entry] = audit_entries(session, entity_type="meeting_agenda_items",
                            entity_id=str(one.id))
    assert entry.case_id == first.id
    with pytest.raises(InvalidRequest) as caught:
        meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=first.id,
                               reason="Again")
    assert caught.value.field_errors["case"].endswith("already on the agenda")


def test_agenda_problems_are_named(session, marac, idva, frozen_clock):
    case = builders.marac_case(session, idva)

    def attempt(**values):
        with pytest.raises(InvalidRequest) as caught:
            meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id,
                                   **({"case_id": case.id, "reason": "Listed"} | values))
        return errors_of(caught)

    assert attempt(case_id=None) == {"case"}
    assert attempt(case_id=987654) == {"case"}
    assert attempt(reason=" ") == {"reason"}
    assert attempt(reason="r" * 201) == {"reason"}
    assert attempt(case_id=None, reason="") == {"case", "reason"}
    closed = close_case(session, SYSTEM, case_id=case.id, expected_version=case.version,
                        reason="Moved away")
    assert closed.status is CaseStatus.CLOSED
    with pytest.raises(InvalidRequest) as caught:
        meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                               reason="Listed")
    assert "closed" in caught.value.field_errors["case"]
    with pytest.raises(NotFound):
        meetings.add_to_agenda(session, SYSTEM, meeting_id=424242, case_id=case.id,
                               reason="x")


def test_items_move_and_leave_the_agenda_which_is_renumbered(
    session, marac, idva, frozen_clock
):
    cases = [builders.marac_case(session, idva) for _ in range(3)]
    items = [meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=c.id,
                                    reason="Referred") for c in cases]
    meetings.move_agenda_item(session, SYSTEM, agenda_item_id=items[2].id, direction="up")
    assert [i.position for i in items] == [1, 3, 2]
    meetings.move_agenda_item(session, SYSTEM, agenda_item_id=items[0].id, direction="up")
    assert items[0].position == 1, "the first item cannot go higher"
    with pytest.raises(InvalidRequest):
        meetings.move_agenda_item(session, SYSTEM, agenda_item_id=items[0].id,
                                  direction="sideways")
    meetings.remove_from_agenda(session, SYSTEM, agenda_item_id=items[0].id)
    session.commit()
    remaining = sorted(marac.agenda, key=lambda i: i.position)
    assert [(i.id, i.position) for i in remaining] == [(items[2].id, 1), (items[1].id, 2)]
    assert session.get(AgendaItem, items[0].id) is None
    deleted = audit_entries(session, entity_type="meeting_agenda_items",
                            action=AuditAction.DELETE)
    assert [e.case_id for e in deleted] == [cases[0].id]


def test_an_item_with_actions_raised_stays_on_the_agenda(
    session, marac, idva, police, frozen_clock
):
    case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    item = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                                  reason="Listed")
    meetings.raise_action(session, SYSTEM, agenda_item_id=item.id, title="Flag the address",
                          assigned_agency_id=police.id,
                          due_at=frozen_clock.now() + timedelta(days=20))
    with pytest.raises(InvalidState, match="Actions were raised"):
        meetings.remove_from_agenda(session, SYSTEM, agenda_item_id=item.id)


# --- suggestions -------------------------------------------------------------------------------


def suggested(session, user, meeting):
    return {s.case.id: s.reason for s in meetings.suggested_agenda(session, user, meeting)}


def test_marac_suggests_cases_listed_for_its_date_or_waiting_to_be_listed(
    session, marac, idva, police, chair, frozen_clock
):
    listed = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    waiting = builders.marac_case(session, idva)
    other_date = builders.marac_case(session, idva, listed_for=date(2026, 4, 9))
    asb = builders.high_risk_asb(session, idva)
    closed = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    close_case(session, SYSTEM, case_id=closed.id, expected_version=closed.version,
               reason="Moved away")
    found = suggested(session, chair, marac)
    assert found == {listed.id: "Listed for this meeting",
                     waiting.id: "Referred to MARAC: waiting to be listed"}
    assert other_date.id not in found
    assert asb.id not in found
    # Only cases the user may see: another agency's member sees its own case only.
    victim_service = factories.agency(session, AgencyType.VICTIM_SERVICE)
    own = builders.marac_case(session, victim_service, listed_for=MEETING_DAY)
    outsider = factories.user(session, victim_service, Role.PANEL_MEMBER)
    assert suggested(session, outsider, marac) == {own.id: "Listed for this meeting"}
    admin = factories.user(session, police, Role.PARTNERSHIP_ADMIN)
    assert set(suggested(session, admin, marac)) == {listed.id, waiting.id, own.id}
    meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=listed.id,
                           reason="Listed")
    assert listed.id not in suggested(session, chair, marac), "already on the agenda"


def test_marac_suggests_cases_with_actions_outstanding_from_an_earlier_meeting(
    session, marac, idva, police, chair, frozen_clock
):
    case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    done_case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    item = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                                  reason="Listed")
    done_item = meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id,
                                       case_id=done_case.id, reason="Listed")
    due = frozen_clock.now() + timedelta(days=20)
    meetings.raise_action(session, SYSTEM, agenda_item_id=item.id, title="Safety plan",
                          assigned_agency_id=police.id, due_at=due)
    finished = meetings.raise_action(session, SYSTEM, agenda_item_id=done_item.id,
                                     title="Visit", assigned_agency_id=police.id, due_at=due)
    respond_to_action(session, SYSTEM, action_id=finished.id, status=ActionStatus.DONE,
                      outcome="Visited")
    april = builders.meeting(session, idva, chair.id, on=date(2026, 4, 9))
    found = suggested(session, chair, april)
    assert found.get(case.id) == "Actions outstanding from an earlier meeting"
    assert done_case.id not in found
    asbrac = builders.meeting(session, idva, chair.id, on=date(2026, 4, 9),
                              kind=MeetingKind.ASBRAC)
    assert case.id not in suggested(session, chair, asbrac), "only meetings of the same kind"


def test_case_review_panel_suggests_applications_at_threshold_or_review(
    session, idva, police, frozen_clock
):
    chair = factories.user(session, police, Role.MANAGER)
    panel = builders.meeting(session, police, chair.id, kind=MeetingKind.CASE_REVIEW_PANEL)
    at_threshold = builders.case_review_at_threshold(session, police)
    factories.open_case(session, SYSTEM, case_type="asb_case_review", title="New application",
                        owning_agency_id=police.id)  # not at the panel's stages yet
    builders.high_risk_asb(session, police)  # not a Case Review
    assert suggested(session, chair, panel) == {at_threshold.id: "Threshold decision due"}


@pytest.mark.parametrize("kind", [MeetingKind.ASBRAC, MeetingKind.VULNERABLE_PERSONS_PANEL])
def test_risk_panels_suggest_high_risk_cases_and_reviews_due_before_them(
    session, police, frozen_clock, kind
):
    chair = factories.user(session, police, Role.MANAGER)
    high_asb = builders.high_risk_asb(session, police)
    high_hate = factories.open_case(session, SYSTEM, case_type="hate_crime",
                                    title="Hate incident", owning_agency_id=police.id,
                                    risk_level=RiskLevel.HIGH)
    standard = advance_asb(session, factories.asb_case(session, police), to="respond")
    marac_case = builders.marac_case(session, police, listed_for=MEETING_DAY)
    soon = builders.meeting(session, police, chair.id, kind=kind, on=MEETING_DAY)
    after_review = builders.meeting(session, police, chair.id, kind=kind,
                                    on=date(2026, 5, 7))
    assert suggested(session, chair, soon) == {high_asb.id: "High risk",
                                               high_hate.id: "High risk"}
    later = suggested(session, chair, after_review)
    assert later[standard.id] == "Review due before the meeting"
    assert marac_case.id not in later
    order = [s.case.id for s in meetings.suggested_agenda(session, chair, after_review)]
    assert order.index(high_asb.id) < order.index(standard.id), "highest risk first"


def test_other_meetings_suggest_only_outstanding_actions(session, police, frozen_clock):
    chair = factories.user(session, police, Role.MANAGER)
    builders.high_risk_asb(session, police)
    other = builders.meeting(session, police, chair.id, kind=MeetingKind.OTHER)
    assert suggested(session, chair, other) == {}


# --- minutes and actions -------------------------------------------------------------------------


@pytest.fixture
def item(session, marac, idva, frozen_clock):
    case = builders.marac_case(session, idva, listed_for=MEETING_DAY)
    return meetings.add_to_agenda(session, SYSTEM, meeting_id=marac.id, case_id=case.id,
                                  reason="Listed for this meeting")


def test_minutes_are_recorded_per_case_and_audited(session, item, frozen_clock):
    meetings.record_minutes(session, SYSTEM, agenda_item_id=item.id, minutes=" Risks heard ")
    session.commit()
    assert (item.minutes, item.discussed) == ("Risks heard", True)
    [entry] = audit_entries(session, entity_type="meeting_agenda_items",
                            action=AuditAction.UPDATE)
    assert entry.case_id == item.case_id
    meetings.record_minutes(session, SYSTEM, agenda_item_id=item.id,
                            minutes="The IDVA could not attend", discussed=False)
    assert (item.minutes, item.discussed) == ("The IDVA could not attend", False)


def test_minutes_cannot_be_blank_whether_discussed_or_not(session, item, frozen_clock):
    with pytest.raises(InvalidRequest) as caught:
        meetings.record_minutes(session, SYSTEM, agenda_item_id=item.id, minutes="  ")
    assert caught.value.field_errors == {"minutes": "Write the minutes for this case"}
    with pytest.raises(InvalidRequest) as caught:
        meetings.record_minutes(session, SYSTEM, agenda_item_id=item.id, minutes="",
                                discussed=False)
    assert caught.value.field_errors == {"minutes": "Say why the case was not discussed"}


def test_an_action_raised_at_the_meeting_lands_in_the_agencys_queue_with_a_notification(
    session, item, housing, frozen_clock
):
    action = meetings.raise_action(
        session, SYSTEM, agenda_item_id=item.id, title="Change the locks",
        assigned_agency_id=housing.id, due_at=frozen_clock.now() + timedelta(days=10),
        detail=" Before the perpetrator's release ",
    )
    session.commit()
    queue = session.scalars(
        select(Action).where(Action.assigned_agency_id == housing.id,
                             Action.status == ActionStatus.OPEN)
    ).all()
    assert queue == [action]
    assert action.agenda_item_id == item.id
    assert action.case_id == item.case_id
    assert action.detail == "Before the perpetrator's release"
    message = session.scalar(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"action-assigned:{action.id}"))
    assert message is not None
    assert message.kind is EffectKind.NOTIFY_AGENCY
    assert meetings.actions_raised(session, item) == [action]
    entries = audit_entries(session, entity_type="actions", entity_id=str(action.id))
    assert [e.action for e in entries] == [AuditAction.CREATE, AuditAction.UPDATE]
    assert all(e.case_id == item.case_id for e in entries)


def test_action_problems_are_named(session, item, housing, frozen_clock):
    def attempt(**values):
        with pytest.raises(InvalidRequest) as caught:
            meetings.raise_action(session, SYSTEM, agenda_item_id=item.id, **(
                {"title": "Visit", "assigned_agency_id": housing.id,
                 "due_at": frozen_clock.now() + timedelta(days=3)} | values))
        return errors_of(caught)

    assert attempt(title=" ") == {"title"}
    assert attempt(assigned_agency_id=None) == {"assigned_agency"}
    assert attempt(assigned_agency_id=987654) == {"assigned_agency"}
    assert attempt(due_at=None) == {"due_at"}
    assert attempt(due_at=frozen_clock.now() - timedelta(days=1)) == {"due_at"}
    assert attempt(title="", assigned_agency_id=None,
                   due_at=frozen_clock.now() - timedelta(days=1)) == {
        "title", "assigned_agency", "due_at"}
    assert session.scalar(select(Action).where(Action.agenda_item_id == item.id)) is None


# --- reviewing last time's actions ---------------------------------------------------------------


@pytest.fixture
def last_time(session, item, police, housing, frozen_clock):
    """Three actions raised at the March MARAC: one outstanding, one declined, one done."""
    due = frozen_clock.now() + timedelta(days=20)
    open_one = meetings.raise_action(session, SYSTEM, agenda_item_id=item.id,
                                     title="Flag the address", assigned_agency_id=police.id,
                                     due_at=due)
    declined = meetings.raise_action(session, SYSTEM, agenda_item_id=item.id,
                                     title="Rehouse", assigned_agency_id=housing.id, due_at=due)
    done = meetings.raise_action(session, SYSTEM, agenda_item_id=item.id, title="Visit",
                                 assigned_agency_id=police.id, due_at=due)
    respond_to_action(session, SYSTEM, action_id=declined.id, status=ActionStatus.DECLINED,
                      reason="No stock")
    respond_to_action(session, SYSTEM, action_id=done.id, status=ActionStatus.DONE,
                      outcome="Visited")
    return open_one, declined, done


def test_incomplete_actions_from_the_last_meeting_are_listed_on_the_next(
    session, item, last_time, idva, chair, frozen_clock
):
    open_one, declined, _done = last_time
    april = builders.meeting(session, idva, chair.id, on=date(2026, 4, 9))
    cancelled = builders.meeting(session, idva, chair.id, on=date(2026, 3, 26))
    meetings.add_to_agenda(session, SYSTEM, meeting_id=cancelled.id, case_id=item.case_id,
                           reason="Listed")
    meetings.cancel_meeting(session, SYSTEM, meeting_id=cancelled.id)
    next_item = meetings.add_to_agenda(session, SYSTEM, meeting_id=april.id,
                                       case_id=item.case_id, reason="Actions outstanding")
    assert meetings.previous_agenda_item(session, next_item).id == item.id
    listed = meetings.incomplete_actions(session, next_item)
    assert [(i.action.id, i.classification) for i in listed] == [
        (open_one.id, None), (declined.id, None)]
    assert meetings.incomplete_actions(session, item) == [], "nothing before the first"


def test_each_incomplete_action_is_accounted_for_one_of_two_ways(
    session, item, last_time, idva, chair, frozen_clock
):
    open_one, declined, _done = last_time
    april = builders.meeting(session, idva, chair.id, on=date(2026, 4, 9))
    next_item = meetings.add_to_agenda(session, SYSTEM, meeting_id=april.id,
                                       case_id=item.case_id, reason="Actions outstanding")
    update = meetings.record_action_review(
        session, SYSTEM, agenda_item_id=next_item.id, action_id=open_one.id,
        classification=meetings.AGENCY_DID_NOT_ACT, note=" No reply from the officer ",
    )
    meetings.record_action_review(
        session, SYSTEM, agenda_item_id=next_item.id, action_id=declined.id,
        classification=meetings.CIRCUMSTANCES_CHANGED,
    )
    session.commit()
    assert update.body.startswith("Agency did not act (reviewed at meeting")
    assert update.body.endswith(": No reply from the officer")
    listed = {i.action.id: i.classification
              for i in meetings.incomplete_actions(session, next_item)}
    assert listed == {open_one.id: meetings.AGENCY_DID_NOT_ACT,
                      declined.id: meetings.CIRCUMSTANCES_CHANGED}
    [entry] = audit_entries(session, entity_type="action_updates",
                            entity_id=str(update.id))
    assert (entry.case_id, entry.action) == (item.case_id, AuditAction.CREATE)
    # A second look at the same meeting supersedes the first.
    meetings.record_action_review(
        session, SYSTEM, agenda_item_id=next_item.id, action_id=open_one.id,
        classification=meetings.CIRCUMSTANCES_CHANGED,
    )
    listed = {i.action.id: i.classification
              for i in meetings.incomplete_actions(session, next_item)}
    assert listed[open_one.id] == meetings.CIRCUMSTANCES_CHANGED
    assert len(session.scalars(select(ActionUpdate).where(
        ActionUpdate.action_id == open_one.id)).all()) == 2


def test_an_action_review_must_be_one_of_the_two_and_about_last_times_actions(
    session, item, last_time, idva, chair, frozen_clock
):
    open_one, _declined, done = last_time
    april = builders.meeting(session, idva, chair.id, on=date(2026, 4, 9))
    next_item = meetings.add_to_agenda(session, SYSTEM, meeting_id=april.id,
                                       case_id=item.case_id, reason="Actions outstanding")
    with pytest.raises(InvalidRequest) as caught:
        meetings.record_action_review(session, SYSTEM, agenda_item_id=next_item.id,
                                      action_id=open_one.id, classification="forgot")
    assert errors_of(caught) == {f"review-{open_one.id}"}
    with pytest.raises(InvalidState):
        meetings.record_action_review(session, SYSTEM, agenda_item_id=next_item.id,
                                      action_id=done.id,
                                      classification=meetings.CIRCUMSTANCES_CHANGED)
    with pytest.raises(NotFound):
        meetings.record_action_review(session, SYSTEM, agenda_item_id=item.id,
                                      action_id=open_one.id,
                                      classification=meetings.CIRCUMSTANCES_CHANGED)
    with pytest.raises(NotFound):
        meetings.record_action_review(session, SYSTEM, agenda_item_id=next_item.id,
                                      action_id=987654,
                                      classification=meetings.CIRCUMSTANCES_CHANGED)

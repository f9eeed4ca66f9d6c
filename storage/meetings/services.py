"""Write paths (and the shared read rules) for panels and meetings: MARAC, ASBRAC, the ASB
Case Review panel and the vulnerable persons panel.

A meeting has an agenda of cases, a record of which agencies attended (and signed the
confidentiality statement, sent apologies, sent information in), minutes per case, and the
actions that leave the room with an owner. Actions raised at a meeting are ordinary case
actions (storage.cases.services.assign_action: the agency's inbox and an outbox
notification) that remember the agenda item they came from, so the next meeting of the same
kind can review the ones still incomplete, each as "circumstances changed" or "agency did
not act" (shared/domain.md, MARAC minutes).

Each function flushes and leaves the commit to its caller; every change is audited, with the
case when one is involved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from casebridge import clock
from storage.access import sees_everything, visible_cases
from storage.accounts.models import Role, User
from storage.actors import Actor
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import changed_fields, record, snapshot
from storage.cases import services as case_services
from storage.cases.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Case,
    CaseStatus,
    RiskLevel,
    StageStatus,
)
from storage.cases.workflow import next_review_times
from storage.errors import InvalidRequest, InvalidState, NotFound
from storage.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingAttendee,
    MeetingKind,
    MeetingStatus,
)

# The partnership's time zone when the caller does not say (casebridge.settings' default):
# "today" and "the meeting's date" are local dates.
DEFAULT_ZONE = ZoneInfo("Europe/London")

# Who may plan and run meetings (record attendance, minutes and actions).
MEETING_ROLES = (Role.MANAGER, Role.PANEL_MEMBER, Role.PARTNERSHIP_ADMIN)

MEETING_FIELDS = ["kind", "title", "scheduled_for", "venue", "chair_user_id",
                  "organiser_agency_id", "status"]
ATTENDEE_FIELDS = ["agency_id", "user_id", "name", "attendance", "confidentiality_signed",
                   "information_sent"]

# How an incomplete action from the last meeting is accounted for at this one.
CIRCUMSTANCES_CHANGED = "circumstances_changed"
AGENCY_DID_NOT_ACT = "agency_did_not_act"
REVIEW_CLASSIFICATIONS = {
    CIRCUMSTANCES_CHANGED: "Circumstances changed",
    AGENCY_DID_NOT_ACT: "Agency did not act",
}
_REVIEW_BODY = re.compile(
    r"^(?P<label>Circumstances changed|Agency did not act) \(reviewed at meeting "
    r"(?P<meeting>\d+), agenda item (?P<item>\d+)\)"
)

# MARAC stages between a case being listed and being heard: a case in one of these, listed
# for the meeting's date, is expected at that meeting.
MARAC_LISTED_STAGES = frozenset({
    "research_police", "research_health", "research_council", "research_housing",
    "idva_before", "meeting",
})
CASE_REVIEW_PANEL_STAGES = {
    "threshold_decision": "Threshold decision due",
    "review_meeting": "Case Review meeting due",
}
RISK_PANEL_CASE_TYPES = ("asb", "hate_crime")
# Recurring stages that are not a review of the case (the victim's regular update).
NOT_PANEL_REVIEWS = frozenset({"victim_update"})

MAX_TITLE = 200
MAX_VENUE = 200
MAX_REASON = 200
MAX_NAME = 200


# --- who sees and runs meetings -----------------------------------------------------------


def visible_meetings(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Meeting: the organiser's agency, the agencies recorded as attending
    (present, apologies or absent: invited), and the chair see a meeting; partnership-wide
    roles see them all."""
    if sees_everything(user):
        return true()
    attends = exists(
        select(MeetingAttendee.id).where(
            MeetingAttendee.meeting_id == Meeting.id,
            MeetingAttendee.agency_id == user.agency_id,
        )
    )
    return or_(Meeting.organiser_agency_id == user.agency_id,
               Meeting.chair_user_id == user.id, attends)


def can_see_meeting(user: User, meeting: Meeting) -> bool:
    if sees_everything(user) or meeting.organiser_agency_id == user.agency_id:
        return True
    if meeting.chair_user_id is not None and meeting.chair_user_id == user.id:
        return True
    return any(a.agency_id == user.agency_id for a in meeting.attendees)


def can_plan_meetings(user: User) -> bool:
    return any(user.has_role(role) for role in MEETING_ROLES)


def can_run_meeting(user: User, meeting: Meeting) -> bool:
    """Record attendance, the agenda, minutes and actions: a manager, panel member or
    partnership administrator who can see the meeting."""
    return can_plan_meetings(user) and can_see_meeting(user, meeting)


def get_meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("Meeting", meeting_id)
    return meeting


def get_agenda_item(session: Session, agenda_item_id: int) -> AgendaItem:
    item = session.get(AgendaItem, agenda_item_id)
    if item is None:
        raise NotFound("Agenda item", agenda_item_id)
    return item


def local_date(moment: datetime, zone: tzinfo | None = None) -> date:
    return moment.astimezone(zone or DEFAULT_ZONE).date()


# --- meetings -------------------------------------------------------------------------------


def create_meeting(
    session: Session,
    actor: Actor,
    *,
    kind: MeetingKind | str,
    title: str,
    scheduled_for: datetime | None,
    venue: str | None,
    chair_user_id: int | None,
    organiser_agency_id: int,
) -> Meeting:
    """Plan a meeting: today or later, chaired by someone with an active account."""
    errors: dict[str, str] = {}
    try:
        kind = MeetingKind(kind)
    except ValueError:
        errors["kind"] = "Choose the kind of meeting"
    title = (title or "").strip()
    if not title:
        errors["title"] = "Enter a title for the meeting"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"The title must be {MAX_TITLE} characters or fewer"
    if scheduled_for is None:
        errors["scheduled_for"] = "Enter the date and time of the meeting"
    elif scheduled_for.tzinfo is None:
        errors["scheduled_for"] = "The meeting time needs a time zone"
    elif scheduled_for.date() < clock.now().astimezone(scheduled_for.tzinfo).date():
        errors["scheduled_for"] = "The meeting date must be today or in the future"
    venue = (venue or "").strip() or None
    if venue is not None and len(venue) > MAX_VENUE:
        errors["venue"] = f"The venue must be {MAX_VENUE} characters or fewer"
    if chair_user_id is None:
        errors["chair"] = "Choose who chairs the meeting"
    else:
        chair = session.get(User, chair_user_id)
        if chair is None or not chair.active:
            errors["chair"] = "Choose a chair with an active account in the partnership"
    organiser = session.get(Agency, organiser_agency_id)
    if organiser is None or not organiser.active:
        errors["organiser_agency"] = "Choose an active agency to organise the meeting"
    if errors:
        raise InvalidRequest(errors)
    assert scheduled_for is not None
    meeting = Meeting(
        kind=kind, title=title, scheduled_for=scheduled_for, venue=venue,
        chair_user_id=chair_user_id, organiser_agency_id=organiser_agency_id,
        status=MeetingStatus.PLANNED, created_by_id=actor.user_id,
    )
    session.add(meeting)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=meeting,
           after=snapshot(meeting, MEETING_FIELDS))
    return meeting


def mark_held(
    session: Session, actor: Actor, *, meeting_id: int, general_minutes: str | None = None,
    zone: tzinfo | None = None,
) -> Meeting:
    """The meeting took place (on or after its date)."""
    meeting = get_meeting(session, meeting_id)
    if meeting.status is not MeetingStatus.PLANNED:
        raise InvalidState(f"The meeting is {meeting.status.value}: only a planned meeting "
                           "can be marked as held")
    if local_date(meeting.scheduled_for, zone) > local_date(clock.now(), zone):
        raise InvalidState("The meeting has not happened yet: mark it as held on or after "
                           "its date")
    before = snapshot(meeting, [*MEETING_FIELDS, "general_minutes"])
    meeting.status = MeetingStatus.HELD
    if general_minutes is not None and general_minutes.strip():
        meeting.general_minutes = general_minutes.strip()
    session.flush()
    old, new = changed_fields(before, snapshot(meeting, [*MEETING_FIELDS, "general_minutes"]))
    record(session, actor, AuditAction.UPDATE, entity=meeting, before=old, after=new)
    return meeting


def cancel_meeting(
    session: Session, actor: Actor, *, meeting_id: int, reason: str | None = None
) -> Meeting:
    meeting = get_meeting(session, meeting_id)
    if meeting.status is not MeetingStatus.PLANNED:
        raise InvalidState(f"The meeting is {meeting.status.value}: only a planned meeting "
                           "can be cancelled")
    meeting.status = MeetingStatus.CANCELLED
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=meeting,
           before={"status": MeetingStatus.PLANNED.value},
           after={"status": MeetingStatus.CANCELLED.value},
           detail={"reason": reason.strip()} if reason and reason.strip() else None)
    return meeting


cancel = cancel_meeting


def _require_not_cancelled(meeting: Meeting) -> None:
    if meeting.status is MeetingStatus.CANCELLED:
        raise InvalidState("The meeting was cancelled: nothing more can be recorded for it")


def _require_planned(meeting: Meeting) -> None:
    if meeting.status is not MeetingStatus.PLANNED:
        raise InvalidState(f"The meeting is {meeting.status.value}: its agenda can only be "
                           "changed while it is planned")


# --- attendance -----------------------------------------------------------------------------


def record_attendance(
    session: Session,
    actor: Actor,
    *,
    meeting_id: int,
    agency_id: int | None,
    user_id: int | None = None,
    name: str | None = None,
    attendance: Attendance | str,
    confidentiality_signed: bool = False,
    information_sent: bool = False,
) -> MeetingAttendee:
    """Record who came for an agency (or its apologies), whether they signed the
    confidentiality statement and whether information was sent in. Recording the same
    person for the same agency again updates their row."""
    meeting = get_meeting(session, meeting_id)
    _require_not_cancelled(meeting)
    errors: dict[str, str] = {}
    agency = session.get(Agency, agency_id) if agency_id is not None else None
    if agency is None or not agency.active:
        errors["agency"] = "Choose the agency"
    name = (name or "").strip() or None
    if user_id is not None:
        person = session.get(User, user_id)
        if person is None or not person.active:
            errors["user"] = "Choose someone with an active account"
        elif agency is not None and person.agency_id != agency.id:
            errors["user"] = "Choose someone who works for that agency"
    elif name is None:
        errors["name"] = "Enter the name of the person attending, or choose them from the list"
    if name is not None and len(name) > MAX_NAME:
        errors["name"] = f"The name must be {MAX_NAME} characters or fewer"
    try:
        attendance = Attendance(attendance)
    except ValueError:
        errors["attendance"] = "Choose whether they were present, sent apologies or were absent"
    else:
        if confidentiality_signed and attendance is not Attendance.PRESENT:
            errors["confidentiality_signed"] = (
                "Only someone present signs the confidentiality statement"
            )
    if errors:
        raise InvalidRequest(errors)
    assert agency is not None
    existing = next(
        (a for a in meeting.attendees
         if a.agency_id == agency.id
         and ((user_id is not None and a.user_id == user_id)
              or (user_id is None and a.user_id is None
                  and (a.name or "").casefold() == (name or "").casefold()))),
        None,
    )
    if existing is not None:
        before = snapshot(existing, ATTENDEE_FIELDS)
        existing.attendance = attendance
        existing.confidentiality_signed = confidentiality_signed
        existing.information_sent = information_sent
        if name is not None:
            existing.name = name
        session.flush()
        old, new = changed_fields(before, snapshot(existing, ATTENDEE_FIELDS))
        record(session, actor, AuditAction.UPDATE, entity=existing, before=old, after=new,
               detail={"meeting_id": meeting.id})
        return existing
    attendee = MeetingAttendee(
        agency_id=agency.id, user_id=user_id, name=name, attendance=attendance,
        confidentiality_signed=confidentiality_signed, information_sent=information_sent,
    )
    meeting.attendees.append(attendee)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=attendee,
           after=snapshot(attendee, ATTENDEE_FIELDS), detail={"meeting_id": meeting.id})
    return attendee


# --- the agenda -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    case: Case
    reason: str


def suggested_agenda(
    session: Session, user: User, meeting: Meeting, *, zone: tzinfo | None = None
) -> list[Suggestion]:
    """Cases due for review at, or referred to, this meeting that are not on its agenda yet,
    among the cases `user` may see (highest risk first).

    - MARAC: cases listed for the meeting's date and not heard yet, cases waiting to be
      listed, and cases with actions outstanding from an earlier MARAC;
    - Case Review panel: applications waiting for a threshold decision or a review meeting;
    - ASBRAC and vulnerable persons panel: ASB and hate crime cases at high risk, or whose
      next review falls before the meeting;
    - every kind: cases with actions still outstanding from an earlier meeting of the kind.
    """
    meeting_day = local_date(meeting.scheduled_for, zone)
    on_agenda = select(AgendaItem.case_id).where(AgendaItem.meeting_id == meeting.id)
    base = (
        select(Case)
        .where(visible_cases(user), Case.status != CaseStatus.CLOSED,
               Case.id.not_in(on_agenda))
        .options(selectinload(Case.stages))
    )
    found: dict[int, Suggestion] = {}

    def suggest(case: Case, reason: str) -> None:
        if case.id not in found:
            found[case.id] = Suggestion(case, reason)

    if meeting.kind is MeetingKind.MARAC:
        for case in session.scalars(base.where(Case.case_type == "marac")):
            reason = _marac_reason(case, meeting_day)
            if reason:
                suggest(case, reason)
    elif meeting.kind is MeetingKind.CASE_REVIEW_PANEL:
        for case in session.scalars(base.where(Case.case_type == "asb_case_review")):
            for stage in case.active_stages:
                if stage.stage_key in CASE_REVIEW_PANEL_STAGES:
                    suggest(case, CASE_REVIEW_PANEL_STAGES[stage.stage_key])
                    break
    elif meeting.kind in (MeetingKind.ASBRAC, MeetingKind.VULNERABLE_PERSONS_PANEL):
        for case in session.scalars(base.where(Case.case_type.in_(RISK_PANEL_CASE_TYPES))):
            reason = _risk_panel_reason(case, meeting.scheduled_for)
            if reason:
                suggest(case, reason)

    earlier = (
        select(Action.case_id)
        .join(AgendaItem, Action.agenda_item_id == AgendaItem.id)
        .join(Meeting, AgendaItem.meeting_id == Meeting.id)
        .where(Meeting.kind == meeting.kind, Meeting.id != meeting.id,
               Meeting.status != MeetingStatus.CANCELLED,
               Meeting.scheduled_for < meeting.scheduled_for,
               Action.status.in_(case_services.OUTSTANDING_ACTIONS))
    )
    for case in session.scalars(base.where(Case.id.in_(earlier))):
        suggest(case, "Actions outstanding from an earlier meeting")

    risk_order = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.STANDARD: 2, None: 3}
    return sorted(found.values(),
                  key=lambda s: (risk_order[s.case.risk_level], s.case.reference))


def _marac_reason(case: Case, meeting_day: date) -> str | None:
    completed = [s for s in case.stages
                 if s.stage_key == "listing" and s.status is StageStatus.COMPLETED]
    active_keys = {s.stage_key for s in case.active_stages}
    if completed and active_keys & MARAC_LISTED_STAGES:
        latest = max(completed, key=lambda s: (s.completed_at, s.sequence))
        listed_for = (latest.form_data or {}).get("meeting_date")
        if listed_for and str(listed_for)[:10] == meeting_day.isoformat():
            return "Listed for this meeting"
    if "listing" in active_keys:
        return "Referred to MARAC: waiting to be listed"
    return None


def _risk_panel_reason(case: Case, scheduled_for: datetime) -> str | None:
    if case.risk_level is RiskLevel.HIGH:
        return "High risk"
    if any(s.stage_key == "review" for s in case.active_stages):
        return "Review due"
    reviews = [at for key, at in next_review_times(case).items()
               if key not in NOT_PANEL_REVIEWS]
    if reviews and min(reviews) <= scheduled_for:
        return "Review due before the meeting"
    return None


def add_to_agenda(
    session: Session, actor: Actor, *, meeting_id: int, case_id: int | None, reason: str
) -> AgendaItem:
    """Put a case on the agenda, after the ones already there."""
    meeting = get_meeting(session, meeting_id)
    _require_planned(meeting)
    errors: dict[str, str] = {}
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None:
        errors["case"] = "Choose a case to add"
    elif case.status is CaseStatus.CLOSED:
        errors["case"] = f"{case.reference} is closed: reopen it before listing it"
    elif any(item.case_id == case.id for item in meeting.agenda):
        errors["case"] = f"{case.reference} is already on the agenda"
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Say why the case is on the agenda"
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"The reason must be {MAX_REASON} characters or fewer"
    if errors:
        raise InvalidRequest(errors)
    assert case is not None
    position = max((item.position for item in meeting.agenda), default=0) + 1
    item = AgendaItem(case_id=case.id, position=position, reason=reason)
    meeting.agenda.append(item)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=item, case_id=case.id,
           after={"meeting_id": meeting.id, "position": position, "reason": reason})
    return item


def remove_from_agenda(session: Session, actor: Actor, *, agenda_item_id: int) -> None:
    """Take a case off a planned meeting's agenda (not once actions were raised under it)."""
    item = get_agenda_item(session, agenda_item_id)
    meeting = item.meeting
    _require_planned(meeting)
    raised = session.scalar(
        select(func.count()).select_from(Action).where(Action.agenda_item_id == item.id)
    )
    if raised:
        raise InvalidState("Actions were raised under this agenda item: it cannot be removed")
    record(session, actor, AuditAction.DELETE, entity_type=AgendaItem.__tablename__,
           entity_id=item.id, case_id=item.case_id,
           before={"meeting_id": meeting.id, "position": item.position,
                   "reason": item.reason, "minutes": item.minutes})
    meeting.agenda.remove(item)
    session.flush()
    _renumber(meeting)
    session.flush()


def move_agenda_item(
    session: Session, actor: Actor, *, agenda_item_id: int, direction: str
) -> AgendaItem:
    """Move an item one place up or down the agenda."""
    item = get_agenda_item(session, agenda_item_id)
    meeting = item.meeting
    _require_planned(meeting)
    if direction not in ("up", "down"):
        raise InvalidRequest({"direction": "Choose up or down"})
    items = sorted(meeting.agenda, key=lambda i: i.position)
    index = items.index(item)
    other_index = index - 1 if direction == "up" else index + 1
    if not 0 <= other_index < len(items):
        return item
    other = items[other_index]
    before = item.position
    item.position, other.position = other.position, item.position
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=item, case_id=item.case_id,
           before={"position": before}, after={"position": item.position})
    return item


def _renumber(meeting: Meeting) -> None:
    for position, item in enumerate(sorted(meeting.agenda, key=lambda i: i.position), start=1):
        item.position = position


# --- minutes and actions --------------------------------------------------------------------


def record_minutes(
    session: Session, actor: Actor, *, agenda_item_id: int, minutes: str,
    discussed: bool = True,
) -> AgendaItem:
    """The minutes for one case, or why it was not discussed."""
    item = get_agenda_item(session, agenda_item_id)
    _require_not_cancelled(item.meeting)
    text = (minutes or "").strip()
    if not text:
        raise InvalidRequest({"minutes": "Write the minutes for this case" if discussed
                              else "Say why the case was not discussed"})
    before = snapshot(item, ["minutes", "discussed"])
    item.minutes = text or None
    item.discussed = bool(discussed)
    session.flush()
    old, new = changed_fields(before, snapshot(item, ["minutes", "discussed"]))
    record(session, actor, AuditAction.UPDATE, entity=item, case_id=item.case_id,
           before=old, after=new)
    return item


def raise_action(
    session: Session,
    actor: Actor,
    *,
    agenda_item_id: int,
    title: str,
    assigned_agency_id: int | None,
    due_at: datetime | None,
    detail: str | None = None,
) -> Action:
    """An action agreed at the meeting: it lands in the agency's inbox (and its notification
    is queued in the outbox) like any action on the case, and remembers this agenda item."""
    item = get_agenda_item(session, agenda_item_id)
    _require_not_cancelled(item.meeting)
    errors: dict[str, str] = {}
    if assigned_agency_id is None:
        errors["assigned_agency"] = "Choose the agency that will do this"
    if due_at is None:
        errors["due_at"] = "Enter the date the action is due"
    elif due_at.tzinfo is not None and due_at < clock.now():
        errors["due_at"] = "The due date must be in the future"
    if errors:
        if not (title or "").strip():
            errors = {"title": "Say what needs doing"} | errors
        raise InvalidRequest(errors)
    assert assigned_agency_id is not None
    assert due_at is not None
    detail = (detail or "").strip() or None
    action = case_services.assign_action(
        session, actor, case_id=item.case_id, title=title, assigned_agency_id=assigned_agency_id,
        due_at=due_at, detail=detail,
    )
    action.agenda_item_id = item.id
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=action, case_id=item.case_id,
           before={"agenda_item_id": None},
           after={"agenda_item_id": item.id}, detail={"meeting_id": item.meeting_id})
    return action


def actions_raised(session: Session, item: AgendaItem) -> list[Action]:
    return list(session.scalars(
        select(Action).where(Action.agenda_item_id == item.id).order_by(Action.id)
    ))


def previous_agenda_item(session: Session, item: AgendaItem) -> AgendaItem | None:
    """The same case at the last earlier meeting of the same kind (not a cancelled one)."""
    meeting = item.meeting
    return session.scalar(
        select(AgendaItem)
        .join(Meeting, AgendaItem.meeting_id == Meeting.id)
        .where(AgendaItem.case_id == item.case_id, Meeting.kind == meeting.kind,
               Meeting.id != meeting.id, Meeting.status != MeetingStatus.CANCELLED,
               Meeting.scheduled_for < meeting.scheduled_for)
        .order_by(Meeting.scheduled_for.desc(), Meeting.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class IncompleteAction:
    action: Action
    previous_item: AgendaItem
    classification: str | None  # a key of REVIEW_CLASSIFICATIONS once reviewed here


def incomplete_actions(session: Session, item: AgendaItem) -> list[IncompleteAction]:
    """Actions raised for this case at the last meeting of the same kind that are not done
    (still outstanding, or declined), with how this meeting accounted for each so far."""
    previous = previous_agenda_item(session, item)
    if previous is None:
        return []
    actions = session.scalars(
        select(Action)
        .where(Action.agenda_item_id == previous.id, Action.status != ActionStatus.DONE)
        .options(selectinload(Action.updates))
        .order_by(Action.id)
    )
    return [IncompleteAction(a, previous, _classification(a, item)) for a in actions]


def _classification(action: Action, item: AgendaItem) -> str | None:
    for update in reversed(action.updates):
        match = _REVIEW_BODY.match(update.body)
        if match and int(match["item"]) == item.id:
            label = match["label"]
            return next(k for k, v in REVIEW_CLASSIFICATIONS.items() if v == label)
    return None


def record_action_review(
    session: Session,
    actor: Actor,
    *,
    agenda_item_id: int,
    action_id: int,
    classification: str,
    note: str | None = None,
) -> ActionUpdate:
    """Account for an incomplete action from the last meeting: "circumstances changed" or
    "agency did not act". Kept as a progress update on the action (a later review of the
    same action at the same meeting supersedes an earlier one)."""
    item = get_agenda_item(session, agenda_item_id)
    _require_not_cancelled(item.meeting)
    action = session.get(Action, action_id)
    previous = previous_agenda_item(session, item)
    if (action is None or previous is None or action.agenda_item_id != previous.id
            or action.case_id != item.case_id):
        raise NotFound("Incomplete action from the last meeting", action_id)
    if action.status is ActionStatus.DONE:
        raise InvalidState(f"'{action.title}' is done: there is nothing to account for")
    if classification not in REVIEW_CLASSIFICATIONS:
        raise InvalidRequest({
            f"review-{action.id}": "Choose whether circumstances changed or the agency did "
                                   "not act",
        })
    body = (f"{REVIEW_CLASSIFICATIONS[classification]} (reviewed at meeting "
            f"{item.meeting_id}, agenda item {item.id})")
    note = (note or "").strip()
    if note:
        body += f": {note}"
    update = ActionUpdate(action_id=action.id, author_id=actor.user_id, body=body)
    action.updates.append(update)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=update, case_id=action.case_id,
           after={"action_id": action.id, "classification": classification, "body": body,
                  "agenda_item_id": item.id})
    return update


# --- reading for pages ---------------------------------------------------------------------


def meetings_for(
    session: Session, user: User, *, zone: tzinfo | None = None, limit: int = 100
) -> tuple[list[Meeting], list[Meeting]]:
    """(upcoming, past) meetings `user` may see: upcoming are planned from today on, soonest
    first; past are the rest, latest first."""
    today_start = datetime.combine(local_date(clock.now(), zone), time(0),
                                   tzinfo=zone or DEFAULT_ZONE)
    visible = select(Meeting).where(visible_meetings(user))
    is_upcoming = (Meeting.status == MeetingStatus.PLANNED) & (
        Meeting.scheduled_for >= today_start)
    upcoming = list(session.scalars(
        visible.where(is_upcoming).order_by(Meeting.scheduled_for, Meeting.id).limit(limit)
    ))
    past = list(session.scalars(
        visible.where(~is_upcoming)
        .order_by(Meeting.scheduled_for.desc(), Meeting.id.desc()).limit(limit)
    ))
    return upcoming, past


def agenda_counts(session: Session, meeting_ids: Sequence[int]) -> dict[int, int]:
    if not meeting_ids:
        return {}
    rows = session.execute(
        select(AgendaItem.meeting_id, func.count())
        .where(AgendaItem.meeting_id.in_(meeting_ids))
        .group_by(AgendaItem.meeting_id)
    )
    return {row[0]: row[1] for row in rows}


__all__ = [
    "AGENCY_DID_NOT_ACT", "CIRCUMSTANCES_CHANGED", "REVIEW_CLASSIFICATIONS",
    "IncompleteAction", "Suggestion", "actions_raised", "add_to_agenda", "agenda_counts",
    "can_plan_meetings", "can_run_meeting", "can_see_meeting", "cancel",
    "cancel_meeting", "create_meeting", "get_agenda_item", "get_meeting", "incomplete_actions",
    "mark_held", "meetings_for", "move_agenda_item", "previous_agenda_item", "raise_action",
    "record_action_review", "record_attendance", "record_minutes", "remove_from_agenda",
    "suggested_agenda", "visible_meetings",
]

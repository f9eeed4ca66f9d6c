"""Panels and meetings: MARAC, ASBRAC, the ASB Case Review panel and the vulnerable persons
panel. A list of meetings, planning one, the meeting page (details, attendance, the agenda
and the cases suggested for it) and one page per agenda item (the case in brief, its
minutes, last time's incomplete actions and the actions raised now).

Only the organiser's agency, the agencies recorded at the meeting and its chair see a
meeting (partnership-wide roles see all); anyone else gets a 404. A case on the agenda that
the user may not see is shown as restricted, with the agency to ask. Each form posts to its
own address and goes back to the page when it works (post, redirect, get); when it does not,
the page is drawn again with the message next to the field and what was typed kept, as a
4xx, so nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.routing import BuildError

from casebridge import clock
from storage.access import can_see_case
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case, ParticipantRole
from storage.cases.services import case_by_reference
from storage.cases.workflow import definition_for
from storage.errors import InvalidRequest, NotFound, ServiceError
from storage.meetings import services as meetings
from storage.meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingKind,
    MeetingStatus,
)
from web import navigation
from web.auth import current_actor, current_user, requires_role
from web.database import session

from .forms import parse_date, parse_time, to_int, yes

blueprint = Blueprint("panels", __name__)
navigation.add("Meetings", "panels.index")

KIND_CHOICES = [
    (MeetingKind.MARAC, "MARAC", "Multi-agency risk assessment conference: high-risk "
                                 "domestic abuse"),
    (MeetingKind.ASBRAC, "ASBRAC", "Anti-social behaviour risk assessment conference"),
    (MeetingKind.CASE_REVIEW_PANEL, "ASB Case Review panel", "Community Trigger reviews"),
    (MeetingKind.VULNERABLE_PERSONS_PANEL, "Vulnerable persons panel",
     "High-risk and vulnerable victims of ASB and hate crime"),
    (MeetingKind.OTHER, "Another panel or meeting", None),
]
KIND_NAMES = {kind: name for kind, name, _ in KIND_CHOICES}
ATTENDANCE_CHOICES = [
    (Attendance.PRESENT, "Present"),
    (Attendance.APOLOGIES, "Sent apologies"),
    (Attendance.ABSENT, "Absent"),
]
CASE_TYPE_NAMES = {
    "asb": "Anti-social behaviour", "hate_crime": "Hate crime", "marac": "MARAC",
    "asb_case_review": "ASB Case Review", "restorative_justice": "Restorative justice",
}


@blueprint.context_processor
def _helpers() -> dict[str, Any]:
    return {"link_to": link_to, "kind_names": KIND_NAMES,
            "review_labels": meetings.REVIEW_CLASSIFICATIONS}


def link_to(endpoint: str, **values: Any) -> str | None:
    """The address of a page another feature serves, or None while it does not exist."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)


def _form(name: str) -> str:
    return request.form.get(name, "").strip()


# --- the list -------------------------------------------------------------------------------


@blueprint.get("/meetings")
def index() -> Any:
    db, user = session(), current_user()
    upcoming, past = meetings.meetings_for(db, user, zone=_zone())
    counts = meetings.agenda_counts(db, [m.id for m in upcoming + past])
    agencies = _agency_names([m.organiser_agency_id for m in upcoming + past])
    return render_template(
        "panels/index.html", upcoming=upcoming, past=past, counts=counts, agencies=agencies,
        can_plan=meetings.can_plan_meetings(user),
    )


def _agency_names(ids: list[int]) -> dict[int, Agency]:
    if not ids:
        return {}
    rows = session().scalars(select(Agency).where(Agency.id.in_(set(ids))))
    return {agency.id: agency for agency in rows}


# --- planning a meeting -----------------------------------------------------------------------

NEW_FIELDS = {"kind": "kind", "title": "title", "scheduled_for": "scheduled_for",
              "venue": "venue", "chair": "chair", "organiser_agency": "kind"}


@blueprint.route("/meetings/new", methods=["GET", "POST"])
@requires_role(Role.MANAGER, Role.PANEL_MEMBER, Role.PARTNERSHIP_ADMIN)
def new() -> Any:
    db, user = session(), current_user()
    form: Mapping[str, str] = request.form if request.method == "POST" else {
        "chair": str(user.id)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        zone = _zone()
        day, day_problem = parse_date(request.form, "scheduled_for", what="the date of the meeting")
        at, time_problem = parse_time(_form("scheduled_time"), what="the time the meeting starts")
        scheduled_for = (datetime.combine(day, at, tzinfo=zone)
                         if day is not None and at is not None else None)
        try:
            meeting = meetings.create_meeting(
                db, current_actor(), kind=_form("kind"), title=_form("title"),
                scheduled_for=scheduled_for, venue=_form("venue"),
                chair_user_id=to_int(_form("chair")), organiser_agency_id=user.agency_id,
            )
        except InvalidRequest as refused:
            errors = {NEW_FIELDS.get(k, "title"): v for k, v in refused.field_errors.items()}
        else:
            flash(f"{meeting.title} is planned. Add the agencies attending and the cases "
                  "to discuss.", "success")
            return redirect(url_for("panels.show", meeting_id=meeting.id))
        if scheduled_for is None:  # the service could only say "enter it": say what is wrong
            errors.pop("scheduled_for", None)
            if day_problem:
                errors["scheduled_for"] = day_problem
            elif day is not None and day < clock.now().astimezone(zone).date():
                errors["scheduled_for"] = "The meeting date must be today or in the future"
            if time_problem:
                errors["scheduled_time"] = time_problem
        errors = {k: errors[k] for k in
                  ("kind", "title", "scheduled_for", "scheduled_time", "venue", "chair")
                  if k in errors}
    return render_template(
        "panels/new.html", form=form, errors=errors, kind_choices=KIND_CHOICES,
        chairs=_people(db), error_list=_error_list(errors, {"scheduled_for": "scheduled_for-day",
                                                            "kind": "kind"}),
    ), (400 if errors else 200)


def _people(db: Any) -> list[User]:
    return list(db.scalars(select(User).where(User.active.is_(True))
                           .order_by(User.display_name, User.id)))


def _error_list(errors: Mapping[str, str], anchors: Mapping[str, str]) -> list[dict[str, str]]:
    """The error summary's links: each to the first box of its field."""
    return [{"text": message, "href": f"#{anchors.get(field, field)}"}
            for field, message in errors.items()]


# --- the meeting page -------------------------------------------------------------------------


def _meeting(meeting_id: int) -> Meeting:
    """The meeting, or 404 when it does not exist or the user's agency is not part of it."""
    meeting = session().get(Meeting, meeting_id)
    if meeting is None or not meetings.can_see_meeting(current_user(), meeting):
        abort(404)
    return meeting


def _running(meeting_id: int) -> Meeting:
    meeting = _meeting(meeting_id)
    if not meetings.can_run_meeting(current_user(), meeting):
        abort(403)
    return meeting


@dataclass
class AgendaRow:
    item: AgendaItem
    case: Case
    visible: bool
    owner: Agency


def _agenda(meeting: Meeting, user: User) -> list[AgendaRow]:
    db = session()
    items = sorted(meeting.agenda, key=lambda i: i.position)
    cases = {c.id: c for c in db.scalars(
        select(Case).where(Case.id.in_([i.case_id for i in items])))} if items else {}
    return [AgendaRow(item, cases[item.case_id], can_see_case(db, user, cases[item.case_id]),
                      cases[item.case_id].owning_agency) for item in items]


def _render_meeting(meeting: Meeting, *, errors: Mapping[str, str] | None = None,
                    form: Mapping[str, str] | None = None, status: int = 200,
                    problem: str | None = None) -> Any:
    db, user = session(), current_user()
    agenda = _agenda(meeting, user)
    can_run = meetings.can_run_meeting(user, meeting)
    suggestions = (meetings.suggested_agenda(db, user, meeting, zone=_zone())
                   if can_run and meeting.status is MeetingStatus.PLANNED else [])
    record(db, current_actor(), AuditAction.VIEW, entity=meeting,
           detail={"cases_shown": [r.case.id for r in agenda if r.visible]
                   + [s.case.id for s in suggestions]})
    agencies = list(db.scalars(select(Agency).where(Agency.active.is_(True))
                               .order_by(Agency.name)))
    errors = dict(errors or {})
    today = clock.now().astimezone(_zone()).date()
    return render_template(
        "panels/show.html", meeting=meeting, agenda=agenda, suggestions=suggestions,
        can_run=can_run, errors=errors, form=form or {}, problem=problem,
        agencies=agencies, agency_names={a.id: a for a in agencies} | _agency_names(
            [meeting.organiser_agency_id] + [a.agency_id for a in meeting.attendees]),
        people=_people(db) if can_run else [],
        users={u.id: u for u in _users([a.user_id for a in meeting.attendees]
                                       + [meeting.chair_user_id])},
        attendance_choices=ATTENDANCE_CHOICES,
        may_hold=meeting.status is MeetingStatus.PLANNED
        and meeting.scheduled_for.astimezone(_zone()).date() <= today,
        error_list=_error_list(errors, {"agency": "agency", "attendance": "attendance"}),
    ), status


def _users(ids: list[int | None]) -> list[User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return []
    return list(session().scalars(select(User).where(User.id.in_(wanted))))


@blueprint.get("/meetings/<int:meeting_id>")
def show(meeting_id: int) -> Any:
    return _render_meeting(_meeting(meeting_id))


def _refused_meeting(meeting_id: int, error: ServiceError, field_ids: Mapping[str, str]) -> Any:
    """Draw the meeting page again after a service said no, having undone anything it did."""
    session().rollback()
    meeting = _meeting(meeting_id)
    if isinstance(error, InvalidRequest):
        errors = {field_ids.get(k, field_ids["*"]): v for k, v in error.field_errors.items()}
        return _render_meeting(meeting, errors=errors, form=request.form, status=400)
    status = 404 if isinstance(error, NotFound) else 409
    return _render_meeting(meeting, errors={field_ids["*"]: str(error)}, form=request.form,
                           status=status, problem=str(error))


ATTENDANCE_FIELDS = {"agency": "agency", "user": "user", "name": "name",
                     "attendance": "attendance",
                     "confidentiality_signed": "confidentiality_signed", "*": "agency"}


@blueprint.post("/meetings/<int:meeting_id>/attendance")
def attendance(meeting_id: int) -> Any:
    meeting = _running(meeting_id)
    try:
        meetings.record_attendance(
            session(), current_actor(), meeting_id=meeting.id, agency_id=to_int(_form("agency")),
            user_id=to_int(_form("user")), name=_form("name"), attendance=_form("attendance"),
            confidentiality_signed=yes(_form("confidentiality_signed")),
            information_sent=yes(_form("information_sent")),
        )
    except ServiceError as error:
        return _refused_meeting(meeting_id, error, ATTENDANCE_FIELDS)
    flash("Attendance recorded", "success")
    return redirect(url_for("panels.show", meeting_id=meeting_id, _anchor="attendance"))


AGENDA_FIELDS = {"case": "case_reference", "reason": "reason", "*": "case_reference"}


@blueprint.post("/meetings/<int:meeting_id>/agenda")
def add_item(meeting_id: int) -> Any:
    meeting = _running(meeting_id)
    db, user = session(), current_user()
    case: Case | None = None
    case_id = to_int(_form("case_id"))
    reference = _form("case_reference")
    if case_id is not None:
        case = db.get(Case, case_id)
    elif reference:
        case = case_by_reference(db, reference)
    if case is not None and not can_see_case(db, user, case):
        case = None  # the same answer as a case that does not exist
    if case is None:
        message = (f"There is no case {reference.upper()} that you can see" if reference
                   else "Enter the reference of the case to add")
        problems = {"case_reference": message}
        if not _form("reason"):
            problems["reason"] = "Say why the case is on the agenda"
        db.rollback()
        return _render_meeting(_meeting(meeting_id), errors=problems, form=request.form,
                               status=400)
    try:
        meetings.add_to_agenda(db, current_actor(), meeting_id=meeting.id, case_id=case.id,
                               reason=_form("reason"))
    except ServiceError as error:
        return _refused_meeting(meeting_id, error, AGENDA_FIELDS)
    flash(f"{case.reference} added to the agenda", "success")
    return redirect(url_for("panels.show", meeting_id=meeting_id, _anchor="agenda"))


def _item_of(meeting: Meeting, item_id: int) -> AgendaItem:
    item = session().get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


@blueprint.post("/meetings/<int:meeting_id>/items/<int:item_id>/remove")
def remove_item(meeting_id: int, item_id: int) -> Any:
    meeting = _running(meeting_id)
    item = _item_of(meeting, item_id)
    try:
        meetings.remove_from_agenda(session(), current_actor(), agenda_item_id=item.id)
    except ServiceError as error:
        return _refused_meeting(meeting_id, error, {"*": "agenda"})
    flash("Removed from the agenda", "success")
    return redirect(url_for("panels.show", meeting_id=meeting_id, _anchor="agenda"))


@blueprint.post("/meetings/<int:meeting_id>/items/<int:item_id>/move")
def move_item(meeting_id: int, item_id: int) -> Any:
    meeting = _running(meeting_id)
    item = _item_of(meeting, item_id)
    try:
        meetings.move_agenda_item(session(), current_actor(), agenda_item_id=item.id,
                                  direction=_form("direction"))
    except ServiceError as error:
        return _refused_meeting(meeting_id, error, {"*": "agenda"})
    return redirect(url_for("panels.show", meeting_id=meeting_id, _anchor="agenda"))


@blueprint.post("/meetings/<int:meeting_id>/status")
def status(meeting_id: int) -> Any:
    meeting = _running(meeting_id)
    db, actor = session(), current_actor()
    change = _form("change")
    try:
        if change == "held":
            meetings.mark_held(db, actor, meeting_id=meeting.id,
                               general_minutes=_form("general_minutes"), zone=_zone())
            message = "The meeting is recorded as held"
        elif change == "cancel":
            meetings.cancel_meeting(db, actor, meeting_id=meeting.id, reason=_form("reason"))
            message = "The meeting is cancelled"
        else:
            abort(400)
    except ServiceError as error:
        return _refused_meeting(meeting_id, error, {"*": "meeting-status"})
    flash(message, "success")
    return redirect(url_for("panels.show", meeting_id=meeting_id))


# --- one agenda item --------------------------------------------------------------------------


def _case_summary(case: Case) -> dict[str, Any]:
    db = session()
    try:
        definition = definition_for(db, case)
    except ServiceError:
        definition = None
    stages = [definition.stage(s.stage_key).name
              if definition and s.stage_key in definition.stages
              else s.stage_key.replace("_", " ").capitalize()
              for s in case.active_stages]
    victims = [p.person.full_name for p in case.participants
               if p.role is ParticipantRole.VICTIM and p.person is not None]
    return {
        "type": definition.name if definition else CASE_TYPE_NAMES.get(
            case.case_type, case.case_type.replace("_", " ").capitalize()),
        "status": (case.workflow_state or {}).get("business_status"),
        "stages": stages,
        "victims": victims,
    }


def _render_item(meeting: Meeting, item: AgendaItem, *, errors: Mapping[str, str] | None = None,
                 form: Mapping[str, str] | None = None, status: int = 200,
                 problem: str | None = None) -> Any:
    db, user = session(), current_user()
    case = db.get(Case, item.case_id)
    assert case is not None
    visible = can_see_case(db, user, case)
    record(db, current_actor(), AuditAction.VIEW, entity=item, case_id=case.id,
           detail={"meeting_id": meeting.id} | ({} if visible else {"restricted": True}))
    context: dict[str, Any] = {}
    if visible:
        context = {
            "summary": _case_summary(case),
            "incomplete": meetings.incomplete_actions(db, item),
            "raised": meetings.actions_raised(db, item),
            "agencies": list(db.scalars(select(Agency).where(Agency.active.is_(True))
                                        .order_by(Agency.name))),
        }
    errors = dict(errors or {})
    return render_template(
        "panels/item.html", meeting=meeting, item=item, case=case, visible=visible,
        owner=case.owning_agency, can_run=visible and meetings.can_run_meeting(user, meeting),
        errors=errors, form=form or {}, problem=problem,
        error_list=_error_list(errors, {"due_at": "due_at-day"}), **context,
    ), status


ACTION_FIELDS = {"title": "title", "assigned_agency": "assigned_agency", "due_at": "due_at",
                 "assigned_user": "assigned_agency", "stage": "title", "*": "title"}


@blueprint.route("/meetings/<int:meeting_id>/items/<int:item_id>", methods=["GET", "POST"])
def item(meeting_id: int, item_id: int) -> Any:
    meeting = _meeting(meeting_id)
    agenda_item = _item_of(meeting, item_id)
    if request.method == "GET":
        return _render_item(meeting, agenda_item)
    db, user = session(), current_user()
    case = db.get(Case, agenda_item.case_id)
    if (case is None or not can_see_case(db, user, case)
            or not meetings.can_run_meeting(user, meeting)):
        abort(403)
    which = _form("form")
    try:
        if which == "minutes":
            discussed = _form("discussed")
            if discussed not in ("yes", "no"):
                return _item_refused(meeting_id, item_id, InvalidRequest(
                    {"discussed": "Say whether the case was discussed"}), {"*": "discussed"})
            meetings.record_minutes(db, current_actor(), agenda_item_id=agenda_item.id,
                                    minutes=_form("minutes"), discussed=discussed == "yes")
            message, anchor = "Minutes saved", "minutes"
        elif which == "action":
            return _raise_action(meeting, agenda_item)
        elif which == "review":
            action_id = to_int(_form("action_id"))
            if action_id is None:
                abort(400)
            meetings.record_action_review(
                db, current_actor(), agenda_item_id=agenda_item.id, action_id=action_id,
                classification=_form(f"review-{action_id}"),
                note=_form(f"review-note-{action_id}"),
            )
            message, anchor = "Review of the action recorded", "last-time"
        else:
            abort(400)
    except ServiceError as error:
        fields = {"minutes": "minutes", "discussed": "discussed", "*": "minutes"}
        if which == "review":
            field = f"review-{_form('action_id')}"
            fields = {field: field, "*": "last-time"}
        return _item_refused(meeting_id, item_id, error, fields)
    flash(message, "success")
    return redirect(url_for("panels.item", meeting_id=meeting_id, item_id=item_id,
                            _anchor=anchor))


def _raise_action(meeting: Meeting, agenda_item: AgendaItem) -> Any:
    errors: dict[str, str] = {}
    day, problem = parse_date(request.form, "due_at", what="the date the action is due")
    if problem:
        errors["due_at"] = problem
    due_at = datetime.combine(day, time(17), tzinfo=_zone()) if day is not None else None
    if day is not None and day < clock.now().astimezone(_zone()).date():
        errors["due_at"] = "The date the action is due must be today or in the future"
        due_at = None
    try:
        meetings.raise_action(
            session(), current_actor(), agenda_item_id=agenda_item.id, title=_form("title"),
            assigned_agency_id=to_int(_form("assigned_agency")), due_at=due_at,
            detail=_form("detail"),
        )
    except InvalidRequest as refused:
        found = {ACTION_FIELDS.get(k, "title"): v for k, v in refused.field_errors.items()}
        errors = found | errors
    except ServiceError as error:
        return _item_refused(meeting.id, agenda_item.id, error, {"*": "title"})
    if errors:
        errors = {k: errors[k] for k in ("title", "assigned_agency", "due_at", "detail")
                  if k in errors}
        return _item_refused(meeting.id, agenda_item.id, InvalidRequest(errors),
                             {k: k for k in errors} | {"*": "title"})
    flash("Action raised: the agency has it in its inbox", "success")
    return redirect(url_for("panels.item", meeting_id=meeting.id, item_id=agenda_item.id,
                            _anchor="actions"))


def _item_refused(meeting_id: int, item_id: int, error: ServiceError,
                  field_ids: Mapping[str, str]) -> Any:
    session().rollback()
    meeting = _meeting(meeting_id)
    agenda_item = _item_of(meeting, item_id)
    if isinstance(error, InvalidRequest):
        errors = {field_ids.get(k, field_ids["*"]): v for k, v in error.field_errors.items()}
        return _render_item(meeting, agenda_item, errors=errors, form=request.form, status=400)
    status = 404 if isinstance(error, NotFound) else 409
    return _render_item(meeting, agenda_item, errors={field_ids["*"]: str(error)},
                        form=request.form, status=status, problem=str(error))

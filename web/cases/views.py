"""The case page (everything about one case, and the forms that change it) and the case list.

Each form posts to its own address and, when it works, goes back to the page with a
message (post, redirect, get). When it does not, the whole page is drawn again with the
message next to the field and what was typed kept; that answer is a 4xx, so the request
boundary rolls back and nothing was written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    send_file,
    url_for,
)
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.routing import BuildError

from casebridge import clock
from storage.access import can_see_case
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases import services as cases
from storage.cases import workflow
from storage.cases.models import Case, CaseParticipant, LinkKind
from storage.documents.models import Document
from storage.documents.services import attach_document
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState, NotFound
from web import navigation
from web.access.views import deny_hidden, deny_restricted
from web.auth import current_actor, current_user
from web.database import session
from web.dates import parse_date_input
from web.numbers import whole_number

from . import listing
from .page import case_page, file_size, may_manage, may_work

blueprint = Blueprint("cases", __name__)
navigation.add("Cases", "cases.index")


@blueprint.context_processor
def _helpers() -> dict[str, Any]:
    return {"link_to": link_to, "file_size": file_size, "select_items": select_items}


def select_items(things: Any, selected: str | None, blank: str) -> list[dict[str, Any]]:
    """Items for a GOV.UK select of records with an id and a name, the chosen one selected."""
    return [{"value": "", "text": blank}] + [
        {"value": str(t.id), "text": t.name, "selected": str(t.id) == (selected or "")}
        for t in things
    ]


def link_to(endpoint: str, **values: Any) -> str | None:
    """The address of a page another feature serves, or None while that page is not there
    yet (the page then shows plain text instead of a broken link)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


# --- the list -------------------------------------------------------------------------------


@blueprint.get("/cases")
def index() -> Any:
    db, user = session(), current_user()
    result = listing.search(db, user, request.args)
    record(db, current_actor(), AuditAction.SEARCH, entity_type="cases",
           detail={"filters": result.filters, "page": result.page,
                   "shown": [c.id for c in result.cases]})
    return render_template("cases/index.html", result=result, errors={})


# --- the page -------------------------------------------------------------------------------


# What the case page reads of the case, loaded with it: each collection in one statement,
# and each participant's person, place or group with the participants (not one by one).
CASE_PAGE_LOADS = (
    selectinload(Case.stages),
    selectinload(Case.shares),
    selectinload(Case.actions),
    selectinload(Case.participants).options(
        joinedload(CaseParticipant.person), joinedload(CaseParticipant.location),
        joinedload(CaseParticipant.group)),
)


def _visible_case(reference: str, *options: Any) -> Case:
    """The case, or 404 for one that does not exist or that the user may not see (the same
    answer, so the page does not reveal that a case exists)."""
    db = session()
    case = cases.case_by_reference(db, reference, *options)
    if case is None:
        abort(404)
    if not can_see_case(db, current_user(), case):
        if case.restricted:
            deny_restricted(case)  # only that it exists, who holds it and whom to contact
        deny_hidden(case)
    return case


def _render(case: Case, *, errors: Mapping[str, str] | None = None,
            form: Mapping[str, str] | None = None, status: int = 200) -> Any:
    try:
        chronology_page = int(request.args.get("events", "1"))
    except ValueError:
        chronology_page = 1
    context = case_page(session(), current_user(), case, chronology_page=chronology_page)
    return render_template("cases/show.html", errors=dict(errors or {}), form=form or {},
                           **context), status


@blueprint.get("/cases/<reference>")
def show(reference: str) -> Any:
    case = _visible_case(reference, *CASE_PAGE_LOADS)
    record(session(), current_actor(), AuditAction.VIEW, entity=case, case_id=case.id)
    return _render(case)


def _refused(reference: str, field_ids: Mapping[str, str], error: Exception) -> Any:
    """Draw the page again after a service said no: roll back whatever it half did, then
    show its message next to the field it is about (`field_ids`: the service's field name
    -> the id on the page; "*" for a message about the case rather than a field)."""
    db = session()
    db.rollback()
    case = _visible_case(reference)
    form = request.form
    if isinstance(error, InvalidRequest):
        errors = {field_ids.get(k, field_ids["*"]): v for k, v in error.field_errors.items()}
        return _render(case, errors=errors, form=form, status=400)
    if isinstance(error, ConcurrencyConflict):
        return _render(case, errors={field_ids["*"]: str(error)}, form=form, status=409)
    if isinstance(error, NotFound):
        return _render(case, errors={field_ids["*"]: str(error)}, form=form, status=404)
    return _render(case, errors={field_ids["*"]: str(error)}, form=form, status=409)


def _after(case: Case, message: str, anchor: str) -> Any:
    flash(message, "success")
    return redirect(url_for("cases.show", reference=case.reference, _anchor=anchor))


def _working_case(reference: str) -> Case:
    case = _visible_case(reference)
    if not may_work(current_user()):
        abort(403)
    return case


def _managed_case(reference: str) -> Case:
    case = _visible_case(reference)
    if not may_manage(current_user(), case):
        abort(403)
    return case


def _form(name: str) -> str:
    return request.form.get(name, "").strip()


def _int(value: str) -> int | None:
    return whole_number(value)


def _version() -> int:
    """The case version the form was drawn with (a form without one is refused)."""
    version = _int(_form("version"))
    if version is None:
        abort(400)
    return version


# --- actions --------------------------------------------------------------------------------

ACTION_FIELDS = {"title": "action-title", "assigned_agency": "action-agency",
                 "assigned_user": "action-person", "due_at": "action-due-day",
                 "detail": "action-detail", "*": "action-title"}


@blueprint.post("/cases/<reference>/actions")
def give_action(reference: str) -> Any:
    case = _working_case(reference)
    db = session()
    errors: dict[str, str] = {}
    title, detail = _form("action-title"), _form("action-detail")
    agency_id, person_id = _int(_form("action-agency")), _int(_form("action-person"))
    if not title:
        errors["action-title"] = "Enter what needs doing"
    if agency_id is None:
        errors["action-agency"] = "Choose the agency that will do this"
    due_date, message = parse_date_input(
        _form("action-due-day"), _form("action-due-month"), _form("action-due-year"),
        what="the date the action is due",
    )
    zone = ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)
    if due_date is not None and due_date < clock.now().astimezone(zone).date():
        message = "The date the action is due must be today or in the future"
    if message:
        errors["action-due-day"] = message
    if errors:
        return _render(case, errors=errors, form=request.form, status=400)
    assert due_date is not None
    assert agency_id is not None
    try:
        action = cases.assign_action(
            db, current_actor(), case_id=case.id, title=title, assigned_agency_id=agency_id,
            assigned_user_id=person_id, detail=detail or None,
            due_at=datetime.combine(due_date, time(23, 59, 59), tzinfo=zone),
        )
    except (InvalidRequest, InvalidState) as error:
        return _refused(reference, ACTION_FIELDS, error)
    return _after(case, f"Action '{action.title}' given to {action.assigned_agency.name}",
                  "actions")


# --- documents ------------------------------------------------------------------------------


@blueprint.post("/cases/<reference>/documents")
def upload_document(reference: str) -> Any:
    case = _working_case(reference)
    upload = request.files.get("document-file")
    if upload is None or not (upload.filename or "").strip():
        return _render(case, errors={"document-file": "Select a file to upload"},
                       form=request.form, status=400)
    first = upload.stream.read(1)
    if not first:
        return _render(case, errors={"document-file": "The selected file is empty"},
                       form=request.form, status=400)
    upload.stream.seek(0)
    runtime = current_app.extensions["casebridge.runtime"]
    try:
        document = attach_document(
            session(), current_actor(), runtime.documents, case_id=case.id,
            filename=upload.filename or "", content_type=upload.mimetype or "",
            stream=upload.stream, max_bytes=runtime.settings.upload_max_bytes,
        )
    except InvalidRequest as error:
        return _refused(reference, {"file": "document-file", "*": "document-file"}, error)
    return _after(case, f"'{document.filename}' added to the case", "documents")


@blueprint.get("/cases/<reference>/documents/<int:document_id>")
def document(reference: str, document_id: int) -> Any:
    case = _visible_case(reference)
    db = session()
    stored = db.get(Document, document_id)
    if stored is None or stored.case_id != case.id:
        abort(404)
    try:
        stream = current_app.extensions["casebridge.runtime"].documents.open(stored.sha256)
    except (OSError, ValueError):
        abort(404)
    record(db, current_actor(), AuditAction.VIEW, entity=stored, case_id=case.id)
    return send_file(stream, mimetype=stored.content_type, as_attachment=True,
                     download_name=stored.filename, max_age=0)


# --- notes and links ------------------------------------------------------------------------


@blueprint.post("/cases/<reference>/notes")
def add_note(reference: str) -> Any:
    case = _working_case(reference)
    try:
        cases.add_note(session(), current_actor(), case_id=case.id,
                       body=request.form.get("note-body", ""),
                       restricted_to_agency=request.form.get("note-restricted") == "yes")
    except InvalidRequest as error:
        return _refused(reference, {"body": "note-body", "*": "note-body"}, error)
    return _after(case, "Note added", "notes")


@blueprint.post("/cases/<reference>/links")
def link(reference: str) -> Any:
    case = _working_case(reference)
    db, user = session(), current_user()
    errors: dict[str, str] = {}
    other_reference, kind = _form("link-reference"), _form("link-kind")
    other = cases.case_by_reference(db, other_reference) if other_reference else None
    if not other_reference:
        errors["link-reference"] = "Enter the reference of the case to link to"
    elif other is None or not can_see_case(db, user, other):
        errors["link-reference"] = (f"No case you can see has the reference "
                                    f"{other_reference.upper()}")
    elif other.id == case.id:
        errors["link-reference"] = "Enter the reference of another case: a case cannot be " \
                                   "linked to itself"
    if kind not in {k.value for k in LinkKind}:
        errors["link-kind"] = "Choose how the cases are linked"
    if errors:
        return _render(case, errors=errors, form=request.form, status=400)
    assert other is not None
    try:
        cases.link_cases(db, current_actor(), from_case_id=case.id, to_case_id=other.id,
                         kind=LinkKind(kind), reason=_form("link-reason") or None)
    except InvalidRequest as error:
        return _refused(reference, {"to_case": "link-reference", "*": "link-reference"}, error)
    return _after(case, f"Linked to {other.reference}", "links")


# --- managing the case ----------------------------------------------------------------------


def _manage(reference: str, name: str, change: Callable[[Case, int], Any], done: str) -> Any:
    case = _managed_case(reference)
    try:
        change(case, _version())
    except (InvalidRequest, InvalidState, ConcurrencyConflict, NotFound) as error:
        ids = {"reason": f"{name}-reason", "*": f"{name}-reason"}
        if name in ("resume", "share", "move"):
            ids["*"] = {"resume": "resume-button", "share": "share-agency",
                        "move": "move-stage"}[name]
        return _refused(reference, ids, error)
    return _after(case, done, "summary")


@blueprint.post("/cases/<reference>/close")
def close(reference: str) -> Any:
    return _manage(reference, "close", lambda case, version: workflow.close_case(
        session(), current_actor(), case_id=case.id, expected_version=version,
        reason=request.form.get("close-reason", "")), "Case closed")


@blueprint.post("/cases/<reference>/reopen")
def reopen(reference: str) -> Any:
    return _manage(reference, "reopen", lambda case, version: workflow.reopen_case(
        session(), current_actor(), case_id=case.id, expected_version=version,
        reason=request.form.get("reopen-reason", "")), "Case reopened")


@blueprint.post("/cases/<reference>/pause")
def pause(reference: str) -> Any:
    return _manage(reference, "pause", lambda case, version: workflow.pause_case(
        session(), current_actor(), case_id=case.id, expected_version=version,
        reason=request.form.get("pause-reason", "")), "Case paused: its deadlines have stopped")


@blueprint.post("/cases/<reference>/resume")
def resume(reference: str) -> Any:
    return _manage(reference, "resume", lambda case, version: workflow.resume_case(
        session(), current_actor(), case_id=case.id, expected_version=version),
        "Case resumed: its deadlines run again")


@blueprint.post("/cases/<reference>/move")
def move(reference: str) -> Any:
    case = _managed_case(reference)
    stage = _form("move-stage")
    definition = workflow.definition_for(session(), case)
    errors: dict[str, str] = {}
    if stage not in definition.stages or definition.stages[stage].recurring:
        errors["move-stage"] = "Choose the stage to move the case to"
    if not _form("move-reason"):
        errors["move-reason"] = "Say why the case is being moved by hand"
    if errors:
        return _render(case, errors=errors, form=request.form, status=400)
    return _manage(reference, "move", lambda case, version: workflow.override(
        session(), current_actor(), case_id=case.id, expected_version=version,
        reason=_form("move-reason"), to_stages=[stage]),
        f"Case moved to '{definition.stages[stage].name}'")


@blueprint.post("/cases/<reference>/share")
def share(reference: str) -> Any:
    case = _managed_case(reference)
    db = session()
    agency = db.get(Agency, _int(_form("share-agency")) or 0)
    if agency is None or not agency.active:
        return _render(case, errors={"share-agency": "Choose an agency to share the case with"},
                       form=request.form, status=400)

    def share_it(case: Case, version: int) -> None:
        if version != case.version:  # sharing does not move the version: check it here
            raise ConcurrencyConflict(f"Case {case.reference}", expected_version=version,
                                      current_version=case.version,
                                      submitted={"agency": agency.id})
        cases.share_case(db, current_actor(), case_id=case.id, agency_id=agency.id)

    return _manage(reference, "share", share_it, f"Case shared with {agency.name}")


"""Working a stage: its form, checked against the form definition, submitted through the
workflow service; or, once done, its answers read-only.

GET/POST /cases/<reference>/stages/<stage_id>  ("stages.form")
- Anyone who may see the case may read a stage; only the assignee, their agency or the
  owning agency may fill in its form (and, for a stage queued for a role such as managers,
  only someone with that role). A case the user may not see is a 404.
- A form with problems comes back (400) with a message next to each question and everything
  typed kept. A form loaded before someone else changed the case comes back (409) with the
  answers kept and the page's version moved on, so checking and submitting again works.
"""

from __future__ import annotations

from typing import Any

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
from werkzeug.datastructures import MultiDict

from casebridge import clock
from forms.loader import shipped_forms
from forms.model import FieldType, FormDefinition
from forms.schema import build_schema, check_submission
from storage.access import can_see_case, form_for, only_audits
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case, CaseStatus, StageInstance, StageStatus
from storage.cases.services import case_by_reference
from storage.cases.workflow import definition_for, record_stage_submission
from storage.documents.services import attach_document
from storage.errors import ConcurrencyConflict, InvalidRequest, InvalidState, NotFound
from web.auth import current_actor, current_user
from web.database import session
from web.errors import refuse
from web.formatting import humanise
from web.numbers import whole_number
from web.stages import presentation

blueprint = Blueprint("stages", __name__)

CONFLICT_MESSAGE = (
    "Someone else changed this case while you were filling in the form. Your answers have "
    "not been saved yet: they are still below. Check the case to see what changed, then "
    "check your answers and submit the form again."
)

def form_of(stage: StageInstance) -> FormDefinition | None:
    """The form a stage is filled in with (None for a stage without one)."""
    return shipped_forms().get(stage.form_key) if stage.form_key else None


# For the templates: forms/macros.html draws with these, and the case page can show a
# completed stage's answers with render_answers(form_for_stage(stage), stage.form_data).
for _name, _function in (
    ("form_layout", presentation.form_layout),
    ("answer_rows", presentation.answer_rows),
    ("answer_scores", presentation.answer_scores),
    ("join_hints", presentation.join_hints),
    ("date_items", presentation.date_items),
    ("form_for_stage", lambda stage: form_for(current_user(), form_of(stage))),
):
    blueprint.add_app_template_global(_function, _name)


@blueprint.route("/cases/<reference>/stages/<int:stage_id>", methods=["GET", "POST"],
                 endpoint="form")
def stage_form(reference: str, stage_id: int) -> Any:
    db = session()
    user = current_user()
    case = case_by_reference(db, reference)
    if case is None:
        abort(404)
    if not can_see_case(db, user, case):
        refuse(404, entity=case, case_id=case.id)  # audited as an access denied
    stage = db.get(StageInstance, stage_id)
    if stage is None or stage.case_id != case.id:
        abort(404)
    form = form_for(user, form_of(stage))  # without fields restricted to other roles
    if request.method == "GET":
        if stage.status is StageStatus.ACTIVE:
            refusal = _refusal(user, case, stage)
            if refusal:
                return _not_allowed(refusal)
        record(db, current_actor(), AuditAction.VIEW, entity=stage, case_id=case.id)
        return _page(case, stage, form, version=case.version)
    return _submit(case, stage, form, user)


def _submit(case: Case, stage: StageInstance, form: FormDefinition | None, user: User) -> Any:
    db = session()
    if stage.status is not StageStatus.ACTIVE:
        return _too_late(case, stage, form)
    refusal = _refusal(user, case, stage)
    if not refusal and only_audits(user):
        refusal = "Auditors can read this stage but cannot fill in its form."
    if refusal:
        return _not_allowed(refusal)
    if form is None:
        return _page(case, stage, form, version=case.version, status=409,
                     problem="This stage has no form to fill in: it moves on by itself.")
    expected_version = whole_number(request.form.get("version"))
    if expected_version is None:
        abort(400)
    data = MultiDict(request.form)
    document_ids, upload_errors = _store_uploads(case, form, data)
    options = _options(case, form)
    submission = check_submission(_schema(form, options, document_ids), data)
    if upload_errors or not submission.valid:
        return _page(case, stage, form, version=expected_version, status=400,
                     values=submission.values, errors=submission.errors | upload_errors,
                     options=options)
    assert submission.answers is not None
    try:
        record_stage_submission(
            db, current_actor(), case_id=case.id, stage_instance_id=stage.id,
            expected_version=expected_version, form_data=submission.answers,
        )
    except ConcurrencyConflict as exc:
        db.rollback()
        if stage.status is not StageStatus.ACTIVE:  # someone else submitted this very stage
            return _page(case, stage, form, version=case.version, status=409,
                         problem=_not_active_message(stage, by_someone_else=True),
                         unsaved=exc.submitted)
        return _page(case, stage, form, version=case.version, status=409, conflict=True,
                     values=submission.values, options=options)
    except InvalidRequest as exc:
        db.rollback()
        errors = {k: v for k, v in exc.field_errors.items() if form.field(k) is not None}
        return _page(case, stage, form, version=expected_version, status=400,
                     values=submission.values, options=options,
                     errors=errors, problem=None if errors else str(exc))
    except InvalidState as exc:
        db.rollback()
        return _page(case, stage, form, version=case.version, status=409,
                     problem=_state_message(case, stage, exc), values=submission.values,
                     options=options)
    except NotFound:
        db.rollback()
        abort(404)
    flash(f"{_stage_name(case, stage)}: your answers have been saved.", "success")
    return redirect(url_for("cases.show", reference=case.reference))


def _too_late(case: Case, stage: StageInstance, form: FormDefinition | None) -> Any:
    """A form posted for a stage that is no longer active: if the case changed since the
    form was loaded, someone else finished it meanwhile; show their answers and what this
    user entered (not saved)."""
    posted = whole_number(request.form.get("version"))
    meanwhile = posted is not None and posted < case.version
    unsaved = None
    if meanwhile and form is not None and stage.status is StageStatus.COMPLETED:
        unsaved = check_submission(_schema(form, _options(case, form)), request.form).answers
    return _page(case, stage, form, version=case.version, status=409, unsaved=unsaved,
                 problem=_not_active_message(stage, by_someone_else=meanwhile))


# --- who may work a stage --------------------------------------------------------------------


def _refusal(user: User, case: Case, stage: StageInstance) -> str | None:
    """Why `user` may not fill in this stage's form, or None if they may."""
    worker = _worker_text(stage)
    if stage.assignee_user_id is not None and stage.assignee_user_id == user.id:
        return None
    agencies = {case.owning_agency_id, stage.assignee_agency_id} - {None}
    if user.agency_id not in agencies:
        return (f"This stage is worked by {worker}. Only the person or agency it is given "
                f"to, or the agency that owns the case ({case.owning_agency.name}), can fill "
                "in its form. You can still read the case.")
    if stage.assignee_role and not _has_role(user, stage.assignee_role):
        return (f"This stage is for {worker}. Ask one of them to fill in its form. You can "
                "still read the case.")
    return None


def _has_role(user: User, role: str) -> bool:
    try:
        return user.has_role(Role(role))
    except ValueError:
        return False


def _not_allowed(explanation: str) -> Any:
    return render_template("errors/error.html", status=403,
                           title="You cannot fill in this form", detail=explanation), 403


# --- the page --------------------------------------------------------------------------------


def _page(
    case: Case, stage: StageInstance, form: FormDefinition | None, *, version: int,
    status: int = 200, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, options: dict[str, list] | None = None,
    problem: str | None = None, conflict: bool = False, unsaved: dict[str, Any] | None = None,
) -> Any:
    editable = stage.status is StageStatus.ACTIVE and form is not None
    if editable and options is None:
        options = _options(case, form)  # type: ignore[arg-type]
    errors = errors or {}
    now = clock.now()
    context = {
        "case": case,
        "stage": stage,
        "stage_name": _stage_name(case, stage),
        "form": form,
        "editable": editable,
        "version": version,
        "values": values if values is not None else {},
        "errors": errors,
        "error_list": _error_list(form, errors) if form else [],
        "options": options or {},
        "problem": problem,
        "conflict": conflict,
        "conflict_message": CONFLICT_MESSAGE,
        "unsaved": unsaved,
        "worker": _worker_text(stage),
        "due_soon": bool(stage.warn_at and stage.warn_at <= now
                         and not (stage.due_at and stage.due_at < now)),
        "completed_by": session().get(User, stage.completed_by_id)
        if stage.completed_by_id else None,
        "paused": case.status is CaseStatus.PAUSED,
        "closed": case.status is CaseStatus.CLOSED,
        "has_files": bool(form and any(f.type is FieldType.FILE for f in form.fields)),
    }
    return render_template("stages/form.html", **context), status


def _error_list(form: FormDefinition, errors: dict[str, str]) -> list[dict[str, str]]:
    """The error summary's links: to the first box of a date that needs fixing."""
    items = []
    for key, message in errors.items():
        field = form.field(key)
        anchor = key
        if field is not None and field.type in (FieldType.DATE, FieldType.DATETIME):
            if message.endswith("must include a time") or "must be a real time" in message:
                anchor = f"{key}-time"
            else:
                missing = [p for p in ("day", "month", "year") if f"a {p}" in message
                           or f"and {p}" in message]
                anchor = f"{key}-{missing[0] if missing else 'day'}"
        items.append({"text": message, "href": f"#{anchor}"})
    return items


def _stage_name(case: Case, stage: StageInstance) -> str:
    try:
        definition = definition_for(session(), case)
        name = definition.stages[stage.stage_key].name
    except (InvalidState, NotFound, KeyError):
        name = humanise(stage.stage_key)
    return name


def _worker_text(stage: StageInstance) -> str:
    agency = stage.assignee_agency
    if stage.assignee_user is not None:
        who = stage.assignee_user.display_name
        return f"{who} ({agency.name})" if agency else who
    if stage.assignee_role:
        people = f"{humanise(stage.assignee_role).lower()}s"
        return f"{people} at {agency.name}" if agency else people
    return agency.name if agency else "no one yet"


def _not_active_message(stage: StageInstance, *, by_someone_else: bool = False) -> str:
    if by_someone_else:
        if stage.status is StageStatus.CANCELLED:
            return ("While you were filling in the form the case moved on and this stage was "
                    "cancelled, so your answers were not saved.")
        return ("Someone else completed this stage while you were filling in the form, "
                "so your answers were not saved. Their answers are below.")
    if stage.status is StageStatus.COMPLETED:
        return "This stage has already been completed, so it cannot be submitted again."
    return "This stage was cancelled, so its form can no longer be submitted."


def _state_message(case: Case, stage: StageInstance, exc: InvalidState) -> str:
    if case.status is CaseStatus.CLOSED:
        return "This case is closed, so its forms cannot be submitted. Your answers were not saved."
    if case.status is CaseStatus.PAUSED:
        return ("This case is paused, so its forms cannot be submitted until it is resumed. "
                "Your answers were not saved.")
    if stage.status is not StageStatus.ACTIVE:
        return _not_active_message(stage)
    return f"Your answers could not be saved: {exc}"


# --- what the person, location and agency questions offer ------------------------------------


def _options(case: Case, form: FormDefinition) -> dict[str, list[tuple[int, str]]]:
    kinds = {f.type for f in form.fields}
    options: dict[str, list[tuple[int, str]]] = {"person": [], "location": [], "agency": []}
    if FieldType.PERSON in kinds:
        roles: dict[int, list[str]] = {}
        names: dict[int, str] = {}
        for participant in case.participants:
            if participant.person is not None:
                names[participant.person.id] = (participant.person.full_name
                                                or participant.person.known_as or "Unnamed")
                roles.setdefault(participant.person.id, []).append(
                    humanise(participant.role).lower())
        options["person"] = [
            (pid, f"{name} ({', '.join(dict.fromkeys(roles[pid]))})")
            for pid, name in sorted(names.items(), key=lambda item: item[1].lower())
        ]
    if FieldType.LOCATION in kinds:
        seen: dict[int, str] = {}
        for participant in case.participants:
            if participant.location is not None:
                seen[participant.location.id] = participant.location.one_line()
        options["location"] = sorted(seen.items(), key=lambda item: item[1].lower())
    if FieldType.AGENCY in kinds:
        agencies = session().scalars(
            select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)
        )
        options["agency"] = [(a.id, a.name) for a in agencies]
    return options


def _schema(form: FormDefinition, options: dict[str, list[tuple[int, str]]],
            document_ids: list[int] | None = None) -> Any:
    """The form's schema, accepting only the people, places and agencies the page offers."""
    return build_schema(
        form,
        person_ids=[key for key, _ in options["person"]],
        location_ids=[key for key, _ in options["location"]],
        agency_ids=[key for key, _ in options["agency"]],
        document_ids=document_ids or [],
        now=clock.now(),
        timezone=_settings().timezone,
    )


def _store_uploads(case: Case, form: FormDefinition,
                   data: MultiDict) -> tuple[list[int], dict[str, str]]:
    """Keep each chosen file as a case document; the answer is its id. (If the form has a
    problem the request rolls back, so nothing is kept and the file is chosen again.) A file
    the document store refuses (its type, its size) is a message next to its question."""
    ids: list[int] = []
    errors: dict[str, str] = {}
    for f in form.fields:
        if f.type is not FieldType.FILE:
            continue
        data.poplist(f.key)  # only an upload in this request can answer a file question
        upload = request.files.get(f.key)
        if upload is None or not (upload.filename or "").strip():
            continue
        try:
            document = attach_document(
                session(), current_actor(), _runtime().documents, case_id=case.id,
                filename=upload.filename or "", content_type=upload.mimetype or "",
                stream=upload.stream, max_bytes=_settings().upload_max_bytes,
            )
        except InvalidRequest as refused:
            errors[f.key] = next(iter(refused.field_errors.values()), str(refused))
            continue
        data[f.key] = str(document.id)
        ids.append(document.id)
    return ids, errors


def _runtime() -> Any:
    return current_app.extensions["casebridge.runtime"]


def _settings() -> Any:
    return _runtime().settings


"""Restricted records and the information sharing agreement, for the people who use them:

- the page a user gets for a restricted case they may not see (only that it exists, who
  owns it and whom to contact) with "Request access";
- the access requests page: a manager's queue of requests for their agency's cases (approve
  with an expiry, or decline with a reason), and every user's own requests and outcomes;
- restricting a case and locking a profile (managers), each with a reason;
- the sharing agreement in force, read-only, for managers and partnership admins.

The rules themselves live in storage.access and storage.restricted.services."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from rules.sharing import describe
from storage.access import can_see_case, works_with_person
from storage.accounts.models import Role, User
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases import services as cases
from storage.cases.models import Case
from storage.errors import AccessDenied, InvalidRequest, InvalidState, NotFound
from storage.people.models import Person
from storage.restricted import services as restricted
from storage.restricted.models import AccessRequest
from storage.sharing.services import agreement_in_force, history
from web import navigation
from web.auth import current_actor, current_user
from web.database import session
from web.errors import refuse

blueprint = Blueprint("access", __name__)


def _waiting() -> int:
    """Requests waiting for the signed-in manager: shown beside the navigation link."""
    user = g.get("user")
    return restricted.pending_count(session(), user) if user is not None else 0


navigation.add("Access requests", "access.requests", badge=_waiting)


@blueprint.app_context_processor
def _controls() -> dict[str, Any]:
    """What the case and profile pages ask to show their links (one line each there)."""

    def may_restrict(case: Case) -> bool:
        return restricted.manages_case(current_user(), case)

    def may_lock(person: Person) -> bool:
        return restricted.may_lock_person(session(), current_user(), person)

    return {"access_may_restrict": may_restrict, "access_may_lock": may_lock}


# --- the restricted case page ------------------------------------------------------------------


def restricted_case_page(case: Case, *, errors: dict[str, str] | None = None,
                         status: int = 403) -> Any:
    """Only that the case exists, who owns it and whom to contact, and the request form.
    Nothing about the people on it, its type, answers or dates."""
    db, user = session(), current_user()
    latest = restricted.latest_request(db, user, case.id)
    return make_response(render_template(
        "access/restricted_case.html", reference=case.reference, owner=case.owning_agency,
        lead=case.lead_officer if case.lead_officer and case.lead_officer.active else None,
        latest=latest, errors=errors or {}, form=request.form,
        may_ask=not user.roles <= {Role.AUDITOR}), status)


def deny_restricted(case: Case) -> None:
    """Answer with the restricted page; the refusal is audited by web.errors."""
    refuse(entity=case, case_id=case.id, page=restricted_case_page(case))


def deny_hidden(case: Case) -> None:
    """A case the user may not see and that is not restricted: the same 404 as a reference
    that does not exist (its existence stays hidden), the attempt audited."""
    refuse(404, entity=case, case_id=case.id)


@blueprint.post("/cases/<reference>/access-requests")
def ask(reference: str) -> Any:
    db, user = session(), current_user()
    case = cases.case_by_reference(db, reference)
    if case is None or not case.restricted:
        abort(404)
    if can_see_case(db, user, case):
        return redirect(url_for("cases.show", reference=case.reference))
    try:
        restricted.request_access(db, current_actor(), user, case_id=case.id,
                                  reason=request.form.get("access-reason", ""))
    except InvalidRequest as error:
        db.rollback()
        return restricted_case_page(case, errors={"access-reason": error.field_errors.get(
            "reason", str(error))}, status=400)
    except (InvalidState, AccessDenied) as error:
        db.rollback()
        return restricted_case_page(case, errors={"access-reason": str(error)}, status=409)
    flash("Request sent: the owning agency's managers will decide, and you will get an "
          "e-mail", "success")
    return redirect(url_for("access.requests"))


# --- requests ----------------------------------------------------------------------------------


def _requests_page(*, errors: dict[str, str] | None = None, status: int = 200,
                   failed_id: int | None = None) -> Any:
    db, user = session(), current_user()
    return render_template(
        "access/requests.html", pending=restricted.pending_for(db, user),
        mine=restricted.requests_by(db, user), errors=errors or {}, form=request.form,
        failed_id=failed_id, grant_days=restricted.GRANT_DAYS,
        max_days=restricted.MAX_GRANT_DAYS), status


@blueprint.get("/access-requests")
def requests() -> Any:
    return _requests_page()


@blueprint.post("/access-requests/<int:request_id>")
def decide(request_id: int) -> Any:
    db, user = session(), current_user()
    access_request = db.get(AccessRequest, request_id)
    if access_request is None or not restricted.manages_case(user, access_request.case):
        abort(404)
    decision = request.form.get("decision", "")
    errors: dict[str, str] = {}
    if decision not in ("approve", "decline"):
        errors[f"decision-{request_id}"] = "Choose whether to approve or decline the request"
    days_text = request.form.get("days", "").strip()
    days: int | None = None
    if decision == "approve" and days_text:
        if not days_text.isdigit():
            errors[f"days-{request_id}"] = "Enter the number of days as a whole number"
        else:
            days = int(days_text)
    if errors:
        return _requests_page(errors=errors, status=400, failed_id=request_id)
    try:
        restricted.decide(db, current_actor(), user, request_id=request_id,
                          approve=decision == "approve",
                          reason=request.form.get("reason", ""), days=days)
    except InvalidRequest as error:
        db.rollback()
        return _requests_page(errors={f"{k}-{request_id}": v
                                      for k, v in error.field_errors.items()},
                              status=400, failed_id=request_id)
    except (InvalidState, AccessDenied, NotFound) as error:
        db.rollback()
        return _requests_page(errors={f"decision-{request_id}": str(error)}, status=409,
                              failed_id=request_id)
    flash(f"Request {'approved' if decision == 'approve' else 'declined'}: "
          f"{access_request.requested_by.display_name} will get an e-mail", "success")
    return redirect(url_for("access.requests"))


# --- restricting a case, locking a profile -----------------------------------------------------


def _managed_case(reference: str) -> Case:
    db, user = session(), current_user()
    case = cases.case_by_reference(db, reference)
    if case is None or not can_see_case(db, user, case):
        abort(404)
    if not restricted.manages_case(user, case):
        abort(403)
    return case


@blueprint.route("/cases/<reference>/restriction", methods=["GET", "POST"])
def case_restriction(reference: str) -> Any:
    case = _managed_case(reference)
    db = session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            restricted.set_case_restricted(
                db, current_actor(), current_user(), case_id=case.id,
                restricted=request.form.get("restricted") == "yes",
                reason=request.form.get("reason", ""))
        except InvalidRequest as error:
            db.rollback()
            errors = {"reason": error.field_errors.get("reason", str(error))}
        else:
            flash("The case is restricted" if case.restricted
                  else "The case is no longer restricted", "success")
            return redirect(url_for("cases.show", reference=case.reference))
    return render_template("access/case_restriction.html", case=case, errors=errors,
                           form=request.form, grants=restricted.grants_for(db, case.id)), \
        400 if errors else 200


@blueprint.route("/people/<int:person_id>/lock", methods=["GET", "POST"])
def person_lock(person_id: int) -> Any:
    db, user = session(), current_user()
    person = db.get(Person, person_id)
    if person is None or not works_with_person(db, user, person):
        abort(404)
    if not restricted.may_lock_person(db, user, person):
        abort(403)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            restricted.set_person_locked(db, current_actor(), user, person_id=person.id,
                                         locked=request.form.get("locked") == "yes",
                                         reason=request.form.get("reason", ""))
        except InvalidRequest as error:
            db.rollback()
            errors = {"reason": error.field_errors.get("reason", str(error))}
        else:
            flash("The profile is locked" if person.restricted
                  else "The profile is no longer locked", "success")
            return redirect(url_for("profiles.person", person_id=person.id))
    return render_template("access/person_lock.html", person=person, errors=errors,
                           form=request.form), 400 if errors else 200


# --- the agreement -----------------------------------------------------------------------------


def _may_read_agreement(user: User) -> bool:
    return any(user.has_role(r) for r in (Role.MANAGER, Role.PARTNERSHIP_ADMIN, Role.AUDITOR))


@blueprint.get("/admin/sharing")
def agreement() -> Any:
    db, user = session(), current_user()
    if not _may_read_agreement(user):
        abort(403)
    found = agreement_in_force(db)
    record(db, current_actor(), AuditAction.VIEW, entity_type="sharing_agreement_versions",
           entity_id=found.version)
    return render_template("access/agreement.html", agreement=found, lines=describe(found),
                           versions=history(db))

"""GET/POST /cases/new: open a case on one page, without JavaScript and without losing what
was typed. Nothing personal is kept between requests except in the form itself.

The page posts back to itself with one of two buttons:
- action=check: look for people already on Casebridge (a SEARCH audit entry, counts only)
  and show them, each with a "Use this person" choice;
- action=create: check everything, and if the duplicate check has not been seen for the
  name, date of birth and postcode as they now stand, run it and show the matches instead
  of creating; otherwise create the person (or use the one chosen), the location (or reuse
  one), the case and its participants in this request's one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from casebridge import clock
from rules import detectors
from storage.accounts.models import User
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case, ParticipantRole, RiskLevel
from storage.cases.services import add_participant
from storage.cases.workflow import open_case
from storage.errors import InvalidRequest
from storage.people.models import ContactMethod, Location, Person, VulnerabilityKind
from storage.people.services import create_location, create_person
from web import formatting, navigation
from web.auth import current_actor, current_user
from web.database import session
from web.intake import lookups
from web.intake.form import NEW_PERSON, PERPETRATOR_ROLES, PERSON_ROLES, IntakeForm

blueprint = Blueprint("intake", __name__)
navigation.add("New case", "intake.new")

TEMPLATE = "intake/new.html"


@blueprint.route("/cases/new", methods=["GET", "POST"])
def new() -> Any:
    db, user = session(), current_user()
    case_types = lookups.case_types_for(db, user)
    if not case_types.allowed:
        return render_template("intake/none_allowed.html", case_types=case_types, user=user)
    if request.method == "GET":
        return _page(IntakeForm.empty(), case_types)
    form = IntakeForm.from_form(request.form, request.form.getlist("vulnerabilities"))
    action = request.form.get("action")
    if action == "check":
        return _check(db, user, form, case_types)
    if action == "create":
        return _create(db, user, form, case_types)
    abort(400)


def _today() -> date:
    """Today in the partnership's time zone (a date of birth is a local date)."""
    local = formatting.local(clock.now())
    assert local is not None
    return local.date()


def _check(db: Session, user: User, form: IntakeForm, case_types: lookups.CaseTypes) -> Any:
    if form.check_for_duplicates(_today()):
        return _page(form, case_types), 400
    matches = _matches(db, user, form)
    if matches is None:
        return _page(form, case_types), 400
    _audit_check(db, current_actor(), matches)
    return _page(form, case_types, matches=matches, checked=form.check_key())


def _create(db: Session, user: User, form: IntakeForm, case_types: lookups.CaseTypes) -> Any:
    errors = form.check_everything(_today(), case_types.allowed)
    matches = None
    if not any(name in errors for name in ("given_name", "family_name", "date_of_birth",
                                           "postcode")):
        matches = _matches(db, user, form)
    seen = matches is not None and form["checked"] == form.check_key()
    chosen: Person | None = None
    if seen and matches:
        choice = form["person"]
        if not choice:
            errors["person"] = ("Choose the person if they are already on Casebridge, "
                                "or 'None of these'")
        elif choice != NEW_PERSON:
            chosen_id = next((m.person_id for m in matches if str(m.person_id) == choice), None)
            if chosen_id is None:
                errors["person"] = "Choose one of the people listed, or 'None of these'"
            else:
                chosen = db.get(Person, chosen_id)
    actor = current_actor()
    if errors:
        return _refuse(db, actor, form, case_types, matches)
    if matches and not seen:
        # Nobody skips the check: show who may already be on Casebridge first.
        _audit_check(db, actor, matches)
        return _page(form, case_types, matches=matches, checked=form.check_key(),
                     check_first=True)
    if matches is not None and not seen:
        _audit_check(db, actor, matches)  # checked now, and nobody matched
    try:
        case = _open(db, user, actor, form, chosen)
    except InvalidRequest as problem:
        db.rollback()  # nothing half-made stays
        form.errors.update(problem.field_errors)
        return _refuse(db, actor, form, case_types, matches)
    # The detectors for the people and the place on it, in this request's transaction: a
    # hit is recorded, flagged and its e-mail queued with the case, and shown at once.
    hits = detectors.detect_for_case(db, _detectors(), case.id)
    flash(f"Case {case.reference} opened", "success")
    for hit in hits:
        flash(hit.message, "detector")
    return redirect(url_for("cases.show", reference=case.reference))


def _detectors() -> detectors.DetectorsConfig:
    return detectors.for_settings(current_app.extensions["casebridge.runtime"].settings)


def _refuse(db: Session, actor: Actor, form: IntakeForm, case_types: lookups.CaseTypes,
            matches: list[lookups.Match] | None) -> Any:
    """The page again with every problem and everything typed. Nothing is written, except
    the audit entry for a duplicate check whose results are on it (kept despite the 400)."""
    if matches is not None:
        db.rollback()
        _audit_check(db, actor, matches)
        db.commit()
    return _page(form, case_types, matches=matches,
                 checked=form.check_key() if matches is not None else ""), 400


def _matches(db: Session, user: User, form: IntakeForm) -> list[lookups.Match] | None:
    """Who may already be on Casebridge; None (with the errors on the form) if the check
    refuses what was typed."""
    try:
        return lookups.possible_duplicates(
            db, user, given_name=form["given_name"], family_name=form["family_name"],
            date_of_birth=form.date_of_birth, postcode=form.postcode, now=clock.now(),
            detectors=_detectors(),
        )
    except InvalidRequest as problem:
        for name, message in problem.field_errors.items():
            form.errors.setdefault(name if name in ("family_name", "postcode") else
                                   "family_name", message)
        return None


def _audit_check(db: Session, actor: Actor, matches: list[lookups.Match]) -> None:
    """Who searched, when, and how much they saw: no names, dates or addresses."""
    record(db, actor, AuditAction.SEARCH, entity_type="people", detail={
        "purpose": "duplicate check before opening a case",
        "matches": len(matches),
        "repeat_victims": sum(1 for m in matches if m.repeat_victim and not m.restricted),
    })


def _open(db: Session, user: User, actor: Actor, form: IntakeForm,
          chosen: Person | None) -> Case:
    """Write it all through the services; a problem raises InvalidRequest with the field
    names of this page."""
    v = form.values
    # The place first: if the victim lives there, their address reuses it (with its area).
    place = _location(db, actor, prefix="location_", address_line_1=v["location_address"],
                      description=v["location_description"], postcode=form.location_postcode,
                      area=v["location_area"])
    person = chosen
    if person is None:
        home_id = None
        if form.has_home_address:
            home = _location(db, actor, prefix="", address_line_1=v["address_line_1"],
                             town=v["town"], postcode=form.postcode)
            home_id = home.id
        person = create_person(  # its field names are this page's
            db, actor, given_name=v["given_name"], family_name=v["family_name"],
            date_of_birth=form.date_of_birth,
            preferred_contact=ContactMethod(v["preferred_contact"])
            if v["preferred_contact"] else None,
            phone=v["phone"] or None, email=v["email"] or None,
            home_location_id=home_id,
            vulnerabilities=[VulnerabilityKind(k) for k in form.vulnerabilities],
        )
    with _fields({"title": "title"}, default="case_type"):
        case = open_case(
            db, actor, case_type=v["case_type"], title=v["title"],
            owning_agency_id=user.agency_id, lead_officer_id=user.id,
            risk_level=RiskLevel(v["risk_level"]) if v["risk_level"] else None,
            summary=v["summary"] or None,
        )
    with _fields(default="person"):
        add_participant(db, actor, case_id=case.id, role=ParticipantRole(v["person_role"]),
                        person_id=person.id)
        add_participant(db, actor, case_id=case.id, role=ParticipantRole.INCIDENT_LOCATION,
                        location_id=place.id)
    if form.has_perpetrator:
        with _fields({"family_name": "perpetrator_family_name"},
                     default="perpetrator_family_name"):
            responsible = create_person(
                db, actor, given_name=v["perpetrator_given_name"],
                family_name=v["perpetrator_family_name"],
            )
            add_participant(db, actor, case_id=case.id,
                            role=ParticipantRole(v["perpetrator_role"]),
                            person_id=responsible.id)
    return case


def _location(db: Session, actor: Actor, *, prefix: str, address_line_1: str,
              postcode: str | None, town: str = "", description: str = "",
              area: str = "") -> Location:
    """Reuse the location already recorded at this address and postcode, or record it."""
    existing = lookups.existing_location(db, address_line_1=address_line_1, postcode=postcode)
    if existing is not None:
        return existing
    address_field = "address_line_1" if not prefix else f"{prefix}address"
    with _fields({"address_line_1": address_field, "postcode": f"{prefix}postcode",
                  "description": address_field, "area": f"{prefix}area"},
                 default=address_field):
        return create_location(db, actor, address_line_1=address_line_1 or None,
                               description=description or None, town=town or None,
                               postcode=postcode, area=area or None)


@contextmanager
def _fields(names: dict[str, str] | None = None, default: str | None = None) -> Iterator[None]:
    """Rename a service's field errors to this page's fields: by `names`, else `default`,
    else unchanged."""
    try:
        yield
    except InvalidRequest as problem:
        renamed: dict[str, str] = {}
        for name, message in problem.field_errors.items():
            renamed.setdefault((names or {}).get(name) or default or name, message)
        raise InvalidRequest(renamed) from problem


def _page(form: IntakeForm, case_types: lookups.CaseTypes, *,
          matches: list[lookups.Match] | None = None, checked: str = "",
          check_first: bool = False) -> str:
    return render_template(
        TEMPLATE,
        form=form,
        errors=form.errors,
        error_list=form.error_list(),
        case_types=list(case_types.allowed.values()),
        type_names=case_types.names,
        risk_levels=list(RiskLevel),
        person_roles=PERSON_ROLES,
        perpetrator_roles=PERPETRATOR_ROLES,
        contact_methods=list(ContactMethod),
        vulnerability_kinds=list(VulnerabilityKind),
        matches=matches,
        checked=checked,
        check_first=check_first,
        new_person=NEW_PERSON,
        repeat_reports=_detectors()["repeat_victim"].reports,
        repeat_months=_detectors()["repeat_victim"].within_months,
        year_months=lookups.LONGER_WINDOW_MONTHS,
    )

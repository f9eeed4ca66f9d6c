"""GET /people/<id> and GET /locations/<id>: the shared profiles, each view audited.

GET/POST /people/<id>/change ("profiles.change_person"): change a person's details.
- Only a user whose agency works with the person (the users the profile shows their
  contact details to), and who does more than audit, may: anyone else is refused (403);
  an unknown person is a 404.
- A form with problems comes back (400) with a message next to each field and everything
  typed kept. A form loaded before someone else changed the person comes back (409) with
  what was typed kept and the page's version moved on, so checking and saving again works.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
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
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.canonical import jsonable
from rules import detectors
from storage.access import may_change_person
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import AccessDenied, ConcurrencyConflict, InvalidRequest, NotFound
from storage.people.models import ContactMethod, Location, Person, VulnerabilityKind
from storage.people.services import create_location, current_home, update_person
from web.auth import current_actor, current_user
from web.database import session
from web.formatting import local
from web.profiles import records
from web.profiles.changes import DetailsForm

blueprint = Blueprint("profiles", __name__)

CONFLICT_MESSAGE = (
    "Someone else changed this person's details while you were changing them. Your changes "
    "have not been saved yet: they are still below. Check the profile to see what changed, "
    "then check your changes and save them again."
)
NOT_ALLOWED = (
    "Only the agencies working with this person can change their details: the agency that "
    "recorded them and the agencies working their cases. Contact one of them (they are listed "
    "on the profile) if something needs correcting."
)


@blueprint.get("/people/<int:person_id>")
def person(person_id: int) -> Any:
    db, user, now = session(), current_user(), clock.now()
    found = db.get(Person, person_id)
    if found is None:
        abort(404)
    profile = records.person_profile(db, user, found, now=now, today=local(now).date(),
                                     detectors=_detectors())
    record(db, current_actor(), AuditAction.VIEW, entity=found,
           detail=None if profile.full else {"view": "name and agencies only (restricted)"})
    return render_template("profiles/person.html", profile=profile, rules=records,
                           can_change=profile.contact and may_change_person(db, user, found))


@blueprint.get("/locations/<int:location_id>")
def location(location_id: int) -> Any:
    db, user, now = session(), current_user(), clock.now()
    found = db.get(Location, location_id)
    if found is None:
        abort(404)
    profile = records.location_profile(db, user, found, now=now, today=local(now).date(),
                                       detectors=_detectors())
    record(db, current_actor(), AuditAction.VIEW, entity=found)
    return render_template("profiles/location.html", profile=profile, rules=records)


# --- changing a person's details --------------------------------------------------------------


@blueprint.route("/people/<int:person_id>/change", methods=["GET", "POST"],
                 endpoint="change_person")
def change_person(person_id: int) -> Any:
    db, user = session(), current_user()
    found = db.get(Person, person_id)
    if found is None:
        abort(404)
    if not may_change_person(db, user, found):
        return _not_allowed()
    today = _today()
    home = current_home(found, today)
    home_location = home.location if home else None
    if request.method == "GET":
        record(db, current_actor(), AuditAction.VIEW, entity=found,
               detail={"view": "change details form"})
        return _page(found, DetailsForm.from_person(found, home_location), version=_token(found))

    posted = request.form.get("version", "")
    try:
        expected = datetime.fromisoformat(posted)
    except ValueError:
        abort(400)
    if expected.tzinfo is None:
        abort(400)
    form = DetailsForm.from_form(request.form, request.form.getlist("vulnerabilities"))
    if form.check(found, today):
        return _page(found, form, version=posted, status=400)
    actor = current_actor()
    try:
        changes = form.changes()
        if form.address_changed(home_location):
            changes["home_location_id"] = _home_location_id(db, actor, form)
        changed = update_person(db, actor, found.id, expected_updated_at=expected, **changes)
    except ConcurrencyConflict:
        return _conflict(db, person_id, form)
    except OperationalError as exc:
        # SQLite: someone else wrote after this request read (before update_person could
        # tell): the same conflict.
        if getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY_SNAPSHOT:
            return _conflict(db, person_id, form)
        raise
    except InvalidRequest as exc:
        db.rollback()
        for name, message in exc.field_errors.items():
            form.errors.setdefault("address_line_1" if name in ("home_location_id",
                                                                "description") else name,
                                   message)
        return _page(found, form, version=posted, status=400)
    except AccessDenied:
        db.rollback()
        return _not_allowed()
    except NotFound:
        db.rollback()
        abort(404)
    # (No names in the message: flashed messages travel in the session cookie.)
    if changed.updated_at == expected:
        flash("Nothing was changed: the details are as they were.", "info")
    else:
        flash("Their details have been changed.", "success")
    return redirect(url_for("profiles.person", person_id=person_id))


def _home_location_id(db: Session, actor: Actor, form: DetailsForm) -> int | None:
    """Where the typed home address is: a location already recorded with the same first
    line, town and postcode, or a new one. (None: they have no home address now.)"""
    if not form.has_address:
        return None
    line, town = form["address_line_1"], form["town"]
    existing = db.scalars(
        select(Location)
        .where(func.lower(func.trim(Location.address_line_1)) == line.lower(),
               func.lower(func.coalesce(Location.town, "")) == town.lower(),
               Location.postcode.is_(None) if form.postcode is None
               else Location.postcode == form.postcode)
        .order_by(Location.id)
        .limit(1)
    ).first()
    if existing is not None:
        return existing.id
    return create_location(db, actor, address_line_1=line, town=town or None,
                           postcode=form.postcode).id


def _conflict(db: Session, person_id: int, form: DetailsForm) -> Any:
    db.rollback()
    current = db.get(Person, person_id, populate_existing=True)
    if current is None:
        abort(404)
    return _page(current, form, version=_token(current), status=409, conflict=True)


def _token(person: Person) -> str:
    """The form's version: when the person was last changed (to the microsecond)."""
    return jsonable(person.updated_at)


def _today() -> date:
    """Today in the partnership's time zone (a date of birth is a local date)."""
    moment = local(clock.now())
    assert moment is not None
    return moment.date()


def _not_allowed() -> Any:
    return render_template("errors/error.html", status=403,
                           title="You cannot change these details", detail=NOT_ALLOWED), 403


def _page(person: Person, form: DetailsForm, *, version: str, status: int = 200,
          conflict: bool = False) -> Any:
    return render_template(
        "profiles/change.html",
        person=person,
        form=form,
        errors=form.errors,
        error_list=form.error_list(),
        version=version,
        conflict=conflict,
        conflict_message=CONFLICT_MESSAGE,
        contact_methods=list(ContactMethod),
        vulnerability_kinds=list(VulnerabilityKind),
    ), status


def _detectors() -> detectors.DetectorsConfig:
    """The partnership's detector rules (the repeat-victim and hot-spot counts shown)."""
    return detectors.for_settings(current_app.extensions["casebridge.runtime"].settings)

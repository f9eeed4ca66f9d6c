"""GET /people/<id> and GET /locations/<id>: the shared profiles, each view audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template

from casebridge import clock
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.people.models import Location, Person
from web.auth import current_actor, current_user
from web.database import session
from web.formatting import local
from web.profiles import records

blueprint = Blueprint("profiles", __name__)


@blueprint.get("/people/<int:person_id>")
def person(person_id: int) -> Any:
    db, user, now = session(), current_user(), clock.now()
    found = db.get(Person, person_id)
    if found is None:
        abort(404)
    profile = records.person_profile(db, user, found, now=now, today=local(now).date())
    record(db, current_actor(), AuditAction.VIEW, entity=found,
           detail=None if profile.full else {"view": "name and agencies only (restricted)"})
    return render_template("profiles/person.html", profile=profile, rules=records)


@blueprint.get("/locations/<int:location_id>")
def location(location_id: int) -> Any:
    db, user, now = session(), current_user(), clock.now()
    found = db.get(Location, location_id)
    if found is None:
        abort(404)
    profile = records.location_profile(db, user, found, now=now, today=local(now).date())
    record(db, current_actor(), AuditAction.VIEW, entity=found)
    return render_template("profiles/location.html", profile=profile, rules=records)

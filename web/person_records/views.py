"""Beside the person profile (web/profiles), pages about the record itself:

GET /people/<id>/history: "History of changes": every change to their details, before and
after, from the audit chain (which update_person writes), for the users the profile shows
their details to (storage.access.works_with_person). Corrections keep their history.

GET /people/<id>/subject-access.json (and .pdf): everything held about them that the
requesting user's agency may release, for managers and partnership administrators of an
agency working with them; audited as an export.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, render_template
from sqlalchemy import select

from storage.access import works_with_person
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.audit.models import AuditAction, AuditEntry
from storage.audit.search import readable_changes
from storage.audit.services import record
from storage.people.models import Person
from storage.people.subject_access import subject_access_export
from web.auth import current_actor, current_user
from web.database import session

blueprint = Blueprint("person_records", __name__)
SUBJECT_ACCESS_ROLES = (Role.MANAGER, Role.PARTNERSHIP_ADMIN)
HISTORY_LIMIT = 500


def _person(person_id: int) -> Person:
    found = session().get(Person, person_id)
    if found is None:
        abort(404)
    return found


@blueprint.get("/people/<int:person_id>/history")
def history(person_id: int) -> Any:
    db, user = session(), current_user()
    person = _person(person_id)
    if not works_with_person(db, user, person):
        abort(403)
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == Person.__tablename__,
               AuditEntry.entity_id == str(person.id),
               AuditEntry.action.in_([AuditAction.CREATE, AuditAction.UPDATE]))
        .order_by(AuditEntry.seq.desc()).limit(HISTORY_LIMIT)).all()
    ids = {e.actor_user_id for e in entries if e.actor_user_id}
    names = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) \
        if ids else {}
    agencies = dict(db.execute(select(Agency.id, Agency.name)).all())
    changes = [(entry, *readable_changes(entry)) for entry in entries]
    record(db, current_actor(), AuditAction.VIEW, entity=person,
           detail={"view": "history of changes"})
    return render_template("person_records/history.html", person=person, changes=changes,
                           names=names, agencies=agencies)


def may_export(user: User, person: Person) -> bool:
    return any(user.has_role(r) for r in SUBJECT_ACCESS_ROLES) and user.active


@blueprint.get("/people/<int:person_id>/subject-access.<any(json, pdf):fmt>")
def subject_access(person_id: int, fmt: str) -> Any:
    db, user = session(), current_user()
    person = _person(person_id)
    if not may_export(user, person) or not works_with_person(db, user, person):
        abort(403)
    held = subject_access_export(db, user, person)
    record(db, current_actor(), AuditAction.EXPORT, entity=person,
           detail={"export": "subject access request", "format": fmt,
                   "cases": len(held["cases"])})
    name = f"subject-access-{person.id}.{fmt}"
    headers = {"Content-Disposition": f"attachment; filename={name}"}
    if fmt == "pdf":
        from web.person_records.pdf import render

        return Response(render(held), mimetype="application/pdf", headers=headers)
    return Response(json.dumps(held, indent=2, ensure_ascii=False, sort_keys=False),
                    mimetype="application/json", headers=headers)

"""Subject access: everything held about one person that the requesting user's agency may
release. The cases come through `storage.access.visible_cases`, the same rule every page
uses; a note kept to its author's agency is included only for that agency (as on the case
page). Gathering it is a read: the caller audits it as an export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from casebridge import clock
from casebridge.canonical import jsonable
from forms.loader import shipped_forms
from storage.access import answers_for, visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import Case, CaseParticipant, Note
from storage.documents.models import Document
from storage.flags.models import Flag
from storage.people.models import Person

PROFILE_FIELDS = ("given_name", "family_name", "known_as", "date_of_birth", "gender",
                  "preferred_contact", "phone", "email", "safe_to_leave_messages",
                  "contact_notes", "needs_interpreter", "language", "restricted",
                  "created_at", "updated_at")


def subject_access_export(session: Session, user: User, person: Person) -> dict[str, Any]:
    agencies = dict(session.execute(select(Agency.id, Agency.name)).all())
    forms = shipped_forms()  # answers to fields restricted to other roles are left out
    visible = visible_cases(user)
    rows = session.execute(
        select(CaseParticipant.role, Case)
        .join(Case, Case.id == CaseParticipant.case_id)
        .where(CaseParticipant.person_id == person.id, visible)
        .options(selectinload(Case.stages), selectinload(Case.actions))
        .order_by(Case.opened_at, Case.id)).all()
    roles: dict[int, list[str]] = {}
    cases: dict[int, Case] = {}
    for role, case in rows:
        roles.setdefault(case.id, []).append(str(getattr(role, "value", role)))
        cases[case.id] = case
    case_ids = list(cases)
    author = aliased(User)
    notes = session.execute(
        select(Note).outerjoin(author, author.id == Note.author_id)
        .where(Note.case_id.in_(case_ids),
               or_(Note.restricted_to_agency.is_(False), author.agency_id == user.agency_id))
        .order_by(Note.created_at, Note.id)).scalars().all() if case_ids else []
    documents = session.scalars(select(Document).where(Document.case_id.in_(case_ids))
                                .order_by(Document.uploaded_at)).all() if case_ids else []
    flags = session.scalars(
        select(Flag).where(Flag.person_id == person.id)
        .where(or_(Flag.case_id.is_(None),
                   Flag.case_id.in_(select(Case.id).where(visible))))
        .order_by(Flag.raised_at)).all()

    def case_entry(case: Case) -> dict[str, Any]:
        return {
            "reference": case.reference, "case_type": case.case_type, "title": case.title,
            "summary": case.summary, "status": case.status.value,
            "risk_level": case.risk_level.value if case.risk_level else None,
            "owning_agency": agencies.get(case.owning_agency_id),
            "their_role": roles[case.id],
            "opened_at": jsonable(case.opened_at), "closed_at": jsonable(case.closed_at),
            "closure_reason": case.closure_reason,
            "stages": [{"stage": s.stage_key, "status": s.status.value,
                        "opened_at": jsonable(s.opened_at),
                        "completed_at": jsonable(s.completed_at),
                        "answers": jsonable(answers_for(user, forms.get(s.form_key or ""),
                                                        s.form_data))}
                       for s in case.stages],
            "actions": [{"title": a.title, "detail": a.detail, "status": a.status.value,
                         "agency": agencies.get(a.assigned_agency_id),
                         "due_at": jsonable(a.due_at), "outcome": a.outcome,
                         "completed_at": jsonable(a.completed_at)} for a in case.actions],
            "notes": [{"written_at": jsonable(n.created_at), "text": n.body}
                      for n in notes if n.case_id == case.id],
            "documents": [{"filename": d.filename, "content_type": d.content_type,
                           "size_bytes": d.size_bytes, "uploaded_at": jsonable(d.uploaded_at)}
                          for d in documents if d.case_id == case.id],
        }

    return {
        "subject_access_request": {
            "produced_at": jsonable(clock.now()),
            "produced_for_agency": agencies.get(user.agency_id),
            "scope": "Everything this agency may see about the person on Casebridge. Cases "
                     "other agencies hold and have not shared with it are not included: "
                     "ask those agencies.",
        },
        "person": {name: jsonable(getattr(person, name)) for name in PROFILE_FIELDS},
        "addresses": [{"kind": a.kind.value, "from": jsonable(a.from_date),
                       "until": jsonable(a.until_date),
                       "address": ", ".join(p for p in (
                           a.location.address_line_1, a.location.address_line_2,
                           a.location.town, a.location.postcode, a.location.description) if p)}
                      for a in person.addresses],
        "vulnerabilities": [{"kind": v.kind.value, "detail": v.detail,
                             "recorded_at": jsonable(v.recorded_at)}
                            for v in person.vulnerabilities],
        "flags": [{"kind": f.kind.value, "detail": f.detail, "raised_at": jsonable(f.raised_at),
                   "cleared_at": jsonable(f.cleared_at),
                   "case": cases[f.case_id].reference if f.case_id in cases else None}
                  for f in flags],
        "cases": [case_entry(c) for c in cases.values()],
    }

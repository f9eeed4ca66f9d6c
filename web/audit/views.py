"""/audit: the audit log for auditors and partnership administrators. Search by user,
agency, action, case, entity and dates, newest first, keyset-paged on seq (the log runs to
millions of entries); export the search as CSV (streamed, audited as an export); see when
the chain was last verified, or verify the newest entries now.

Every search and export is itself audited. Filters are ids, codes and dates: nothing a
victim could be named by (the e-mail address of the user searched for becomes an id).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.access import hidden_answer_keys
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.audit import search as audit_search
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.services import case_by_reference
from web import navigation
from web.auth import current_actor, current_user, requires_role
from web.database import session
from web.search.finders import parse_date

blueprint = Blueprint("audit", __name__)
AUDIT_ROLES = (Role.AUDITOR, Role.PARTNERSHIP_ADMIN)
navigation.add("Audit log", "audit.index", roles=AUDIT_ROLES)
PAGE_SIZE = 50
# "Verify now" on the page walks at most this many of the newest entries.
VERIFY_NEWEST = 10_000
FIELDS = ("user", "agency", "action", "case", "entity_type", "entity_id", "since", "until")


def _filters() -> tuple[audit_search.AuditFilters, dict[str, str], dict[str, str]]:
    """The search from the query string: (filters, a message per bad field, what was typed)."""
    args = {k: request.args.get(k, "").strip()[:200] for k in FIELDS}
    errors: dict[str, str] = {}
    db = session()
    user_id = agency_id = case_id = None
    action = None
    if args["user"]:
        user_id = db.scalar(select(User.id).where(User.email == args["user"].lower()))
        if user_id is None:
            errors["user"] = "No user has that e-mail address"
    if args["agency"]:
        agency_id = int(args["agency"]) if args["agency"].isdigit() else None
        if agency_id is None or db.get(Agency, agency_id) is None:
            errors["agency"] = "Choose an agency from the list"
    if args["action"]:
        try:
            action = AuditAction(args["action"])
        except ValueError:
            errors["action"] = "Choose an action from the list"
    if args["case"]:
        found = case_by_reference(db, args["case"].upper())
        if found is not None:
            case_id = found.id
        elif args["case"].isdigit():
            case_id = int(args["case"])  # a deleted case is known only by its id
        else:
            errors["case"] = "No case has that reference (for a deleted case, enter its number)"
    zone = ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)
    since = until = None
    for name in ("since", "until"):
        if args[name]:
            day = parse_date(args[name])
            if day is None:
                errors[name] = "Enter a real date, like 27/03/2026"
            elif name == "since":
                since = datetime.combine(day, time(), tzinfo=zone)
            else:
                until = datetime.combine(day, time(), tzinfo=zone) + timedelta(days=1)
    if since and until and until <= since:
        errors["until"] = "The end date must be the same as or after the start date"
    filters = audit_search.AuditFilters(
        user_id=user_id, agency_id=agency_id, action=action, case_id=case_id,
        entity_type=args["entity_type"][:60] or None, entity_id=args["entity_id"][:60] or None,
        since=since, until=until)
    return filters, errors, args


@blueprint.get("/audit")
@requires_role(*AUDIT_ROLES)
def index() -> Any:
    db = session()
    filters, errors, args = _filters()
    before = request.args.get("before", "")
    page = None
    if not errors:
        page = audit_search.search(db, filters, limit=PAGE_SIZE,
                                   before_seq=int(before) if before.isdigit() else None)
        record(db, current_actor(), AuditAction.SEARCH, entity_type="audit_log",
               detail={"filters": filters.described(), "shown": len(page.entries)})
    agencies = db.scalars(select(Agency).order_by(Agency.name)).all()
    hidden = hidden_answer_keys(current_user())  # restricted answers stay masked here too
    return render_template(
        "audit/index.html", page=page, errors=errors, args=args,
        query={k: v for k, v in args.items() if v},
        agencies=agencies, agency_names={a.id: a.name for a in agencies},
        users=_names(db, {e.actor_user_id for e in page.entries} if page else set()),
        actions=list(AuditAction),
        readable=lambda e: audit_search.readable_changes(e, hidden),
        redaction=audit_search.redaction_of,
        last_check=audit_search.last_verification(db), head=audit_search.last_seq(db),
        verify_newest=VERIFY_NEWEST,
    ), (400 if errors else 200)


def _names(db: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(db.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


@blueprint.get("/audit/export.csv")
@requires_role(*AUDIT_ROLES)
def export() -> Any:
    filters, errors, args = _filters()
    if errors:
        return redirect(url_for("audit.index", **{k: v for k, v in args.items() if v}))
    db = session()
    record(db, current_actor(), AuditAction.EXPORT, entity_type="audit_log",
           detail={"filters": filters.described(), "format": "csv"})
    db.commit()  # the export is on the record before its first row leaves

    hidden = hidden_answer_keys(current_user())
    runtime = current_app.extensions["casebridge.runtime"]

    def rows() -> Iterator[str]:
        # Its own session, closed when the last row has gone: the request's is closed at
        # the request's end, and reading through it afterwards would open a transaction
        # (and hold a connection) that nothing ends.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(audit_search.CSV_COLUMNS)
        with runtime.sessions() as reading:
            for n, entry in enumerate(audit_search.iter_entries(reading, filters), 1):
                writer.writerow(audit_search.csv_row(entry, hidden))
                if n % 500 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=casebridge-audit.csv"})


@blueprint.post("/audit/verify")
@requires_role(*AUDIT_ROLES)
def verify() -> Any:
    """Verify the newest entries now: bounded, so a page never walks millions of rows (the
    whole chain is `casebridge audit verify`, which records its result here too)."""
    db = session()
    last = audit_search.last_seq(db)
    first = max(1, last - VERIFY_NEWEST + 1)
    report = audit_search.verify_range(db, first, last)
    audit_search.record_verification(db, report, from_seq=first, to_seq=last,
                                     actor_label=current_actor().label)
    record(db, current_actor(), AuditAction.VIEW, entity_type="audit_log", entity_id="verify",
           detail={"from_seq": first, "to_seq": last, "intact": report.intact,
                   "redacted": report.redacted})
    if report.intact:
        redacted = f", {report.redacted} of them redacted" if report.redacted else ""
        flash(f"Entries {first} to {last} are intact: {report.checked} checked{redacted}.",
              "success")
    else:
        flash(f"The audit chain is broken: {report.reason}. Tell your administrator.", "error")
    return redirect(url_for("audit.index"))

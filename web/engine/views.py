"""The engine's admin page: what the outbox owes, the effects that failed and why, and a
button to try them again, for partnership administrators (the CLI has `engine status` and
`engine retry`; this is the same without a terminal). Only ids, kinds and errors are shown:
payloads may name a recipient, and failed effects cover every agency's cases."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from storage.accounts.models import Role
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.cases.models import Case
from storage.outbox import dispatch as outbox
from storage.outbox.models import OutboxMessage
from web.auth import current_actor, current_user
from web.database import session
from web.numbers import whole_number

blueprint = Blueprint("engine", __name__)


def _admin_only() -> None:
    if not current_user().has_role(Role.PARTNERSHIP_ADMIN):
        abort(403)


@blueprint.get("/admin/engine")
def index() -> Any:
    _admin_only()
    db = session()
    backlog = outbox.backlog(db, failed_limit=200)
    ids = [row[0] for row in backlog.failed]
    references = dict(db.execute(
        select(OutboxMessage.id, Case.reference).join(Case, Case.id == OutboxMessage.case_id)
        .where(OutboxMessage.id.in_(ids))).all()) if ids else {}
    record(db, current_actor(), AuditAction.VIEW, entity_type="outbox", entity_id="admin")
    by_status: dict[str, int] = {}
    for (status, _kind), n in backlog.counts.items():
        by_status[status] = by_status.get(status, 0) + n
    return render_template(
        "engine/index.html", backlog=backlog, by_status=by_status, references=references,
        kinds=sorted({kind for _status, kind in backlog.counts}),
    )


@blueprint.post("/admin/engine/retry")
def retry() -> Any:
    _admin_only()
    db = session()
    if request.form.get("all") == "failed":
        changed = outbox.retry(db, all_failed=True)
        target = "all-failed"
    else:
        message_id = whole_number(request.form.get("message_id"))
        if message_id is None:
            abort(400)
        changed = outbox.retry(db, message_id=message_id)
        target = str(message_id)
    record(db, current_actor(), AuditAction.UPDATE, entity_type="outbox", entity_id=target,
           detail={"retried": changed})
    if changed:
        flash(f"{changed} effect{'s' if changed != 1 else ''} queued to be tried again",
              "success")
    else:
        flash("Nothing to try again: it was sent or is being sent already")
    return redirect(url_for("engine.index"))

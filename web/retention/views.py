"""/retention: the review list the retention sweep builds, for managers (their agency's
cases) and partnership administrators (every case). For each closed case past its retention
period: approve its deletion (with a confirmation), or keep it for some more months with a
reason. Deleting removes the case and everything personal hanging off it in one transaction
(storage/retention/services.py); the stored files go once that has committed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from casebridge import clock
from storage.accounts.models import Role
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import AccessDenied, InvalidRequest, InvalidState, NotFound
from storage.retention import services as retention
from storage.retention.models import ReviewStatus
from web import navigation
from web.auth import current_actor, current_user, requires_role
from web.database import after_commit, session

blueprint = Blueprint("retention", __name__)
navigation.add("Retention", "retention.index", roles=retention.DECIDERS)


def _page(errors: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None,
          status: int = 200) -> Any:
    db, user = session(), current_user()
    pending = retention.reviews_for(db, user, status=ReviewStatus.PENDING)
    decided = [*retention.reviews_for(db, user, status=ReviewStatus.DELETED, limit=25),
               *retention.reviews_for(db, user, status=ReviewStatus.KEPT, limit=25)]
    decided.sort(key=lambda r: r.decided_at, reverse=True)
    agencies = {a.id: a.name for a in db.query(Agency).all()}
    record(db, current_actor(), AuditAction.VIEW, entity_type="retention_reviews",
           entity_id="list", detail={"pending": len(pending)})
    return render_template("retention/index.html", pending=pending, decided=decided,
                           agencies=agencies, errors=dict(errors or {}), form=form or {},
                           max_months=retention.MAX_KEEP_MONTHS), status


@blueprint.get("/retention")
@requires_role(*retention.DECIDERS)
def index() -> Any:
    return _page()


@blueprint.post("/retention/<int:review_id>/delete")
@requires_role(*retention.DECIDERS)
def delete(review_id: int) -> Any:
    db = session()
    if request.form.get("confirm") != "yes":
        return _page({f"confirm-{review_id}": "Confirm that this case and everything "
                      "personal in it is to be deleted"}, request.form, 400)
    try:
        done = retention.approve_deletion(db, current_actor(), current_user(), review_id)
    except NotFound:
        abort(404)
    except AccessDenied:
        abort(403)
    except InvalidState as exc:
        db.rollback()
        return _page({f"confirm-{review_id}": str(exc)}, request.form, 409)
    if done.files:
        runtime = current_app.extensions["casebridge.runtime"]

        def remove_files() -> None:
            with runtime.sessions() as fresh:
                retention.remove_files(fresh, runtime.documents, done.files)

        after_commit(remove_files)
    if done.already:
        flash(f"{done.review.case_reference} had already been deleted.", "info")
    else:
        redacted = (f" Personal data was removed from {done.redacted} audit log entries about "
                    "it." if done.redacted else "")
        flash(f"{done.review.case_reference} and everything personal in it has been deleted."
              f"{redacted}", "success")
    return redirect(url_for("retention.index"))


@blueprint.post("/retention/<int:review_id>/keep")
@requires_role(*retention.DECIDERS)
def keep(review_id: int) -> Any:
    db = session()
    months_text = request.form.get("months", "").strip()
    months = int(months_text) if months_text.isdigit() and len(months_text) < 5 else None
    zone = ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)
    try:
        review = retention.keep(db, current_actor(), current_user(), review_id, months=months,
                                reason=request.form.get("reason", ""),
                                today=clock.now().astimezone(zone).date())
    except NotFound:
        abort(404)
    except AccessDenied:
        abort(403)
    except InvalidRequest as exc:
        db.rollback()
        return _page({f"{k}-{review_id}": v for k, v in exc.field_errors.items()},
                     request.form, 400)
    except InvalidState as exc:
        db.rollback()
        return _page({f"months-{review_id}": str(exc)}, request.form, 409)
    flash(f"{review.case_reference} will be kept and reviewed again after "
          f"{review.keep_until:%d/%m/%Y}.", "success")
    return redirect(url_for("retention.index"))


__all__ = ["Role", "blueprint"]

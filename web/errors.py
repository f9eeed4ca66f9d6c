"""Every error is a clear page in the service's own layout, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.base import Base
from web.auth import current_actor
from web.database import session

log = logging.getLogger("casebridge.web")

MESSAGES = {
    400: ("There is a problem with the request", "Go back and try again."),
    401: ("You need to sign in", "Sign in to carry on."),
    403: ("You do not have access to this page",
          "If you think you should, ask the agency that owns the record or your administrator."),
    404: ("Page not found", "Check the address, or find the record with search."),
    405: ("That cannot be done here", "Go back and use the buttons on the page."),
    413: ("The file is too big", "Files can be up to 25 MB."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service",
          "Nothing you saved has been lost. Try again later; if it keeps happening, tell "
          "your administrator the reference below."),
}


def refuse(status: int = 404, *, entity: Base | None = None, case_id: int | None = None,
           page: Response | None = None) -> Any:
    """Refuse a signed-in user a record (404 so as not to say it exists, or 403) and have the
    attempt audited, once, as ACCESS_DENIED naming the record. Any 403 is audited without
    this; a view calls it where it answers 404 for a record that exists but is not theirs,
    or to answer with a `page` of its own (e.g. a restricted case's "whom to contact")."""
    g.access_denied = {"entity": entity, "case_id": case_id}
    abort(page if page is not None else status)


def _audit_refusal(response: Response) -> Response:
    """Every refused access is audited (who, what, when, from where). The request boundary
    rolls back an error answer, so the refusal is written on its own: roll back whatever
    the view half did, record, commit."""
    refused = g.pop("access_denied", None)
    if g.get("user") is None or (refused is None and response.status_code != 403):
        return response
    refused = refused or {}
    entity = refused.get("entity")
    detail = {"endpoint": request.endpoint, "method": request.method,
              "status": response.status_code,
              # ids and references only: no query string (it may hold a searched-for name)
              "target": {k: str(v) for k, v in (request.view_args or {}).items()}}
    db = session()
    try:
        db.rollback()
        if entity is not None:
            record(db, current_actor(), AuditAction.ACCESS_DENIED, entity_type=type(entity)
                   .__tablename__, entity_id=entity.id, case_id=refused.get("case_id"),
                   detail=detail)
        else:
            record(db, current_actor(), AuditAction.ACCESS_DENIED, entity_type="route",
                   entity_id=request.endpoint, detail=detail)
        db.commit()
    except Exception:
        db.rollback()
        log.exception("could not audit a refused access (request %s)", g.get("request_id"))
    return response


def init_app(app: Flask) -> None:
    app.after_request(_audit_refusal)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render_template(
            "errors/error.html", status=400, title="Your form expired",
            detail="For your security, forms time out. Go back, reload the page and submit "
                   "again.", request_id=g.get("request_id"),
        ), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        code = error.code or 500
        title, detail = MESSAGES.get(code, (error.name, error.description or ""))
        if code == 413:
            limit = current_app.extensions["casebridge.runtime"].settings.upload_max_mb
            detail = f"Files can be up to {limit} MB."
        return render_template("errors/error.html", status=code, title=title, detail=detail,
                               request_id=g.get("request_id")), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error (request %s)", g.get("request_id"))
        title, detail = MESSAGES[500]
        return render_template("errors/error.html", status=500, title=title, detail=detail,
                               request_id=g.get("request_id")), 500

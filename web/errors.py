"""Every error is a clear page in the service's own layout, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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


def init_app(app: Flask) -> None:
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

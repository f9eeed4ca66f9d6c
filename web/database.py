"""One session per request; the request boundary commits, then runs after-commit work.

A response with an error status (a form sent back with messages, a conflict, a refusal)
rolls back instead, so a page that says "there is a problem" has written nothing. A view
that must keep something despite answering with an error (a failed sign-in attempt)
commits it explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session

log = logging.getLogger("casebridge.web")


def session() -> Session:
    if "db_session" not in g:
        runtime = current_app.extensions["casebridge.runtime"]
        g.db_session = runtime.sessions()
    return g.db_session


def after_commit(callback: Callable[[], None]) -> None:
    """Run once this request's transaction has committed (never if it rolls back)."""
    g.setdefault("after_commit", []).append(callback)


def init_app(app: Flask) -> None:
    @app.after_request
    def _note_status(response: Response) -> Response:
        g.response_failed = response.status_code >= 400
        return response

    @app.teardown_request
    def _finish(error: BaseException | None) -> None:
        db: Session | None = g.pop("db_session", None)
        callbacks = g.pop("after_commit", [])
        if db is None:
            return
        try:
            if error is None and not g.get("response_failed", False):
                db.commit()
            else:
                db.rollback()
                callbacks = []
        finally:
            db.close()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a failed wake-up must not turn a saved change into an error
                log.exception("after-commit callback failed")

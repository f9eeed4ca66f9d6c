"""The Flask application factory. No database work, no migrations: it only wires things."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, g, request

from casebridge.runtime import Runtime
from web import database


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=runtime.settings.effective_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,
    )
    app.extensions["casebridge.runtime"] = runtime
    logging.getLogger("casebridge").setLevel(runtime.settings.log_level)
    database.init_app(app)

    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"
        )
        return response

    from web.health.views import blueprint as health
    from web.overview.views import blueprint as overview

    app.register_blueprint(health)
    app.register_blueprint(overview)
    return app

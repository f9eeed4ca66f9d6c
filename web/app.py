"""The Flask application factory. No database work, no migrations: it only wires things."""

from __future__ import annotations

import importlib
import logging
import secrets
import uuid
from pathlib import Path

from flask import Blueprint, Flask, g, request, send_from_directory
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader, Template

from casebridge.runtime import Runtime
from web import auth, database, errors, formatting, navigation

VENDOR = Path(__file__).parent / "static" / "vendor"
csrf = CSRFProtect()


class _Template(Template):
    """Jinja's Template, with a cheaper answer to a question asked on every `{% import %}`
    and `{% from ... import %}` (the GOV.UK macros import their parts on every call: about
    a hundred times a page). Jinja asks which of the importing context's globals the
    imported template lacks by iterating a ChainMap in Python; the environment's own
    globals are a plain dict, and a name missing from those is missing from the ChainMap
    too, so when the caller has no globals beyond the environment's the answer is "none"
    and Jinja returns its cached module, which is what this does without the slow check.
    Otherwise Jinja's own code answers, unchanged."""

    def _get_default_module(self, ctx=None):  # type: ignore[no-untyped-def]
        if ctx is not None and not (ctx.globals_keys - self.environment.globals.keys()):
            ctx = None
        return super()._get_default_module(ctx)


def create_app(runtime: Runtime, *, testing: bool = False) -> Flask:
    app = Flask(__name__)
    settings = runtime.settings
    app.config.update(
        SECRET_KEY=settings.effective_secret_key(),
        TESTING=testing,
        SESSION_COOKIE_NAME="casebridge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=settings.session_max_hours * 3600,
        # The largest upload, and room for the rest of its form; a file over the limit but
        # under this is refused next to the field (storage.documents), one over it with 413.
        MAX_CONTENT_LENGTH=settings.upload_max_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed-in session
    )
    app.extensions["casebridge.runtime"] = runtime
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(Path(__file__).parent / "templates"),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ])
    app.jinja_env.template_class = _Template
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["upload_max_mb"] = settings.upload_max_mb
    logging.getLogger("casebridge").setLevel(settings.log_level)
    csrf.init_app(app)
    database.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    navigation.init_app(app)

    @app.before_request
    def _request_context() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy",
                                    "camera=(), microphone=(), geolocation=(), payment=()")
        if settings.secure_cookies:  # served over HTTPS: browsers should never try plain HTTP
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        nonce = g.get("csp_nonce", "")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        if request.endpoint not in ("static", "govuk_assets"):
            # Case data is never cached, whatever the view set (send_file says "no-cache",
            # which lets a shared computer's browser keep a downloaded document).
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/assets/<path:filename>")
    def govuk_assets(filename: str):  # type: ignore[no-untyped-def]
        """The design system's fonts and images, where its CSS expects them."""
        return send_from_directory(VENDOR / "govuk" / "assets", filename, max_age=86400)

    auth.public_endpoints.update({"govuk_assets", "static"})

    for blueprint in _feature_blueprints():
        app.register_blueprint(blueprint)
    return app


def _feature_blueprints() -> list[Blueprint]:
    """One package per feature: every web/<feature>/views.py with a `blueprint` is served,
    so adding a feature never means editing this file."""
    found = []
    for views in sorted(Path(__file__).parent.glob("*/views.py")):
        module = importlib.import_module(f"web.{views.parent.name}.views")
        blueprint = getattr(module, "blueprint", None)
        if isinstance(blueprint, Blueprint):
            found.append(blueprint)
    return found

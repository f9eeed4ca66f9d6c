from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from storage.accounts.services import SignInRefused, authenticate
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from web import navigation
from web.auth import current_actor, start_session
from web.database import session as db_session

blueprint = Blueprint("auth", __name__)


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    errors: dict[str, str] = {}
    email = request.form.get("email", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        if not email:
            errors["email"] = "Enter your e-mail address"
        if not password:
            errors["password"] = "Enter your password"  # noqa: S105 (a message)
        if not errors:
            settings = current_app.extensions["casebridge.runtime"].settings
            db = db_session()
            try:
                user = authenticate(
                    db, email=email, password=password, ip_address=request.remote_addr,
                    max_attempts=settings.sign_in_attempts,
                    lockout=timedelta(minutes=settings.lockout_minutes),
                )
            except SignInRefused as refused:
                errors["email"] = str(refused)
                db.commit()  # the failed attempt and any lockout are kept
            else:
                start_session(user)
                return redirect(_safe_next(request.args.get("next")))
    return render_template(
        "auth/sign_in.html", errors=errors, email=email,
        expired=request.args.get("expired"),
    ), (400 if errors else 200)


@blueprint.post("/sign-out")
def sign_out() -> Any:
    if session.get("user_id"):
        record(db_session(), current_actor(), AuditAction.SIGN_OUT, entity_type="users",
               entity_id=session["user_id"])
    session.clear()
    return redirect(url_for("auth.sign_in", signed_out=1))


def _safe_next(target: str | None) -> str:
    """Only ever a path on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(navigation.HOME_ENDPOINT)


__all__ = ["Actor", "blueprint"]

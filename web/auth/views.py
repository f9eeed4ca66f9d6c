from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from casebridge import clock
from storage.accounts.models import User
from storage.accounts.resets import complete_reset, request_reset, usable_reset
from storage.accounts.services import SignInRefused, authenticate
from storage.accounts.two_factor import CodeRefused, verify_second_step
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest
from web import navigation
from web.auth import current_actor, start_session
from web.auth.limits import guarded
from web.database import session as db_session

blueprint = Blueprint("auth", __name__)

# How long the code step waits after a right password before it starts again.
SECOND_STEP_MINUTES = 5


def _settings() -> Any:
    return current_app.extensions["casebridge.runtime"].settings


@blueprint.route("/sign-in", methods=["GET", "POST"])
@guarded("sign-in")
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
            settings = _settings()
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
                target = _safe_next(request.args.get("next"))
                if user.two_factor_enrolled:
                    session.clear()
                    session.update(pending_user_id=user.id, pending_epoch=user.session_epoch,
                                   pending_at=clock.now().isoformat(), pending_next=target)
                    return redirect(url_for("auth.two_factor"))
                start_session(user)
                return redirect(target)
    return render_template(
        "auth/sign_in.html", errors=errors, email=email,
        expired=request.args.get("expired"), ended=request.args.get("ended"),
    ), (400 if errors else 200)


def _pending_user() -> User | None:
    """The user who gave the right password a moment ago, if the code step is still open."""
    user_id, at = session.get("pending_user_id"), session.get("pending_at")
    if user_id is None or at is None:
        return None
    try:
        started = datetime.fromisoformat(at)
    except ValueError:
        return None
    if clock.now() - started > timedelta(minutes=SECOND_STEP_MINUTES):
        return None
    user = db_session().get(User, user_id)
    if user is None or not user.active or user.session_epoch != session.get("pending_epoch"):
        return None
    return user


@blueprint.route("/sign-in/code", methods=["GET", "POST"])
@guarded("sign-in-code")
def two_factor() -> Any:
    user = _pending_user()
    if user is None:
        session.clear()
        return redirect(url_for("auth.sign_in", expired=1 if request.method == "POST" else None))
    errors: dict[str, str] = {}
    if request.method == "POST":
        code = request.form.get("code", "")
        if not code.strip():
            errors["code"] = "Enter the code from your authenticator app"
        else:
            settings = _settings()
            db = db_session()
            try:
                verify_second_step(db, user, code, ip_address=request.remote_addr,
                                   max_attempts=settings.sign_in_attempts,
                                   lockout=timedelta(minutes=settings.lockout_minutes))
            except CodeRefused as refused:
                errors["code"] = str(refused)
                db.commit()  # the failed attempt and any lockout are kept
            else:
                target = session.get("pending_next") or _safe_next(None)
                start_session(user)
                return redirect(_safe_next(target))
    return render_template("auth/code.html", errors=errors), (400 if errors else 200)


@blueprint.post("/sign-out")
def sign_out() -> Any:
    if session.get("user_id"):
        record(db_session(), current_actor(), AuditAction.SIGN_OUT, entity_type="users",
               entity_id=session["user_id"])
    session.clear()
    return redirect(url_for("auth.sign_in", signed_out=1))


@blueprint.route("/forgot-password", methods=["GET", "POST"])
@guarded("password-reset")
def forgot_password() -> Any:
    """The same answer whether or not the address has an account."""
    errors: dict[str, str] = {}
    email = request.form.get("email", "").strip()
    if request.method == "POST":
        if "@" not in email.strip("@"):
            errors["email"] = "Enter your e-mail address, like name@agency.gov.uk"
        else:
            settings = _settings()
            request_reset(db_session(), email=email,
                          secret_key=current_app.config["SECRET_KEY"],
                          lifetime=timedelta(minutes=settings.password_reset_minutes),
                          ip_address=request.remote_addr)
            return render_template("auth/reset_sent.html", email=email,
                                   minutes=settings.password_reset_minutes)
    return render_template("auth/forgot.html", errors=errors, email=email), (
        400 if errors else 200)


@blueprint.route("/reset-password/<token>", methods=["GET", "POST"])
@guarded("password-reset-link")
def reset_password(token: str) -> Any:
    db = db_session()
    if usable_reset(db, token) is None:
        return render_template("auth/reset_expired.html"), 404
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            complete_reset(db, token=token, password=request.form.get("password", ""),
                           repeat=request.form.get("repeat_password", ""),
                           ip_address=request.remote_addr)
        except InvalidRequest as invalid:
            errors = dict(invalid.field_errors)
        else:
            session.clear()
            return redirect(url_for("auth.sign_in", reset=1))
    return render_template("auth/reset.html", errors=errors, token=token), (
        400 if errors else 200)


def _safe_next(target: str | None) -> str:
    """Only ever a path on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for(navigation.HOME_ENDPOINT)


__all__ = ["Actor", "blueprint"]

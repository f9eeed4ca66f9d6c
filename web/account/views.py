"""Your account (two-factor set-up, recovery codes, password change) and, for managers and
partnership administrators, the accounts they look after: disable someone who has left,
enable them again, reset a lost authenticator."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from storage.accounts.models import User
from storage.accounts.services import change_password, managed_users, may_manage, set_active
from storage.accounts.two_factor import (
    confirm_enrolment,
    new_secret,
    provisioning_uri,
    remaining_recovery_codes,
    reset_two_factor,
)
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest
from web.auth import current_actor, current_user, must_enrol
from web.database import session as db_session

blueprint = Blueprint("account", __name__)


@blueprint.get("/account")
def index() -> Any:
    user = current_user()
    return render_template(
        "account/index.html", user=user,
        recovery_left=remaining_recovery_codes(db_session(), user),
        manages=bool(managed_users(db_session(), user)),
    )


@blueprint.route("/account/two-factor", methods=["GET", "POST"])
def enrol() -> Any:
    """Set up an authenticator app: the secret (as text and a QR code), then a code from
    the app to prove it has it. The secret waits in the signed session cookie of the user it
    belongs to until confirmed; the recovery codes are shown once, on the answer."""
    user = current_user()
    if user.two_factor_enrolled:
        return render_template("account/enrolled.html")
    secret = session.get("enrol_secret")
    if not secret or request.method == "GET":
        secret = session["enrol_secret"] = new_secret()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            codes = confirm_enrolment(db_session(), current_actor(), user, secret=secret,
                                      code=request.form.get("code", ""))
        except InvalidRequest as invalid:
            errors = dict(invalid.field_errors)
        else:
            session.pop("enrol_secret", None)
            return render_template("account/recovery_codes.html", codes=codes)
    uri = provisioning_uri(user, secret)
    qr = Markup(segno.make(uri, error="m").svg_inline(  # noqa: S704 (segno's own SVG)
        scale=4, title="QR code for your authenticator app"))
    return render_template("account/enrol.html", secret=secret, qr=qr, errors=errors,
                           required=must_enrol(user)), (400 if errors else 200)


@blueprint.route("/account/password", methods=["GET", "POST"])
def password() -> Any:
    user = current_user()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            change_password(db_session(), current_actor(), user,
                            current=request.form.get("current_password", ""),
                            new=request.form.get("new_password", ""),
                            repeat=request.form.get("repeat_password", ""))
        except InvalidRequest as invalid:
            errors = dict(invalid.field_errors)
        else:
            session["epoch"] = user.session_epoch  # this session goes on; the others end
            flash("Your password has been changed. You have been signed out everywhere else.",
                  "success")
            return redirect(url_for("account.index"))
    return render_template("account/password.html", errors=errors), (400 if errors else 200)


@blueprint.get("/users")
def users() -> Any:
    manager = current_user()
    listed = managed_users(db_session(), manager)
    if not listed:
        abort(403)
    record(db_session(), current_actor(), AuditAction.VIEW, entity_type="users",
           detail={"list": "managed accounts", "count": len(listed)})
    return render_template("account/users.html", users=listed, manager=manager,
                           may_manage=may_manage)


def _managed(user_id: int) -> User:
    user = db_session().get(User, user_id, options=[joinedload(User.role_grants)])
    if user is None:
        abort(404)
    if not may_manage(current_user(), user):
        record(db_session(), current_actor(), AuditAction.ACCESS_DENIED, entity=user,
               detail={"page": request.path})
        db_session().commit()  # the refusal is kept although the answer is an error
        abort(403)
    return user


@blueprint.post("/users/<int:user_id>/disable")
def disable(user_id: int) -> Any:
    user = _managed(user_id)
    set_active(db_session(), current_actor(), user, False)
    flash(f"{user.display_name} can no longer sign in, and has been signed out.", "success")
    return redirect(url_for("account.users"))


@blueprint.post("/users/<int:user_id>/enable")
def enable(user_id: int) -> Any:
    user = _managed(user_id)
    set_active(db_session(), current_actor(), user, True)
    flash(f"{user.display_name} can sign in again.", "success")
    return redirect(url_for("account.users"))


@blueprint.post("/users/<int:user_id>/reset-two-factor")
def reset(user_id: int) -> Any:
    user = _managed(user_id)
    reset_two_factor(db_session(), current_actor(), user)
    flash(f"{user.display_name}'s two-factor sign-in has been reset: they set it up again "
          "when they next sign in.", "success")
    return redirect(url_for("account.users"))

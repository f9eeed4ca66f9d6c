"""Who is signed in: sign-in is required everywhere except the few public endpoints, so a
new page is protected by default. Sessions end after idling, after a maximum age, and at
once when the user's session epoch moves (password reset or change, account disabled,
two-factor reset). A user whose role needs two-factor and who has not set it up reaches
nothing but the set-up page."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import joinedload

from casebridge import clock
from storage.accounts.models import Role, User
from storage.actors import Actor
from web.database import session as db_session

public_endpoints: set[str] = {
    "auth.sign_in", "auth.two_factor", "auth.forgot_password", "auth.reset_password",
    "health.healthz",
}
# What a user who must set up two-factor may still reach.
enrolment_endpoints: set[str] = {"account.enrol", "auth.sign_out", "static", "govuk_assets"}


def init_app(app: Flask) -> None:
    from web.auth import limits

    limits.init_app(app)

    @app.before_request
    def _load_user() -> Any:
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            if _expired():
                session.clear()
                if request.endpoint not in public_endpoints:
                    return redirect(url_for("auth.sign_in", next=_next_path(), expired=1))
            else:
                # The roles with the user (and, by the mapping, the agency): one statement.
                user = db_session().get(User, user_id, options=[joinedload(User.role_grants)])
                if (user is None or not user.active
                        or session.get("epoch") != user.session_epoch):
                    session.clear()
                    if request.endpoint not in public_endpoints:
                        return redirect(url_for("auth.sign_in", ended=1))
                else:
                    g.user = user
                    session["last_seen"] = clock.now().isoformat()
        if g.user is None and request.endpoint not in public_endpoints:
            if request.endpoint is None:
                return None  # 404s are answered as 404s
            return redirect(url_for("auth.sign_in", next=_next_path()))
        if (g.user is not None and must_enrol(g.user)
                and request.endpoint not in enrolment_endpoints):
            return redirect(url_for("account.enrol"))
        return None

    @app.context_processor
    def _user() -> dict[str, Any]:
        user = g.get("user")
        # No navigation to pages that would only send them back to the set-up page.
        return {"current_user": user,
                "must_enrol": user is not None and must_enrol(user)}


def current_user() -> User:
    user = g.get("user")
    if user is None:
        abort(401)
    return user


def current_actor() -> Actor:
    return Actor.for_user(current_user(), ip_address=request.remote_addr,
                          request_id=g.get("request_id"))


def requires_role(*roles: Role):  # type: ignore[no-untyped-def]
    def decorate(view):  # type: ignore[no-untyped-def]
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_user().has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def must_enrol(user: User) -> bool:
    """Holds a role that can see restricted data, without two-factor set up."""
    if user.two_factor_enrolled:
        return False
    required = current_app.extensions["casebridge.runtime"].settings.two_factor_required_roles
    return any(role.value in required for role in user.roles)


def start_session(user: User) -> None:
    session.clear()  # a new session id on sign-in: no fixation
    session.permanent = True
    now = clock.now().isoformat()
    session.update(user_id=user.id, signed_in_at=now, last_seen=now,
                   epoch=user.session_epoch)


def _expired() -> bool:
    settings = current_app.extensions["casebridge.runtime"].settings
    now = clock.now()
    try:
        signed_in = datetime.fromisoformat(session["signed_in_at"])
        last_seen = datetime.fromisoformat(session["last_seen"])
    except (KeyError, ValueError):
        return True
    return (now - last_seen > timedelta(minutes=settings.session_idle_minutes)
            or now - signed_in > timedelta(hours=settings.session_max_hours))


def _next_path() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else "/"

"""Rate limits on the doors an attacker knocks on: sign-in, the code step and password reset
requests, counted per address and per account (Flask-Limiter). Lockout stops guessing one
account's password; these also stop spraying many accounts from one address and flooding
someone's inbox with reset e-mails.

The counts live in `rate_limit_storage_uri`: memory:// is per process, right for `casebridge
serve`; gunicorn with several workers needs a shared store (redis://host:6379/0) or each
worker counts on its own.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, current_app, g, render_template, request, session
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded

RETRY_AFTER = "Retry-After"


def _address() -> str:
    return request.remote_addr or "unknown"


def _account() -> str:
    """The account being tried: the e-mail typed, or the one waiting for its code."""
    email = request.form.get("email", "").strip().lower()
    if email:
        return f"email:{email}"
    pending = session.get("pending_user_id")
    return f"user:{pending}" if pending is not None else f"address:{_address()}"


def _settings() -> Any:
    return current_app.extensions["casebridge.runtime"].settings


def _per_ip() -> str:
    return _settings().rate_limit_per_ip


def _per_account() -> str:
    return _settings().rate_limit_per_account


def _too_many(limit: RequestLimit) -> Any:
    """A page in the service's layout that says when to try again (and the header too)."""
    wait = max(1, math.ceil(limit.reset_at - time.time()))
    minutes = max(1, math.ceil(wait / 60))
    g.rate_limited = True
    response = current_app.make_response((render_template(
        "errors/too_many.html", minutes=minutes, request_id=g.get("request_id")), 429))
    response.headers[RETRY_AFTER] = str(wait)
    return response


limiter = Limiter(key_func=_address, on_breach=_too_many, strategy="fixed-window")

# One decorator per door: counted per address and per account, POSTs only (reading the
# page is free).
def guarded(scope: str):  # type: ignore[no-untyped-def]
    def decorate(view):  # type: ignore[no-untyped-def]
        view = limiter.limit(_per_account, key_func=_account, methods=["POST"],
                             scope=f"{scope}:account")(view)
        return limiter.limit(_per_ip, key_func=_address, methods=["POST"],
                             scope=f"{scope}:address")(view)
    return decorate


def init_app(app: Flask) -> None:
    settings = app.extensions["casebridge.runtime"].settings
    app.config["RATELIMIT_STORAGE_URI"] = settings.rate_limit_storage_uri
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "casebridge")
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def _limited(error: RateLimitExceeded) -> Any:
        """Our page (from `_too_many`), not the general error page that would otherwise
        answer every HTTP error."""
        return error.response if error.response is not None else error

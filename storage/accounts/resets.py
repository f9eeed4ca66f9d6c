"""Password reset by e-mail: a single-use link that expires.

The answer to a request is the same whether or not the address has an account (nothing to
enumerate). The e-mail goes through the outbox like every other; its row names the reset by
id, and the dispatcher derives the token from the row's nonce with the secret key. Only a
hash of the token is stored, so neither the database nor the outbox alone can reset anyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casebridge import clock
from storage.accounts.models import PasswordReset, User
from storage.accounts.passwords import password_problem
from storage.accounts.services import set_password, user_by_email
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue

TEMPLATE = "password_reset"


def token_for(secret_key: str, nonce: str) -> str:
    mac = hmac.new(secret_key.encode(), f"password-reset:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(session: Session, *, email: str, secret_key: str, lifetime: timedelta,
                  ip_address: str | None) -> PasswordReset | None:
    """Queue a reset e-mail if the address belongs to an active account; otherwise nothing
    (audited either way, without the address typed for an unknown one). Earlier unused
    links of the user stop working: only the newest one does."""
    user = user_by_email(session, email)
    if user is None or not user.active:
        record(session, Actor(label="anonymous", ip_address=ip_address), AuditAction.CREATE,
               entity_type="password_resets",
               detail={"event": "password_reset_requested", "outcome": "no active account"})
        return None
    now = clock.now()
    session.execute(update(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)).values(used_at=now))
    nonce = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id, nonce=nonce,
                          token_hash=_hash(token_for(secret_key, nonce)),
                          expires_at=now + lifetime)
    session.add(reset)
    session.flush()
    enqueue(session, kind=EffectKind.EMAIL, idempotency_key=f"password-reset:{reset.id}",
            payload={"template": TEMPLATE, "password_reset_id": reset.id,
                     "recipient": {"user_id": user.id}})
    actor = Actor(label=f"user:{user.id}", user_id=user.id, agency_id=user.agency_id,
                  ip_address=ip_address)
    record(session, actor, AuditAction.CREATE, entity=reset,
           detail={"event": "password_reset_requested"})
    return reset


def usable_reset(session: Session, token: str) -> PasswordReset | None:
    """The reset this token opens, if it is unused, in date and its account active."""
    if not token or len(token) > 100:
        return None
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= clock.now():
        return None
    user = session.get(User, reset.user_id)
    if user is None or not user.active:
        return None
    return reset


def complete_reset(session: Session, *, token: str, password: str, repeat: str,
                   ip_address: str | None) -> User:
    """Set the new password and spend the token; every session of the user ends. Raises
    InvalidRequest ("token" when the link is no good, else the field at fault)."""
    reset = usable_reset(session, token)
    if reset is None:
        raise InvalidRequest({"token": "This link has expired or has been used"})
    user = session.get(User, reset.user_id)
    assert user is not None
    if problem := password_problem(password, email=user.email):
        raise InvalidRequest({"password": problem})
    if password != repeat:
        raise InvalidRequest({"repeat_password": "Enter the same password twice"})
    reset.used_at = clock.now()
    actor = Actor(label=f"user:{user.id}", user_id=user.id, agency_id=user.agency_id,
                  ip_address=ip_address)
    set_password(session, actor, user, password, event="password_reset")
    return user

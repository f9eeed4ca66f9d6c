"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and single-use recovery codes.

A code is accepted for the time step before, at or after now (phones drift), and never twice:
the last accepted step is stored, and a code for it or an earlier step is refused, so a code
seen over someone's shoulder is useless once used. Wrong codes count toward the same lockout
as wrong passwords. Nothing secret (the key, a code) is ever written to the audit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from storage.accounts.models import RecoveryCode, User
from storage.accounts.services import count_failure
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest

ISSUER = "Casebridge"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class CodeRefused(Exception):
    """Why a code was refused, in words safe to show."""


def new_secret() -> str:
    return pyotp.random_base32()


def demo_secret(email: str) -> str:
    """The demo accounts' secrets: derived from the address, so the same demo data always
    has the same secrets and `casebridge demo code` can tell a newcomer the current code.
    Only ever used for the published, synthetic demo accounts."""
    digest = hashlib.sha256(f"casebridge-demo-totp:{email.lower()}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def code_for_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def current_step(secret: str) -> int:
    return pyotp.TOTP(secret).timecode(clock.now())


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(clock.now())
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    """Fresh codes (any earlier ones stop working), returned once to show the user."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(raw)))
    session.flush()
    return codes


def confirm_enrolment(session: Session, actor: Actor, user: User, *, secret: str,
                      code: str) -> list[str]:
    """Turn two-factor on once the user proves their app has the secret: returns the
    recovery codes, to be shown once. Raises InvalidRequest on a wrong code."""
    code = _normalise(code)
    step = _matching_step(secret, code) if code.isdigit() and len(code) == 6 else None
    if step is None:
        raise InvalidRequest({"code": "Enter the 6-digit code your authenticator app shows "
                                      "now (check the time on your phone is right)"})
    _switch_on(session, user, secret, step)
    record(session, actor, AuditAction.UPDATE, entity=user,
           detail={"event": "two_factor_enrolled"})
    return _new_recovery_codes(session, user)


def enrol_with_secret(session: Session, actor: Actor, user: User, secret: str) -> None:
    """Two-factor on with a given secret, without a code: for the demo accounts and for
    tests, whose secrets are generated, never a real person's."""
    _switch_on(session, user, secret, None)
    record(session, actor, AuditAction.UPDATE, entity=user,
           detail={"event": "two_factor_enrolled", "how": "generated"})


def _switch_on(session: Session, user: User, secret: str, step: int | None) -> None:
    user.totp_secret = secret
    user.totp_enrolled_at = clock.now()
    user.totp_last_step = step
    session.flush()


def reset_two_factor(session: Session, actor: Actor, user: User) -> None:
    """For a lost phone: two-factor off (the user enrols again at their next sign-in if
    their role needs it), recovery codes gone, and every session of theirs ended."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    user.session_epoch += 1
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=user,
           detail={"event": "two_factor_reset"})


def remaining_recovery_codes(session: Session, user: User) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def verify_second_step(session: Session, user: User, code: str, *, ip_address: str | None,
                       max_attempts: int, lockout: timedelta) -> str:
    """Check a sign-in code (from the app, or a recovery code). Returns which kind was used.
    Every attempt is audited; wrong codes count toward the lockout. Raises CodeRefused."""
    now = clock.now()
    actor = Actor(label=f"user:{user.id}", user_id=user.id, agency_id=user.agency_id,
                  ip_address=ip_address)
    if not user.active:
        raise CodeRefused("Sign in again")
    if user.locked_until is not None and user.locked_until > now:
        record(session, actor, AuditAction.SIGN_IN_FAILED, entity=user,
               detail={"reason": "locked", "step": "two_factor"})
        raise CodeRefused("This account is locked after too many wrong attempts. Try again "
                          "later, or ask your administrator")
    normalised = _normalise(code)
    kind, reason = None, "wrong code"
    if user.totp_secret and normalised.isdigit() and len(normalised) == 6:
        step = _matching_step(user.totp_secret, normalised)
        if step is not None and user.totp_last_step is not None and step <= user.totp_last_step:
            reason = "code already used"
        elif step is not None:
            user.totp_last_step = step
            kind = "app"
    elif len(normalised) == 10:
        found = session.scalar(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
            RecoveryCode.code_hash == _hash_recovery(normalised)))
        if found is not None:
            found.used_at = now
            kind = "recovery"
        else:
            reason = "wrong or used recovery code"
    if kind is None:
        locked = count_failure(session, actor, user, now=now, max_attempts=max_attempts,
                               lockout=lockout, detail={"reason": reason, "step": "two_factor"})
        if locked:
            raise CodeRefused("Too many wrong codes: this account is locked for "
                              f"{int(lockout.total_seconds() // 60)} minutes")
        if reason == "code already used":
            raise CodeRefused("That code has been used. Wait for your app to show a new one")
        raise CodeRefused("Enter the code your authenticator app shows now, or a recovery code")
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_signed_in_at = now
    session.flush()
    record(session, actor, AuditAction.SIGN_IN, entity=user,
           detail={"step": "two_factor", "with": kind})
    return kind

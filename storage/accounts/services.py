from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebridge import clock
from storage.accounts.models import Role, User, UserRole
from storage.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from storage.actors import Actor
from storage.agencies.models import Agency
from storage.audit.models import AuditAction
from storage.audit.services import record, snapshot
from storage.errors import InvalidRequest

USER_FIELDS = ["email", "display_name", "job_title", "agency_id", "line_manager_id", "active"]


def create_user(
    session: Session,
    actor: Actor,
    *,
    agency_id: int,
    email: str,
    display_name: str,
    roles: Iterable[Role | str],
    password: str | None = None,
    job_title: str | None = None,
    line_manager_id: int | None = None,
) -> User:
    """Create an account. Without a password the user cannot sign in until one is set."""
    email = email.strip().lower()
    errors: dict[str, str] = {}
    agency = session.get(Agency, agency_id)
    if agency is None:
        errors["agency"] = "Choose an agency that exists"
    elif not agency.active:
        errors["agency"] = f"{agency.name} is no longer active"
    if "@" not in email.strip("@") or " " in email:
        errors["email"] = "Enter an e-mail address like name@agency.gov.uk"
    elif session.scalar(select(User.id).where(User.email == email)):
        errors["email"] = f"An account for {email} already exists"
    if not display_name.strip():
        errors["display_name"] = "Enter the person's name"
    role_set: set[Role] = set()
    for role in roles:
        try:
            role_set.add(Role(role))
        except ValueError:
            errors["roles"] = f"{role!r} is not a role; choose from " + ", ".join(Role)
    if not role_set and "roles" not in errors:
        errors["roles"] = "Give the user at least one role"
    if password is not None and (problem := password_problem(password, email=email)):
        errors["password"] = problem
    if line_manager_id is not None and session.get(User, line_manager_id) is None:
        errors["line_manager"] = "Choose a line manager who has an account"
    if errors:
        raise InvalidRequest(errors)
    user = User(
        agency_id=agency_id,
        email=email,
        display_name=display_name.strip(),
        job_title=job_title,
        password_hash=hash_password(password) if password else None,
        line_manager_id=line_manager_id,
        role_grants=[UserRole(role=role) for role in sorted(role_set)],
    )
    session.add(user)
    session.flush()
    after = snapshot(user, USER_FIELDS) | {"roles": sorted(role_set)}
    record(session, actor, AuditAction.CREATE, entity=user, after=after)
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def count_failure(session: Session, actor: Actor, user: User, *, now: datetime,
                  max_attempts: int, lockout: timedelta, detail: dict[str, Any]) -> bool:
    """One more wrong password or code in a row, audited; the one that reaches
    `max_attempts` locks the account for `lockout` (the count is shared by both sign-in
    steps, so guessing codes is no cheaper than guessing passwords). True if it locked."""
    user.failed_sign_ins += 1
    locked = user.failed_sign_ins >= max_attempts
    if locked:
        user.locked_until = now + lockout
        user.failed_sign_ins = 0
    session.flush()
    record(session, actor, AuditAction.SIGN_IN_FAILED, entity=user,
           detail={**detail, "locked": locked})
    return locked


class SignInRefused(Exception):
    """Why a sign-in failed, in words safe to show (never which of e-mail or password)."""


_WRONG = "Enter a correct e-mail address and password"
# Verifying against this when no account matches keeps the time the same either way, so
# the response does not tell an attacker which e-mail addresses have accounts.
_DUMMY_HASH = hash_password("casebridge-timing-equaliser")


def authenticate(
    session: Session, *, email: str, password: str, ip_address: str | None,
    max_attempts: int, lockout: timedelta,
) -> User:
    """Check a password; lock the account for `lockout` after `max_attempts` failures in a
    row. Every attempt is audited. Raises SignInRefused."""
    now = clock.now()
    user = user_by_email(session, email)
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        record(session, Actor(label="anonymous", ip_address=ip_address),
               AuditAction.SIGN_IN_FAILED, entity_type="users",
               detail={"reason": "unknown or disabled account"})
        raise SignInRefused(_WRONG)
    actor = Actor(label=f"user:{user.id}", user_id=user.id, agency_id=user.agency_id,
                  ip_address=ip_address)
    if user.locked_until is not None and user.locked_until > now:
        verify_password(_DUMMY_HASH, password)
        record(session, actor, AuditAction.SIGN_IN_FAILED, entity=user,
               detail={"reason": "locked"})
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise SignInRefused(
            f"This account is locked after too many wrong passwords. Try again in {minutes} "
            "minutes, or ask your administrator to unlock it"
        )
    if not verify_password(user.password_hash, password):
        locked = count_failure(session, actor, user, now=now, max_attempts=max_attempts,
                               lockout=lockout, detail={"reason": "wrong password"})
        if locked:
            raise SignInRefused(
                "Too many wrong passwords: this account is locked for "
                f"{int(lockout.total_seconds() // 60)} minutes"
            )
        raise SignInRefused(_WRONG)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.two_factor_enrolled:
        # The password was right, but signing in is not done until the code is: the lockout
        # counter keeps counting across the two steps, so guessing codes is no cheaper.
        session.flush()
        record(session, actor, AuditAction.SIGN_IN, entity=user,
               detail={"step": "password", "two_factor": "pending"})
        return user
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_signed_in_at = now
    session.flush()
    record(session, actor, AuditAction.SIGN_IN, entity=user, detail={"step": "password"})
    return user


def change_password(session: Session, actor: Actor, user: User, *, current: str,
                    new: str, repeat: str) -> None:
    """A signed-in user's own change: the current password first, so a session left open
    on a shared computer cannot be used to take the account over. Ends their other
    sessions (the caller carries the new epoch in the current one)."""
    errors: dict[str, str] = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "Enter your current password correctly"  # noqa: S105
    if problem := password_problem(new, email=user.email):
        errors["new_password"] = problem
    elif new != repeat:
        errors["repeat_password"] = "Enter the same new password twice"  # noqa: S105
    if errors:
        raise InvalidRequest(errors)
    set_password(session, actor, user, new, event="password_changed")


def set_password(session: Session, actor: Actor, user: User, password: str, *,
                 event: str) -> None:
    """A new password (already checked against the policy); every session ends, any
    lockout is lifted."""
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    user.failed_sign_ins = 0
    user.locked_until = None
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=user, detail={"event": event})


def may_manage(manager: User, user: User) -> bool:
    """Partnership administrators manage every account; an agency's managers their own
    agency's. Nobody disables or resets themselves here."""
    if manager.id == user.id:
        return False
    if manager.has_role(Role.PARTNERSHIP_ADMIN):
        return True
    return manager.has_role(Role.MANAGER) and manager.agency_id == user.agency_id


def managed_users(session: Session, manager: User) -> list[User]:
    query = select(User).order_by(User.display_name, User.id)
    if not manager.has_role(Role.PARTNERSHIP_ADMIN):
        if not manager.has_role(Role.MANAGER):
            return []
        query = query.where(User.agency_id == manager.agency_id)
    return list(session.scalars(query))


def set_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    """Disable (someone left the agency) or enable an account. Disabling ends every session
    of theirs at once: the session epoch moves and `active` is checked on every request."""
    if user.active == active:
        return
    before = snapshot(user, ["active"])
    user.active = active
    user.session_epoch += 1
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity=user, before=before,
           after=snapshot(user, ["active"]),
           detail={"event": "account_enabled" if active else "account_disabled"})

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.accounts.models import Role, User, UserRole
from storage.accounts.passwords import hash_password, password_problem
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
    if password is not None and (problem := password_problem(password)):
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

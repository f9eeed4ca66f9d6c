"""User accounts: one e-mail per person whatever its case, real roles, real password hashes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from storage.accounts.models import Role, User
from storage.accounts.passwords import verify_password
from storage.accounts.services import create_user, user_by_email
from storage.audit.models import AuditAction
from storage.errors import InvalidRequest
from tests import factories
from tests.storage.helpers import audit_entries

SYSTEM = factories.SYSTEM
PASSWORD = "correct horse battery staple"


@pytest.fixture
def agency(session):
    return factories.agency(session)


def new_user(session, agency, **overrides):
    values = {
        "agency_id": agency.id,
        "email": "sam.officer@police.test",
        "display_name": "Sam Officer",
        "roles": [Role.PRACTITIONER],
    }
    return create_user(session, SYSTEM, **(values | overrides))


def errors_of(caught) -> set[str]:
    return set(caught.value.field_errors)


def test_user_is_created_with_a_lower_case_email_roles_and_an_audit_entry(session, agency):
    user = new_user(session, agency, email="  Sam.Officer@Police.TEST ",
                    roles=["panel_member", Role.PRACTITIONER, "panel_member"],
                    password=PASSWORD, job_title="PCSO")
    session.commit()
    assert user.email == "sam.officer@police.test"
    assert user.roles == {Role.PANEL_MEMBER, Role.PRACTITIONER}
    assert user.has_role(Role.PANEL_MEMBER)
    assert not user.has_role(Role.MANAGER)
    assert user_by_email(session, "SAM.OFFICER@police.test ") is user

    [entry] = audit_entries(session, entity_type="users")
    assert (entry.action, entry.entity_id) == (AuditAction.CREATE, str(user.id))
    after = json.loads(entry.changes)["after"]
    assert after["roles"] == ["panel_member", "practitioner"]
    assert after["email"] == "sam.officer@police.test"
    assert PASSWORD not in entry.changes
    assert user.password_hash not in entry.changes


def test_password_is_stored_as_an_argon2_hash_that_verifies(session, agency):
    user = new_user(session, agency, password=PASSWORD)
    session.commit()
    stored = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD.upper())


def test_user_without_a_password_cannot_sign_in(session, agency):
    user = new_user(session, agency)
    assert user.password_hash is None
    assert not verify_password(user.password_hash, "")


def test_duplicate_email_is_refused_whatever_its_case(session, agency):
    new_user(session, agency)
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, email="SAM.Officer@police.test", display_name="Other Sam")
    assert errors_of(caught) == {"email"}
    assert "already exists" in caught.value.field_errors["email"]


@pytest.mark.parametrize("email", ["", "sam", "@police.test", "sam@", "sam officer@police.test"])
def test_email_must_look_like_an_address(session, agency, email):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, email=email)
    assert errors_of(caught) == {"email"}


@pytest.mark.parametrize("password", ["short", "elevenchars", "aaaaaaaaaaaaaaaa", "x" * 257])
def test_weak_passwords_are_refused(session, agency, password):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, password=password)
    assert errors_of(caught) == {"password"}


def test_unknown_role_is_refused(session, agency):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, roles=["practitioner", "superuser"])
    assert errors_of(caught) == {"roles"}
    assert "'superuser' is not a role" in caught.value.field_errors["roles"]


def test_a_user_needs_at_least_one_role(session, agency):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, roles=[])
    assert errors_of(caught) == {"roles"}


def test_agency_must_exist_and_be_active(session, agency):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, agency_id=agency.id + 100)
    assert errors_of(caught) == {"agency"}
    agency.active = False
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency)
    assert "no longer active" in caught.value.field_errors["agency"]


def test_every_problem_is_reported_together_and_nothing_is_written(session, agency):
    with pytest.raises(InvalidRequest) as caught:
        new_user(session, agency, email="nope", display_name=" ", roles=["boss"],
                 password="short", line_manager_id=99_999)
    assert errors_of(caught) == {"email", "display_name", "roles", "password", "line_manager"}
    assert session.scalars(select(User)).all() == []


def test_line_manager_is_kept(session, agency):
    manager = new_user(session, agency, email="boss@police.test", roles=[Role.MANAGER])
    user = new_user(session, agency, line_manager_id=manager.id)
    assert user.line_manager_id == manager.id

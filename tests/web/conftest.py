"""Web fixtures: the real app on the test transaction, and signed-in clients."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from casebridge.runtime import Runtime
from casebridge.settings import load_settings
from storage.accounts.models import Role, User
from storage.documents.store import DocumentStore
from tests import factories
from web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(engine, connection, tmp_path, monkeypatch) -> Flask:
    """Requests commit into SAVEPOINTs of the test's transaction, rolled back afterwards."""
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    settings = load_settings(data_dir=tmp_path, secret_key="test-secret-key")
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    runtime = Runtime(settings=settings, engine=engine, sessions=sessions,
                      documents=DocumentStore(tmp_path / "documents"))
    app = create_app(runtime, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests with it switched on
    return app


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def owner(session):
    return factories.agency(session)


@pytest.fixture
def practitioner(session, owner) -> User:
    return user_with_password(session, owner, Role.PRACTITIONER)


# The roles for which the default settings require two-factor sign-in.
TWO_FACTOR_ROLES = {Role.PANEL_MEMBER, Role.MANAGER, Role.PARTNERSHIP_ADMIN, Role.AUDITOR}


def user_with_password(session, agency, *roles: Role, two_factor: bool | None = None) -> User:
    """A user who can sign in; with two-factor set up (a generated secret) when a role
    needs it, unless `two_factor` says otherwise."""
    from storage.accounts.passwords import hash_password
    from storage.accounts.two_factor import enrol_with_secret, new_secret

    user = factories.user(session, agency, *roles)
    user.password_hash = hash_password(PASSWORD)
    if two_factor is None:
        two_factor = bool(TWO_FACTOR_ROLES & set(roles or (Role.PRACTITIONER,)))
    if two_factor:
        enrol_with_secret(session, factories.SYSTEM, user, new_secret())
    session.commit()
    return user


def next_code(app: Flask, user: User) -> str:
    """A code the server will accept now: the current step's, or the next step's when the
    current one was used already (a test may sign the same user in twice in 30 seconds)."""
    from storage.accounts.two_factor import code_for_step, current_step

    with app.extensions["casebridge.runtime"].sessions() as db:
        secret, last = db.execute(select(User.totp_secret, User.totp_last_step).where(
            User.id == user.id)).one()
    step = current_step(secret)
    if last is not None and last >= step:
        step = last + 1
    return code_for_step(secret, step)


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD):
    """Sign in through the form, and through the code step when the user has two-factor.
    The answer to the last step is returned."""
    response = client.post("/sign-in", data={"email": user.email, "password": password})
    if response.status_code == 302 and response.headers["Location"] == "/sign-in/code":
        response = client.post("/sign-in/code",
                               data={"code": next_code(client.application, user)})
    return response


@pytest.fixture
def signed_in(client, practitioner) -> FlaskClient:
    response = sign_in(client, practitioner)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)

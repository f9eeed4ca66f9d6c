"""Web fixtures: the real app on the test transaction, and signed-in clients."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
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


def user_with_password(session, agency, *roles: Role) -> User:
    from storage.accounts.passwords import hash_password

    user = factories.user(session, agency, *roles)
    user.password_hash = hash_password(PASSWORD)
    session.commit()
    return user


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD):
    return client.post("/sign-in", data={"email": user.email, "password": password})


@pytest.fixture
def signed_in(client, practitioner) -> FlaskClient:
    response = sign_in(client, practitioner)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)

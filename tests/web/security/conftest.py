"""Fixtures for the security tests: the fixture world (tests/web/security/world.py) is built
once per module on a connection whose transaction is rolled back at the end; each test, and
each request a test makes with `rolled_back`, runs in a SAVEPOINT undone afterwards, so a
POST that was allowed (closing a case, removing an agenda item) leaves the world as it was
for the next user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from casebridge.runtime import Runtime
from casebridge.settings import load_settings
from storage.documents.store import DocumentStore
from tests.web.security.world import SECRET_KEY, World, build
from web.app import create_app


@pytest.fixture(scope="module")
def world_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


def make_app(engine: Engine, connection: Connection, directory, **settings) -> Flask:
    # Every user of the world knocks on sign-in and reset from one address within seconds:
    # the rate limits have their own tests (tests/web/test_auth.py), not these.
    settings.setdefault("rate_limit_per_ip", "100000 per minute")
    settings.setdefault("rate_limit_per_account", "100000 per minute")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CASEBRIDGE_CONFIG", str(directory / "absent.toml"))
        loaded = load_settings(data_dir=directory, secret_key=SECRET_KEY, **settings)
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                            expire_on_commit=False)
    runtime = Runtime(settings=loaded, engine=engine, sessions=sessions,
                      documents=DocumentStore(directory / "documents"))
    return create_app(runtime, testing=True)


@pytest.fixture(scope="module")
def world_app(engine, world_connection, tmp_path_factory) -> Flask:
    app = make_app(engine, world_connection, tmp_path_factory.mktemp("security"))
    app.config["WTF_CSRF_ENABLED"] = False  # switched on where CSRF is what is tested
    return app


@pytest.fixture(scope="module")
def world(world_app, world_connection) -> World:
    session = Session(bind=world_connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        return build(session, world_app.extensions["casebridge.runtime"].documents)
    finally:
        session.close()


@pytest.fixture
def rolled_back(world_connection) -> Iterator:
    """Undo whatever the test wrote; call it as a context manager to undo one request."""

    @contextmanager
    def savepoint() -> Iterator[None]:
        nested = world_connection.begin_nested()
        try:
            yield
        finally:
            if nested.is_active:
                nested.rollback()

    with savepoint():
        yield savepoint

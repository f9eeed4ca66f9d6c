"""The engine's tests commit for real (the dispatcher commits each step), so they share one
scratch database for the run, emptied of outbox rows after each test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from casebridge.settings import load_settings
from storage import migrate
from storage.actors import Actor
from storage.cases.models import Case
from storage.db import make_session_factory, unit_of_work
from storage.outbox.dispatch import RetryPolicy
from storage.outbox.models import OutboxMessage
from storage.workflows.services import publish_shipped
from tests.conftest import empty_database
from workflows.engine import dispatch
from workflows.engine.dispatch import Dispatcher, dispatch_once

POLICY = RetryPolicy(max_attempts=4, base_delay=timedelta(seconds=30),
                     max_delay=timedelta(minutes=10), lease=timedelta(minutes=5))


@pytest.fixture(scope="session")
def engine_db(database_url, tmp_path_factory):
    with empty_database(database_url, tmp_path_factory.mktemp("engine")) as engine:
        migrate.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            publish_shipped(session, Actor.system("tests"))
        yield engine


@pytest.fixture
def engine_sessions(engine_db):
    with engine_db.begin() as connection:
        connection.execute(delete(OutboxMessage))
    yield make_session_factory(engine_db)
    with engine_db.begin() as connection:
        connection.execute(delete(OutboxMessage))


@pytest.fixture
def engine_settings(smtp_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    return load_settings(
        data_dir=tmp_path, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port,
        smtp_timeout_seconds=5, mail_from="Casebridge <noreply@casebridge.test>",
        public_url="https://casebridge.test",
    )


@pytest.fixture
def dispatcher(engine_sessions, engine_settings):
    return Dispatcher(engine_sessions, engine_settings, policy=POLICY)


@pytest.fixture
def sweep_sessions(engine_db, engine_sessions):
    """The engine database with no cases but the test's own: a sweep reads every case, and
    counts are only exact when earlier tests' deadlines are not also falling due.
    (Escalations, stages and actions go with their cases.)"""
    with engine_db.begin() as connection:
        connection.execute(delete(Case))
    return engine_sessions


def dispatch_and_crash_before_marking(dispatcher, monkeypatch) -> None:
    """One dispatch whose worker dies after carrying out its first row and before marking
    it done: the row stays claimed until its lease runs out."""

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed between sending and marking")

    with monkeypatch.context() as patched:
        patched.setattr(dispatch.outbox, "mark_done", crash)
        with pytest.raises(RuntimeError):
            dispatch_once(dispatcher, 10)

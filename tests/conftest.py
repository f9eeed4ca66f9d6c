"""Test fixtures: one migrated database per run, one rolled-back SAVEPOINT per test.

The database is SQLite in a temporary directory unless CASEBRIDGE_TEST_DATABASE_URL names
another (CI points it at a fresh PostgreSQL database). `--expect-dialect postgresql` makes
the run fail outright if it is not really talking to PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.clock import FrozenClock
from storage import migrate
from storage.actors import Actor
from storage.db import make_engine, make_session_factory, unit_of_work
from storage.workflows.services import publish_shipped

TEST_DATABASE_VARIABLE = "CASEBRIDGE_TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--expect-dialect",
        choices=["sqlite", "postgresql"],
        help="Fail the run unless the test database is this kind.",
    )
    parser.addoption(
        "--require-browser",
        action="store_true",
        help="Fail (instead of skipping) browser tests when Chromium is not installed.",
    )


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(TEST_DATABASE_VARIABLE)
    shown = make_url(url).render_as_string(hide_password=True) if url else "SQLite (temporary)"
    return f"casebridge test database: {shown}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get(TEST_DATABASE_VARIABLE)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'casebridge-test.sqlite3'}"


@pytest.fixture(scope="session")
def engine(database_url: str, pytestconfig: pytest.Config) -> Iterator[Engine]:
    engine = make_engine(database_url)
    expected = pytestconfig.getoption("--expect-dialect")
    if expected and engine.dialect.name != expected:
        pytest.exit(
            f"tests were to run on {expected} but the database is {engine.dialect.name}",
            returncode=3,
        )
    migrate.downgrade(engine, "base")  # a re-used database starts clean
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        publish_shipped(session, Actor.system("tests"))
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session whose commits release SAVEPOINTs inside a transaction that is rolled back."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    """Time stands still at a known Monday morning until a test moves it."""
    with clock.use(FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))) as frozen:
        yield frozen  # type: ignore[misc]


@contextmanager
def empty_database(database_url: str, directory: Path) -> Iterator[Engine]:
    """A new, empty database of the same kind as the suite's, dropped afterwards."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = make_engine(f"sqlite:///{directory / f'scratch-{uuid.uuid4().hex[:8]}.sqlite3'}")
        yield engine
        engine.dispose()
        return
    name = f"cb_scratch_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A separate, empty database for tests that need real commits from several connections."""
    with empty_database(database_url, tmp_path) as engine:
        yield engine


@pytest.fixture
def migrated_scratch(scratch_engine: Engine) -> Engine:
    migrate.upgrade(scratch_engine)
    return scratch_engine


@pytest.fixture
def scratch_sessions(migrated_scratch: Engine):
    """Sessions on a migrated scratch database with the shipped case types published."""
    factory = make_session_factory(migrated_scratch)
    with unit_of_work(factory) as session:
        publish_shipped(session, Actor.system("tests"))
    return factory


@pytest.fixture(scope="session")
def smtp_server():
    """One real SMTP server for the run (aiosmtpd on loopback); see `smtp_sink`."""
    from tests.smtp_sink import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(smtp_server):
    """The SMTP server, running and empty at the start of the test."""
    smtp_server.start()
    smtp_server.clear()
    yield smtp_server
    smtp_server.start()


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test server, started once per run: it takes seconds to start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield

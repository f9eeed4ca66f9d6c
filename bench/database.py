"""A throw-away PostgreSQL database per benchmark run, dropped even when the run fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from storage.db import make_engine

ADMIN_URL = os.environ.get("CASEBRIDGE_BENCH_ADMIN_URL", "postgresql://postgres@localhost/postgres")


@contextmanager
def scratch_database(label: str) -> Iterator[str]:
    name = f"casebridge_bench_{label}_{os.getpid()}"
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def lookup_engines(label: str, statement_timeout_ms: int) -> Iterator[tuple[Engine, Engine]]:
    """A scratch database with two engines on it: one for the timed look-ups, one for their
    full-scan baseline. psycopg prepares a statement run five times, and PostgreSQL may then
    reuse a generic plan made with the indexes on: the scans must be planned afresh each
    time, so their engine never prepares."""
    with scratch_database(label) as url:
        timeout = {"options": f"-c statement_timeout={statement_timeout_ms}"}
        engine = make_engine(url, connect_args=timeout)
        scan_engine = make_engine(url, connect_args={**timeout, "prepare_threshold": None})
        try:
            yield engine, scan_engine
        finally:
            engine.dispose()
            scan_engine.dispose()

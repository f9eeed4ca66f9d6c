"""A throw-away PostgreSQL database per benchmark run, dropped even when the run fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
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

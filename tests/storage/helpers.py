"""Small helpers shared by the storage tests (no fixtures: those live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.audit.models import AuditEntry


@contextmanager
def rejected_by(session: Session, *names: str) -> Iterator[None]:
    """Expect the database to refuse what the block adds or changes, naming the constraint.

    Runs the block in a SAVEPOINT and flushes it, so the test's transaction stays usable.
    Check constraints are named the same on SQLite and PostgreSQL; for unique and primary
    keys SQLite names the columns instead, so several names may be given (any one matches).
    """
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as error:
        message = str(error.orig)
        assert any(name in message for name in names), (
            f"expected a violation of {' or '.join(names)}, got: {message}"
        )
    else:
        pytest.fail(f"the database accepted what {' or '.join(names)} should refuse")


def flush_in_savepoint(session: Session, *objects: object) -> None:
    """Add and flush in a SAVEPOINT: if the flush fails, only the SAVEPOINT is rolled back."""
    with session.begin_nested():
        session.add_all(objects)
        session.flush()


def audit_entries(session: Session, **filters: object) -> list[AuditEntry]:
    """Sealed audit entries (only committed work has any), oldest first, filtered by column."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    for column, value in filters.items():
        query = query.where(getattr(AuditEntry, column) == value)
    return list(session.scalars(query))


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name

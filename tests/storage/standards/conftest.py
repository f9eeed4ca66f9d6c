"""The calendar table is filled once per run (committed: it is reference data, the same for
every test); each test publishes the default standards in its own rolled-back transaction,
which then costs no more than a few rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.standards import load_default
from storage.db import make_session_factory, unit_of_work
from storage.standards.services import ensure_calendar, publish_default
from tests import factories


@pytest.fixture(scope="session")
def standards_calendar(engine):
    with unit_of_work(make_session_factory(engine)) as session:
        return ensure_calendar(session, load_default().calendar,
                               now=datetime(2026, 3, 2, tzinfo=UTC))


@pytest.fixture
def published(session, standards_calendar, frozen_clock):
    row, _ = publish_default(session, factories.SYSTEM)
    return row

"""Case references: one counter per prefix and per year, restarting each January."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage.cases.models import ReferenceCounter
from storage.cases.references import next_reference
from storage.cases.services import case_by_reference
from storage.cases.workflow import open_case
from storage.workflows.services import publish
from tests import factories
from workflows.loader import latest_shipped

# A second case type with its own prefix, for when hate crime is not shipped.
PREFIX_TEST_DEFINITION = """
key: prefix_test
name: Prefix test
version: 1
reference_prefix: PFX
start: record
stages:
  record:
    name: Record what happened
    transitions:
      - {to: closed, otherwise: true, close_reason: Recorded}
"""


@pytest.fixture
def other_case_type(session) -> tuple[str, str]:
    """(key, reference prefix) of a published case type other than ASB."""
    shipped = latest_shipped().get("hate_crime")
    if shipped is not None:
        return shipped.key, shipped.reference_prefix
    row, _ = publish(session, factories.SYSTEM, source_text=PREFIX_TEST_DEFINITION,
                     source_name="tests/prefix_test.yaml")
    return row.case_type, row.reference_prefix


def open_other(session, owner, case_type):
    return open_case(session, factories.SYSTEM, case_type=case_type, title="Graffiti",
                     owning_agency_id=owner.id)


def test_each_prefix_has_its_own_counter(session, frozen_clock, other_case_type):
    case_type, prefix = other_case_type
    owner = factories.agency(session)
    asb_1 = factories.asb_case(session, owner)
    other_1 = open_other(session, owner, case_type)
    asb_2 = factories.asb_case(session, owner)
    other_2 = open_other(session, owner, case_type)
    assert [asb_1.reference, asb_2.reference] == ["ASB-2026-000001", "ASB-2026-000002"]
    assert [other_1.reference, other_2.reference] == [
        f"{prefix}-2026-000001", f"{prefix}-2026-000002"
    ]


def test_counter_restarts_in_a_new_year(session, frozen_clock):
    owner = factories.agency(session)
    assert factories.asb_case(session, owner).reference == "ASB-2026-000001"
    assert factories.asb_case(session, owner).reference == "ASB-2026-000002"

    frozen_clock.set(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    new_year = factories.asb_case(session, owner)

    assert new_year.reference == "ASB-2027-000001"
    counters = session.execute(
        select(ReferenceCounter.prefix, ReferenceCounter.year, ReferenceCounter.last_value)
        .order_by(ReferenceCounter.year)
    ).all()
    assert [tuple(c) for c in counters] == [("ASB", 2026, 2), ("ASB", 2027, 1)]


def test_the_year_is_the_utc_year_of_opening(session, frozen_clock):
    owner = factories.agency(session)
    # 23:30 on New Year's Eve in UTC is still 2026, whatever the local clock says.
    frozen_clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert factories.asb_case(session, owner).reference == "ASB-2026-000001"


def test_numbers_are_not_reused_after_a_committed_case(session, frozen_clock):
    owner = factories.agency(session)
    factories.asb_case(session, owner)
    session.commit()
    assert next_reference(session, "ASB", 2026) == "ASB-2026-000002"
    assert next_reference(session, "ASB", 2026) == "ASB-2026-000003"


def test_a_case_is_found_by_its_reference_typed_loosely(session, frozen_clock):
    owner = factories.agency(session)
    case = factories.asb_case(session, owner)
    assert case_by_reference(session, "  asb-2026-000001 ") is case
    assert case_by_reference(session, "ASB-2026-000099") is None

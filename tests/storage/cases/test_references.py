"""Case references: one counter per prefix and per year, restarting each January."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from storage.cases.models import ReferenceCounter
from storage.cases.references import next_reference
from storage.cases.services import CaseTypeRef, StagePlan, case_by_reference, open_case
from tests import factories

HATE_CRIME_V2 = CaseTypeRef(key="hate_crime", reference_prefix="HC", version=2,
                            content_hash="c" * 64)


def open_hate_crime(session, owner):
    return open_case(session, factories.SYSTEM, case_type=HATE_CRIME_V2, title="Graffiti",
                     owning_agency_id=owner.id, first_stages=[StagePlan("intake")])


def test_each_prefix_has_its_own_counter(session, frozen_clock):
    owner = factories.agency(session)
    asb_1 = factories.asb_case(session, owner)
    hate_1 = open_hate_crime(session, owner)
    asb_2 = factories.asb_case(session, owner)
    hate_2 = open_hate_crime(session, owner)
    assert [asb_1.reference, asb_2.reference] == ["ASB-2026-000001", "ASB-2026-000002"]
    assert [hate_1.reference, hate_2.reference] == ["HC-2026-000001", "HC-2026-000002"]


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

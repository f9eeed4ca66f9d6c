"""The case list: only what the user may see, newest first, filtered, a page at a time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import CaseStatus, RiskLevel
from storage.cases.services import share_case
from storage.cases.workflow import close_case, open_case
from tests import factories
from tests.web.test_case_page import enter, prepared, text

REFERENCE = re.compile(r"[A-Z]+-\d{4}-\d{6}")


def references(response) -> list[str]:
    """The case references in the table, in order."""
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    table = body[body.index("<table"):body.index("</table>")] if "<table" in body else ""
    return REFERENCE.findall(re.sub(r'href="[^"]*"', "", table))


def opened(session, frozen_clock, owner, count=1, **details):
    cases = []
    for _ in range(count):
        frozen_clock.advance(timedelta(minutes=5))
        cases.append(open_case(session, factories.SYSTEM, case_type="asb", title="Case",
                               owning_agency_id=owner.id, **details))
    session.commit()
    return cases


@pytest.fixture
def app(app):
    return prepared(app)


@pytest.fixture
def practitioner(session, owner):
    return factories.user(session, owner, Role.PRACTITIONER)


@pytest.fixture
def signed_in(client, practitioner):
    enter(client, practitioner)
    return client


@pytest.fixture
def council(session):
    return factories.agency(session, AgencyType.COUNCIL)


def test_the_list_shows_visible_cases_newest_first(signed_in, session, frozen_clock, owner,
                                                  council):
    mine = opened(session, frozen_clock, owner, 2)
    theirs, shared = opened(session, frozen_clock, council, 2)
    share_case(session, factories.SYSTEM, case_id=shared.id, agency_id=owner.id)
    session.commit()
    response = signed_in.get("/cases")
    assert references(response) == [shared.reference, mine[1].reference, mine[0].reference]
    assert theirs.reference not in response.get_data(as_text=True)
    page = text(response)
    assert "3 cases" in page
    assert "Anti-social behaviour" in page
    assert f'href="/cases/{mine[0].reference}"' in response.get_data(as_text=True)
    assert 'href="/cases"' in response.get_data(as_text=True), "in the service navigation"


def test_filters_never_show_a_case_the_user_may_not_see(signed_in, session, frozen_clock,
                                                        owner, council):
    hidden = opened(session, frozen_clock, council, 1, risk_level=RiskLevel.HIGH)[0]
    mine = opened(session, frozen_clock, owner, 1, risk_level=RiskLevel.HIGH)[0]
    for query in ("", "?risk=high", "?type=asb", "?status=open", "?page=2"):
        assert references(signed_in.get(f"/cases{query}")) == [mine.reference]
    for query in (f"?reference={hidden.reference}", f"?agency={council.id}"):
        assert references(signed_in.get(f"/cases{query}")) == []


def test_a_partnership_admin_sees_every_case(client, session, frozen_clock, owner, council):
    cases = opened(session, frozen_clock, council, 1) + opened(session, frozen_clock, owner, 1)
    enter(client, factories.user(session, owner, Role.PARTNERSHIP_ADMIN))
    assert references(client.get("/cases")) == [cases[1].reference, cases[0].reference]


def test_filter_by_status_risk_type_agency_and_reference(signed_in, session, frozen_clock,
                                                         owner, council):
    standard = opened(session, frozen_clock, owner, 1, risk_level=RiskLevel.STANDARD)[0]
    high = opened(session, frozen_clock, owner, 1, risk_level=RiskLevel.HIGH)[0]
    unassessed = opened(session, frozen_clock, owner, 1)[0]
    closed = opened(session, frozen_clock, owner, 1)[0]
    close_case(session, factories.SYSTEM, case_id=closed.id, expected_version=closed.version,
               reason="Opened in error")
    hate = open_case(session, factories.SYSTEM, case_type="hate_crime", title="Hate",
                     owning_agency_id=owner.id)
    share_case(session, factories.SYSTEM, case_id=high.id, agency_id=council.id)
    session.commit()
    assert references(signed_in.get("/cases?risk=high")) == [high.reference]
    assert references(signed_in.get("/cases?risk=standard")) == [standard.reference]
    assert unassessed.reference in references(signed_in.get("/cases?risk=none"))
    assert references(signed_in.get("/cases?status=closed")) == [closed.reference]
    assert closed.reference not in references(signed_in.get("/cases?status=open"))
    assert references(signed_in.get("/cases?type=hate_crime")) == [hate.reference]
    assert hate.reference not in references(signed_in.get("/cases?type=asb"))
    assert references(signed_in.get(f"/cases?agency={council.id}")) == [high.reference]
    number = high.reference[-6:]
    assert references(signed_in.get(f"/cases?reference={number}")) == [high.reference]
    assert references(signed_in.get(f"/cases?reference={number.lower()}&risk=standard")) == []
    both = signed_in.get(f"/cases?status=open&risk=high&agency={council.id}")
    assert references(both) == [high.reference]
    body = both.get_data(as_text=True)
    assert '<option value="high" selected>' in body, "the chosen filters stay chosen"
    assert '<option value="open" selected>' in body


def test_nothing_found_says_so(signed_in, session, frozen_clock, owner):
    opened(session, frozen_clock, owner, 1)
    page = text(signed_in.get("/cases?reference=NOPE"))
    assert "No case you can see matches these filters" in page
    assert "Clear the filters" in page


def test_unknown_filter_values_are_ignored(signed_in, session, frozen_clock, owner):
    cases = opened(session, frozen_clock, owner, 1)
    for query in ("?risk=extreme", "?status=lost", "?type=nothing", "?agency=abc",
                  "?page=x", "?page=-3", "?reference=%25"):
        response = signed_in.get(f"/cases{query}")
        assert response.status_code == 200
        if "reference" not in query:
            assert references(response) == [cases[0].reference]


def test_pages_of_twenty_five_keep_the_filters(signed_in, session, frozen_clock, owner):
    cases = opened(session, frozen_clock, owner, 27, risk_level=RiskLevel.MEDIUM)
    opened(session, frozen_clock, owner, 1, risk_level=RiskLevel.HIGH)
    newest_first = [c.reference for c in reversed(cases)]
    first = signed_in.get("/cases?risk=medium")
    assert references(first) == newest_first[:25]
    body = first.get_data(as_text=True)
    assert "page 1 of 2" in text(first)
    assert 'href="/cases?risk=medium&amp;page=2"' in body
    second = signed_in.get("/cases?risk=medium&page=2")
    assert references(second) == newest_first[25:]
    assert 'href="/cases?risk=medium&amp;page=1"' in second.get_data(as_text=True)
    assert references(signed_in.get("/cases?risk=medium&page=99")) == newest_first[25:]


def test_the_list_is_audited_as_a_search(signed_in, session, frozen_clock, owner, practitioner):
    cases = opened(session, frozen_clock, owner, 1)
    signed_in.get("/cases?status=open")
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.SEARCH, AuditEntry.entity_type == "cases")).one()
    assert entry.actor_user_id == practitioner.id
    assert '"status":"open"' in entry.changes
    assert str(cases[0].id) in entry.changes


def test_the_list_shows_lead_risk_and_status(signed_in, session, frozen_clock, owner,
                                             practitioner):
    case = opened(session, frozen_clock, owner, 1, risk_level=RiskLevel.HIGH,
                  lead_officer_id=practitioner.id)[0]
    response = signed_in.get("/cases")
    page = text(response)
    assert practitioner.display_name in page
    assert "High" in page
    assert "govuk-tag--red" in response.get_data(as_text=True)
    assert case.status is CaseStatus.OPEN
    assert "Open" in page
    assert "2 March 2026" in page

"""The minimum standards in the browser: the case page shows open escalations (standard,
level, since when); the managers' page shows the standards in force, breaches per standard
and the dry run, for the cases the manager may see only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.accounts.models import Role
from storage.standards.escalate import sweep
from tests import factories
from tests.web.conftest import sign_in, user_with_password

STANDARD = "Risk assessment done within 2 working days of the report"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def late_case(session, published, owner, frozen_clock):
    """An ASB case opened Monday 2 March 09:00, its risk assessment missed on Wednesday."""
    case = factories.asb_case(session, owner)
    frozen_clock.set(at("2026-03-04 17:00"))
    sweep(session, factories.SYSTEM, frozen_clock.now())
    session.commit()
    return case


def test_the_case_page_shows_open_escalations(client, session, owner, late_case, frozen_clock):
    user = user_with_password(session, owner, Role.PRACTITIONER)
    assert sign_in(client, user).status_code == 302
    text = client.get(f"/cases/{late_case.reference}").get_data(as_text=True)
    assert "Minimum standards" in text
    assert STANDARD in text
    assert "Breached" in text
    assert "4 March 2026" in text  # due, and escalated since
    assert "Minimum standard missed" in text  # on the chronology too
    frozen_clock.set(at("2026-03-06 17:00"))
    assert sign_in(client, user).status_code == 302  # two days on: signed out
    text = client.get(f"/cases/{late_case.reference}").get_data(as_text=True)
    assert "Breached, escalation level 2" in text
    assert "Not yet escalated" in text  # the sweep has not run since


def test_a_manager_sees_breaches_per_standard_and_the_dry_run(
        client, session, owner, late_case, frozen_clock):
    other = factories.agency(session)
    factories.asb_case(session, other)  # another agency's case: not counted for this manager
    session.commit()
    manager = user_with_password(session, owner, Role.MANAGER)
    assert sign_in(client, manager).status_code == 302
    page = client.get("/admin/rules")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert STANDARD in text
    assert "MARAC actions completed before the next meeting" in text
    assert "partnership lead" in text  # the ladders, in words
    assert late_case.reference not in text  # counts only, until a dry run is asked for
    text = client.get("/admin/rules?day=9&month=3&year=2026").get_data(as_text=True)
    assert f"case {late_case.reference}" in text
    assert "escalation 2" in text  # level 2 (from Friday 17:00) not yet recorded
    assert "ASB-2026-000002" not in text


def test_the_dry_run_date_is_checked_and_others_are_refused(client, session, owner, published):
    manager = user_with_password(session, owner, Role.MANAGER)
    assert sign_in(client, manager).status_code == 302
    text = client.get("/admin/rules?day=31&month=2&year=2026").get_data(as_text=True)
    assert "The date to try the rules on must be a real date" in text
    client.post("/sign-out")
    practitioner = user_with_password(session, owner, Role.PRACTITIONER)
    assert sign_in(client, practitioner).status_code == 302
    assert client.get("/admin/rules").status_code == 403

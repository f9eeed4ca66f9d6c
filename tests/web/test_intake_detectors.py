"""The detectors at intake: opening a case for someone with earlier reports runs them in the
same request (one transaction with the case), and the practitioner sees the hit on the case
page at once; the flag and the owning agency's e-mail are recorded once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from storage.detections.models import Detection
from storage.flags.models import Flag, FlagKind
from storage.outbox.models import OutboxMessage
from storage.people.models import Person
from storage.people.services import create_location, create_person
from tests import factories
from tests.web.test_intake import (
    JON,
    NOW,
    case_by_reference,
    checked_key,
    form,
    open_as_victim,
    page_of,
)


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


@pytest.fixture
def john(session) -> Person:
    """Someone already on Casebridge (keyed in again with a typo: JON)."""
    home = create_location(session, factories.SYSTEM, address_line_1="1 Test Street",
                           postcode="AB1 2CD")
    person = create_person(session, factories.SYSTEM, given_name="John", family_name="Smith",
                           date_of_birth=date(1980, 7, 3), home_location_id=home.id)
    session.commit()
    return person


def open_for_john(signed_in, john):
    check = page_of(signed_in.post("/cases/new", data=form(action="check", **JON)))
    return signed_in.post("/cases/new", data=form(**JON, person=str(john.id),
                                                  checked=checked_key(check)))


def test_the_third_report_in_six_months_is_a_repeat_victim_at_once(
        signed_in, session, owner, john, frozen_clock):
    elsewhere = factories.agency(session)
    open_as_victim(session, elsewhere, john, NOW - timedelta(days=150), frozen_clock)
    open_as_victim(session, owner, john, NOW - timedelta(days=20), frozen_clock)
    response = open_for_john(signed_in, john)
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])

    shown = page_of(signed_in.get(response.headers["Location"]))
    assert "Repeat victim: 3 reports in 6 months" in shown
    assert "ASB Case Review threshold met: 3 reports in 6 months" in shown
    # The earlier reports were recorded without the intake page: never told of the review.
    assert "Tell the victim about the ASB Case Review: 3 reports in 6 months" in shown
    hits = session.scalars(select(Detection).where(Detection.case_id == case.id)).all()
    assert sorted(h.detector for h in hits) == ["case_review_duty", "case_review_threshold",
                                                "repeat_victim"]
    assert [f.kind for f in session.scalars(select(Flag).where(Flag.person_id == john.id))] \
        == [FlagKind.REPEAT_VICTIM]
    mail = session.scalars(select(OutboxMessage).where(
        OutboxMessage.case_id == case.id, OutboxMessage.idempotency_key.like("detection:%"))
    ).all()
    assert sorted(m.payload["template"] for m in mail) == [
        "case_review_duty", "detection_hit", "detection_hit"]


def test_the_second_report_asks_the_officer_to_explain_the_case_review(
        signed_in, session, owner, john, frozen_clock):
    open_as_victim(session, owner, john, NOW - timedelta(days=40), frozen_clock)
    response = open_for_john(signed_in, john)
    assert response.status_code == 302, page_of(response)
    case = case_by_reference(session, response.headers["Location"])
    shown = page_of(signed_in.get(response.headers["Location"]))
    assert "Tell the victim about the ASB Case Review: 2 reports in 6 months" in shown
    assert "Repeat victim" not in shown
    assert [a.title for a in case.actions] == ["Explain the ASB Case Review to the victim"]


def test_a_first_report_shows_no_hit(signed_in, session, john):
    response = open_for_john(signed_in, john)
    assert response.status_code == 302
    case = case_by_reference(session, response.headers["Location"])
    assert session.scalars(select(Detection).where(Detection.case_id == case.id)).all() == []
    shown = page_of(signed_in.get(response.headers["Location"]))
    assert "Repeat victim" not in shown

"""Builders for meeting tests (storage and web): cases at the points panels look for."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from storage.actors import Actor
from storage.agencies.models import Agency
from storage.cases.models import Case, RiskLevel
from storage.meetings import services as meetings
from storage.meetings.models import Meeting, MeetingKind
from tests import factories

LONDON = ZoneInfo("Europe/London")
SYSTEM = factories.SYSTEM


def at_local(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def meeting(
    session: Session, organiser: Agency, chair_id: int, *, kind: MeetingKind = MeetingKind.MARAC,
    on: date | None = None, actor: Actor = SYSTEM, title: str | None = None,
) -> Meeting:
    on = on or date(2026, 3, 12)
    return meetings.create_meeting(
        session, actor, kind=kind, title=title or f"{kind.value} {on.isoformat()}",
        scheduled_for=at_local(on), venue="Town hall, room 2", chair_user_id=chair_id,
        organiser_agency_id=organiser.id,
    )


def marac_case(session: Session, owner: Agency, *, listed_for: date | None = None,
               **details) -> Case:
    """A MARAC case past its referral: waiting to be listed, or listed for `listed_for`."""
    case = factories.open_case(session, SYSTEM, case_type="marac", title="Domestic abuse referral",
                               owning_agency_id=owner.id, **details)
    factories.submit(session, case, {"completed_on": "2026-03-02"}, key="risk_checklist")
    factories.submit(session, case, {"professional_judgement": "yes", "victim_consents": "no"},
                     key="referral")
    if listed_for is not None:
        factories.submit(session, case, {"meeting_date": listed_for.isoformat()}, key="listing")
    return case


def case_review_at_threshold(session: Session, owner: Agency, **details) -> Case:
    case = factories.open_case(session, SYSTEM, case_type="asb_case_review",
                               title="Case Review application", owning_agency_id=owner.id,
                               **details)
    factories.submit(session, case, {"victim_consent": "yes"}, key="application")
    factories.submit(session, case, {}, key="acknowledgement")
    return case


def high_risk_asb(session: Session, owner: Agency, **details) -> Case:
    return factories.asb_case(session, owner, risk_level=RiskLevel.HIGH, **details)


def in_days(frozen_clock, days: int) -> datetime:
    return frozen_clock.now() + timedelta(days=days)

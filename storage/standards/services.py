"""Publishing minimum-standards versions, the calendar table their clocks run on, pause
periods, and the escalation contacts (single points of contact, partnership leads).
Flushes, never commits."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.canonical import canonical_json
from casebridge.yamlsource import DocumentError
from rules.calendars import DEFAULT_TIMEZONE, WorkingCalendar
from rules.standards.loader import DEFAULT_FILE, load_standards_text
from rules.standards.model import CalendarSpec, StandardsSet
from storage.accounts.models import User
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest, InvalidState, NotFound
from storage.standards.models import (
    CalendarDay,
    ContactKind,
    EscalationContact,
    StandardsStatus,
    StandardsVersion,
)
from workflows.model import Definition

EPOCH = date(2000, 1, 1)
FIRST_YEAR = 2015  # the calendar table starts here; cases opened before are not measured
YEARS_AHEAD = 10


# --- versions -------------------------------------------------------------------------------


def known_case_types(session: Session) -> dict[str, Definition]:
    """The case types a standards file may name: shipped ones and every published one."""
    from storage.workflows.models import DefinitionStatus, WorkflowDefinition
    from storage.workflows.services import definition_of
    from workflows.loader import latest_shipped

    found: dict[str, Definition] = dict(latest_shipped())
    rows = session.scalars(select(WorkflowDefinition).where(
        WorkflowDefinition.status == DefinitionStatus.PUBLISHED)
        .order_by(WorkflowDefinition.version))
    for row in rows:
        try:
            found[row.case_type] = definition_of(row)
        except InvalidState:
            continue
    return found


def publish(session: Session, actor: Actor, *, source_text: str,
            source_name: str) -> tuple[StandardsVersion, bool]:
    """Publish a standards version: it is in force at once, for every open case. The same
    text again is a no-op; a version number already used, or lower than the newest, is
    refused. Returns (row, new)."""
    standards = load_standards_text(source_text, source_name, known_case_types(session))
    existing = session.scalar(select(StandardsVersion).where(
        StandardsVersion.partnership == standards.partnership,
        StandardsVersion.version == standards.version))
    if existing is not None:
        if existing.content_hash == standards.content_hash:
            return existing, False
        raise InvalidState(
            f"standards version {standards.version} is already published with different "
            "content: give the changed file a new version number")
    newest = session.scalar(select(func.max(StandardsVersion.version)).where(
        StandardsVersion.partnership == standards.partnership))
    if newest is not None and standards.version < newest:
        raise InvalidState(f"version {newest} is already published: give the file version "
                           f"{newest + 1} or more")
    key = ensure_calendar(session, standards.calendar)
    row = StandardsVersion(
        partnership=standards.partnership, version=standards.version,
        content_hash=standards.content_hash, source_text=source_text,
        source_name=source_name[:300], calendar_key=key, status=StandardsStatus.PUBLISHED,
        published_at=clock.now(), published_by_id=actor.user_id)
    session.add(row)
    session.flush()
    record(session, actor, AuditAction.CREATE, entity=row,
           after={"partnership": row.partnership, "version": row.version,
                  "content_hash": row.content_hash, "source": row.source_name})
    return row, True


def publish_default(session: Session, actor: Actor) -> tuple[StandardsVersion, bool]:
    return publish(session, actor, source_text=DEFAULT_FILE.read_text("utf-8"),
                   source_name="rules/standards/default.yaml")


def current(session: Session, partnership: str = "default") -> StandardsVersion | None:
    """The version in force: the newest published one (None before any is published)."""
    return session.scalar(
        select(StandardsVersion).where(StandardsVersion.partnership == partnership,
                                       StandardsVersion.status == StandardsStatus.PUBLISHED)
        .order_by(StandardsVersion.version.desc()).limit(1))


def history(session: Session, partnership: str = "default") -> list[tuple[StandardsVersion,
                                                                          str | None]]:
    """Every version, newest first, with who published it."""
    rows = session.execute(
        select(StandardsVersion, User.display_name)
        .outerjoin(User, User.id == StandardsVersion.published_by_id)
        .where(StandardsVersion.partnership == partnership)
        .order_by(StandardsVersion.version.desc()))
    return [(row, name) for row, name in rows]


def standards_of(row: StandardsVersion) -> StandardsSet:
    """The parsed standards of a stored version (cached by content: it never changes)."""
    return _parse(row.source_text, row.source_name, row.content_hash)


@lru_cache(maxsize=16)
def _parse(source_text: str, source_name: str, content_hash: str) -> StandardsSet:
    from workflows.loader import latest_shipped

    try:
        standards = load_standards_text(source_text, source_name, _AnyCaseType(latest_shipped()))
    except DocumentError as exc:
        raise InvalidState(f"the stored standards {source_name} no longer load: {exc}") from None
    if standards.content_hash != content_hash:
        raise InvalidState(f"the stored standards {source_name} do not match their hash")
    return standards


class _AnyCaseType(dict):  # type: ignore[type-arg]
    """Stored versions were checked when published (against the case types published then):
    reading one back accepts case types this process has not loaded."""

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: object, default: object = None) -> object:
        return super().get(key, default)


# --- the calendar table --------------------------------------------------------------------


def calendar_key(spec: CalendarSpec, timezone: str = DEFAULT_TIMEZONE) -> str:
    text = canonical_json({"region": spec.region, "closures": [d.isoformat() for d in
                                                                 spec.closures],
                           "starts": spec.day_starts.isoformat(),
                           "ends": spec.day_ends.isoformat(), "timezone": timezone})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def ensure_calendar(session: Session, spec: CalendarSpec, *, now: datetime | None = None,
                    timezone: str = DEFAULT_TIMEZONE) -> str:
    """Fill the calendar table for this calendar (FIRST_YEAR to YEARS_AHEAD years on) unless
    it already reaches far enough. A changed calendar (a new closure day) is a new key, so
    it gets rows of its own; the old rows stay for the versions that used them."""
    key = calendar_key(spec, timezone)
    now = now or clock.now()
    last = session.scalar(select(func.max(CalendarDay.day)).where(CalendarDay.calendar == key))
    if last is not None and last >= date(now.year + 2, 12, 31):
        return key
    session.execute(delete(CalendarDay).where(CalendarDay.calendar == key))
    session.execute(insert(CalendarDay),
                    calendar_rows(key, spec.calendar(timezone), now.year + YEARS_AHEAD))
    session.flush()
    return key


def calendar_rows(key: str, calendar: WorkingCalendar, last_year: int) -> list[dict[str, object]]:
    zone = ZoneInfo(calendar.timezone)
    rows: list[dict[str, object]] = []
    day, end, wd = date(FIRST_YEAR, 1, 1), date(last_year, 12, 31), 0

    def at(d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=zone).astimezone(UTC)

    while day <= end:
        working = calendar.is_working_day(day)
        wd += working
        rows.append({"calendar": key, "day": day, "day_number": (day - EPOCH).days,
                     "working": working, "wd_number": wd, "begins_at": at(day, time(0)),
                     "ends_at": at(day + timedelta(days=1), time(0)),
                     "closes_at": at(day, calendar.day_ends)})
        day += timedelta(days=1)
    return rows


# --- escalation contacts -------------------------------------------------------------------


def set_spoc(session: Session, actor: Actor, *, agency_id: int, user_id: int | None) -> None:
    """Make `user_id` the agency's single point of contact (None: nobody; its managers)."""
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("User", user_id)
        if user.agency_id != agency_id:
            raise InvalidRequest({"user": "A single point of contact works for the agency"})
    session.execute(delete(EscalationContact).where(
        EscalationContact.kind == ContactKind.SPOC, EscalationContact.agency_id == agency_id))
    if user_id is not None:
        session.add(EscalationContact(kind=ContactKind.SPOC, agency_id=agency_id,
                                      user_id=user_id))
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity_type="escalation_contacts",
           entity_id=f"spoc:{agency_id}", after={"user_id": user_id})


def set_partnership_lead(session: Session, actor: Actor, *, user_id: int,
                         lead: bool = True) -> None:
    if session.get(User, user_id) is None:
        raise NotFound("User", user_id)
    session.execute(delete(EscalationContact).where(
        EscalationContact.kind == ContactKind.PARTNERSHIP_LEAD,
        EscalationContact.user_id == user_id))
    if lead:
        session.add(EscalationContact(kind=ContactKind.PARTNERSHIP_LEAD, user_id=user_id))
    session.flush()
    record(session, actor, AuditAction.UPDATE, entity_type="escalation_contacts",
           entity_id=f"lead:{user_id}", after={"lead": lead})

"""What the profile pages read, in a few set-based queries per page (never one per row).

Profiles are shared across the partnership; cases are not. So a profile lists every case the
person (or place) appears in, but only the cases the user may see (storage.access) come with
details and a link: any other is "a case held by <agency>: contact them". Counts of reports
are not personal details and are counted across every agency: they are what stops a repeat
victim, or a place that keeps being reported, falling through the gaps between agencies.

A restricted (locked) person shows a user who works none of their cases only the name and
which agencies are working with them (shared/domain.md: profile locking).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, true
from sqlalchemy.orm import Session

from rules.detectors import DetectorsConfig, report_counts
from rules.detectors import load as shipped_detectors
from rules.detectors.config import DetectorConfig
from storage.access import sees_everything, visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.audit.models import AuditAction, AuditEntry
from storage.cases.models import (
    Case,
    CaseParticipant,
    CaseShare,
    CaseStatus,
    ParticipantRole,
    RiskLevel,
)
from storage.detections.queries import months_before
from storage.flags.models import Flag
from storage.people.models import AddressKind, Location, Person, PersonAddress
from storage.workflows.models import WorkflowDefinition

# The repeat-victim and repeat-location (hot spot) rules are the detectors' (rules/detectors:
# 3 reports in 6 months, 5 about one place in 6 months, unless the partnership's detectors
# file says otherwise); the longer window is counted beside them.
LONGER_WINDOW_MONTHS = 12
# A report is a case where the person was harmed, reported it, or applied for a Case Review.
REPORTING_ROLES = frozenset(
    {ParticipantRole.VICTIM, ParticipantRole.COMPLAINANT, ParticipantRole.APPLICANT}
)
# The kinds of address someone lives at (not a previous or a work address).
LIVING_AT = (AddressKind.HOME, AddressKind.TEMPORARY)


# --- rules shared with search -----------------------------------------------------------------


def person_open_to(user: User) -> ColumnElement[bool]:
    """A WHERE clause on Person: `user` may see more than the name.

    Everyone may, unless the person is restricted; then only a partnership-wide role, the
    agency that recorded them, or an agency that may see one of their cases.
    """
    if sees_everything(user):
        return true()
    works_with = exists(
        select(CaseParticipant.id)
        .join(Case, Case.id == CaseParticipant.case_id)
        .where(CaseParticipant.person_id == Person.id, visible_cases(user))
    )
    return or_(Person.restricted.is_(False), Person.created_by_agency_id == user.agency_id,
               works_with)


def visible_column(user: User) -> ColumnElement[bool]:
    """visible_cases as a column: whether each row's case may be seen."""
    return case((visible_cases(user), literal(True)), else_=literal(False))


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- what the pages show ----------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyContact:
    id: int
    name: str
    email: str | None
    phone: str | None


@dataclass
class CaseLine:
    """A case the user may see: details and a link."""

    reference: str
    title: str
    case_type: str
    status: CaseStatus
    risk_level: RiskLevel | None
    opened_at: datetime
    agency: AgencyContact
    roles: list[ParticipantRole] = field(default_factory=list)
    visible: bool = True


@dataclass
class HeldElsewhere:
    """Cases the user may not see, one line per agency: only who holds them, to ask."""

    agency: AgencyContact
    count: int = 1
    visible: bool = False


@dataclass(frozen=True)
class ReportCounts:
    recent: int  # in the detector's window (recent_months), incidents counted once
    year: int  # in the last LONGER_WINDOW_MONTHS
    threshold: int  # reports in the recent window that call for attention
    recent_months: int = 6
    year_months: int = LONGER_WINDOW_MONTHS

    @property
    def reached(self) -> bool:
        return self.recent >= self.threshold


@dataclass(frozen=True)
class RiskEvent:
    at: datetime
    reference: str
    before: str | None  # None: when the case opened
    after: str | None  # the risk level from then (None: not assessed)
    opened: bool = False


@dataclass
class PersonProfile:
    person: Person
    full: bool  # more than the name (False: a locked profile)
    contact: bool  # contact preferences and addresses
    age: int | None
    cases: list[CaseLine | HeldElsewhere]
    reports: ReportCounts
    agencies: list[AgencyContact]  # working with the person
    flags: list[Flag] = field(default_factory=list)
    risk_history: list[RiskEvent] = field(default_factory=list)
    addresses: list[PersonAddress] = field(default_factory=list)

    @property
    def hidden_cases(self) -> int:
        return sum(c.count for c in self.cases if isinstance(c, HeldElsewhere))


@dataclass(frozen=True)
class Resident:
    person_id: int
    name: str
    kind: AddressKind


@dataclass
class LocationProfile:
    location: Location
    cases: list[CaseLine | HeldElsewhere]
    reports: ReportCounts
    flags: list[Flag]
    residents: list[Resident]


# --- people -----------------------------------------------------------------------------------


def person_profile(session: Session, user: User, person: Person, *, now: datetime,
                   today: date, detectors: DetectorsConfig | None = None) -> PersonProfile:
    rows = session.execute(
        _case_rows(user).where(CaseParticipant.person_id == person.id)
    ).all()
    cases = _case_lines(rows)
    reports = _counts(session, rows, now, detectors or shipped_detectors(), "repeat_victim",
                      person.id, roles=REPORTING_ROLES)
    works_with = (sees_everything(user) or person.created_by_agency_id == user.agency_id
                  or any(line.visible for line in cases))
    full = works_with or not person.restricted
    agencies = _agencies_working_with(session, person, rows)
    if not full:
        return PersonProfile(person=person, full=False, contact=False, age=None, cases=[],
                             reports=ReportCounts(0, 0, reports.threshold,
                                                  reports.recent_months),
                             agencies=agencies)
    visible = {row.case_id: row.reference for row in rows if row.visible}
    return PersonProfile(
        person=person,
        full=True,
        contact=works_with,
        age=age_on(person.date_of_birth, today) if person.date_of_birth else None,
        cases=cases,
        reports=reports,
        agencies=agencies,
        flags=active_flags(session, now, Flag.person_id == person.id),
        risk_history=_risk_history(session, rows, visible),
        addresses=[a for a in person.addresses if _current(a, today)] if works_with else [],
    )


def _agencies_working_with(session: Session, person: Person,
                           rows: list[Any]) -> list[AgencyContact]:
    """The agencies that own or work (are shared) any of their cases, and who recorded them."""
    found = {row.agency_id: _agency(row) for row in rows}
    case_ids = {row.case_id for row in rows}
    wanted = select(Agency.id.label("agency_id"), Agency.name.label("agency_name"),
                    Agency.contact_email.label("agency_email"),
                    Agency.contact_phone.label("agency_phone"))
    if case_ids:
        for row in session.execute(
            wanted.join(CaseShare, CaseShare.agency_id == Agency.id)
            .where(CaseShare.case_id.in_(case_ids)).distinct()
        ):
            found.setdefault(row.agency_id, _agency(row))
    if person.created_by_agency_id is not None and person.created_by_agency_id not in found:
        row = session.execute(wanted.where(Agency.id == person.created_by_agency_id)).one()
        found[row.agency_id] = _agency(row)
    return sorted(found.values(), key=lambda a: a.name)


def _risk_history(session: Session, rows: list[Any],
                  visible: dict[int, str]) -> list[RiskEvent]:
    """When each case the user may see opened, and each change of its risk level since
    (from the audit entries of the case), newest first."""
    if not visible:
        return []
    changes: dict[int, list[tuple[datetime, str | None, str | None]]] = {}
    entries = session.execute(
        select(AuditEntry.case_id, AuditEntry.occurred_at, AuditEntry.changes)
        .where(AuditEntry.case_id.in_(visible), AuditEntry.entity_type == Case.__tablename__,
               AuditEntry.action == AuditAction.UPDATE,
               AuditEntry.changes.contains('"risk_level"', autoescape=True))
        .order_by(AuditEntry.seq)
    )
    for case_id, at, text in entries:
        try:
            document = json.loads(text)
        except ValueError:
            continue
        after = document.get("after") or {}
        if "risk_level" in after:
            before = (document.get("before") or {}).get("risk_level")
            if before != after["risk_level"]:
                changes.setdefault(case_id, []).append((at, before, after["risk_level"]))
    events: list[RiskEvent] = []  # oldest first within a case
    seen: set[int] = set()
    for row in rows:
        if not row.visible or row.case_id in seen:
            continue
        seen.add(row.case_id)
        found = changes.get(row.case_id, [])
        current = row.risk_level.value if row.risk_level else None
        first = found[0][1] if found else current
        events.append(RiskEvent(row.opened_at, row.reference, None, first, opened=True))
        events.extend(RiskEvent(at, row.reference, before, after) for at, before, after in found)
    order = {id(e): n for n, e in enumerate(events)}
    events.sort(key=lambda e: (e.at, not e.opened, order[id(e)]), reverse=True)
    return events


def _current(address: PersonAddress, today: date) -> bool:
    return ((address.until_date is None or address.until_date >= today)
            and (address.from_date is None or address.from_date <= today)
            and address.kind is not AddressKind.PREVIOUS)


# --- locations --------------------------------------------------------------------------------


def location_profile(session: Session, user: User, location: Location, *, now: datetime,
                     today: date, detectors: DetectorsConfig | None = None) -> LocationProfile:
    rows = session.execute(
        _case_rows(user).where(CaseParticipant.location_id == location.id)
    ).all()
    residents: dict[int, Resident] = {}
    for row in session.execute(
        select(Person.id, Person.given_name, Person.family_name, PersonAddress.kind)
        .join(PersonAddress, PersonAddress.person_id == Person.id)
        .where(
            PersonAddress.location_id == location.id,
            PersonAddress.kind.in_(LIVING_AT),
            or_(PersonAddress.until_date.is_(None), PersonAddress.until_date >= today),
            or_(PersonAddress.from_date.is_(None), PersonAddress.from_date <= today),
            person_open_to(user),
        )
        .order_by(Person.family_name, Person.given_name, Person.id)
    ):
        name = " ".join(p for p in (row.given_name, row.family_name) if p)
        residents.setdefault(row.id, Resident(row.id, name, row.kind))
    return LocationProfile(
        location=location,
        cases=_case_lines(rows),
        reports=_counts(session, rows, now, detectors or shipped_detectors(),
                        "repeat_location", location.id),
        flags=active_flags(session, now, Flag.location_id == location.id),
        residents=list(residents.values()),
    )


# --- shared -----------------------------------------------------------------------------------


def active_flags(session: Session, now: datetime, subject: ColumnElement[bool]) -> list[Flag]:
    return list(session.scalars(
        select(Flag)
        .where(subject, Flag.cleared_at.is_(None),
               or_(Flag.expires_at.is_(None), Flag.expires_at > now))
        .order_by(Flag.raised_at.desc(), Flag.id.desc())
    ))


def _case_rows(user: User):  # type: ignore[no-untyped-def]
    """Every case a subject appears in, any agency, with whether `user` may see it."""
    return (
        select(CaseParticipant.role, Case.id.label("case_id"), Case.reference, Case.title,
               Case.case_type, type_name(), Case.status, Case.risk_level, Case.opened_at,
               Agency.id.label("agency_id"), Agency.name.label("agency_name"),
               Agency.contact_email.label("agency_email"),
               Agency.contact_phone.label("agency_phone"),
               visible_column(user).label("visible"))
        .join(Case, Case.id == CaseParticipant.case_id)
        .join(Agency, Agency.id == Case.owning_agency_id)
        .outerjoin(*type_join())
        .order_by(Case.opened_at.desc(), Case.id.desc(), CaseParticipant.id)
    )


def type_name() -> ColumnElement[str]:
    """The case type's name in words (with type_join()), e.g. "Anti-social behaviour"."""
    return func.coalesce(WorkflowDefinition.name, Case.case_type).label("type_name")


def type_join() -> tuple[Any, ColumnElement[bool]]:
    return WorkflowDefinition, and_(WorkflowDefinition.case_type == Case.case_type,
                                    WorkflowDefinition.version == Case.definition_version)


def _agency(row: Any) -> AgencyContact:
    return AgencyContact(row.agency_id, row.agency_name, row.agency_email, row.agency_phone)


def _case_lines(rows: list[Any]) -> list[CaseLine | HeldElsewhere]:
    """The cases the user may see, one line each (a person may have several roles on one),
    newest first; then, per agency, how many it holds that the user may not see."""
    lines: dict[int, CaseLine] = {}
    hidden: dict[int, set[int]] = {}
    agencies: dict[int, AgencyContact] = {}
    for row in rows:
        if not row.visible:
            hidden.setdefault(row.agency_id, set()).add(row.case_id)
            agencies.setdefault(row.agency_id, _agency(row))
            continue
        line = lines.get(row.case_id)
        if line is None:
            line = lines[row.case_id] = CaseLine(
                row.reference, row.title, row.type_name, row.status, row.risk_level,
                row.opened_at, _agency(row))
        if row.role not in line.roles:
            line.roles.append(row.role)
    held = [HeldElsewhere(agencies[a], len(ids)) for a, ids in hidden.items()]
    return [*lines.values(), *sorted(held, key=lambda h: h.agency.name)]


def _counts(session: Session, rows: list[Any], now: datetime, detectors: DetectorsConfig,
            detector: str, subject_id: int, *,
            roles: frozenset[ParticipantRole] | None = None) -> ReportCounts:
    """The detector's count in its window (every agency's, one incident once: the rule that
    flags), and distinct cases by the reporting roles in the longer window."""
    rule: DetectorConfig = detectors[detector]
    opened = {row.case_id: row.opened_at for row in rows if roles is None or row.role in roles}
    year_from = months_before(now, LONGER_WINDOW_MONTHS)
    recent = report_counts(session, detectors, detector, [subject_id], now)
    return ReportCounts(
        recent=recent.get(subject_id, 0),
        year=sum(1 for at in opened.values() if year_from <= at <= now),
        threshold=rule.reports,
        recent_months=rule.within_months,
    )

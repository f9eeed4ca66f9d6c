"""What the new-case page reads: the case types a user may open, the people who may already
be on Casebridge (with their history of reports), and a location to reuse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from rules.detectors import DetectorsConfig, repeat_victim_counts
from rules.detectors import load as shipped_detectors
from storage.access import sees_everything, visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import Case, CaseParticipant, ParticipantRole
from storage.detections.queries import months_before
from storage.people.duplicates import find_possible_duplicates
from storage.people.models import AddressKind, Location, Person, PersonAddress
from storage.workflows.models import DefinitionStatus, WorkflowDefinition
from storage.workflows.services import definition_of
from workflows.model import Definition

# The repeat-victim rule is the detector's (rules/detectors: 3 reports in 6 months unless
# the partnership's detectors file says otherwise); the longer window is shown beside it.
LONGER_WINDOW_MONTHS = 12
# A report is a case where the person is the one who reported or was harmed.
REPORTING_ROLES = (ParticipantRole.VICTIM, ParticipantRole.COMPLAINANT)
MATCH_LIMIT = 10


# --- case types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseTypeChoice:
    key: str
    name: str
    description: str
    opened_by_roles: tuple[str, ...]
    opened_by_agency_types: tuple[str, ...]


@dataclass
class CaseTypes:
    allowed: dict[str, CaseTypeChoice]  # by key, in name order
    refused: list[CaseTypeChoice]  # published but not for this user

    @property
    def names(self) -> dict[str, str]:
        return {c.key: c.name for c in (*self.allowed.values(), *self.refused)}


def case_types_for(session: Session, user: User) -> CaseTypes:
    """The newest published version of every case type, split by whether `user` may open it
    (the same rule open_case applies: the user's roles and their agency's type)."""
    newest: dict[str, WorkflowDefinition] = {}
    rows = session.scalars(
        select(WorkflowDefinition)
        .where(WorkflowDefinition.status == DefinitionStatus.PUBLISHED)
        .order_by(WorkflowDefinition.case_type, WorkflowDefinition.version)
    )
    for row in rows:
        newest[row.case_type] = row
    definitions = sorted((definition_of(row) for row in newest.values()), key=lambda d: d.name)
    roles = {role.value for role in user.roles}
    agency_type = user.agency.agency_type.value
    allowed: dict[str, CaseTypeChoice] = {}
    refused: list[CaseTypeChoice] = []
    for definition in definitions:
        choice = _choice(definition)
        if _may_open(definition, roles, agency_type):
            allowed[choice.key] = choice
        else:
            refused.append(choice)
    return CaseTypes(allowed, refused)


def _choice(definition: Definition) -> CaseTypeChoice:
    return CaseTypeChoice(definition.key, definition.name, definition.description or "",
                          tuple(definition.opened_by_roles),
                          tuple(definition.opened_by_agency_types))


def _may_open(definition: Definition, roles: set[str], agency_type: str) -> bool:
    if definition.opened_by_roles and not roles & set(definition.opened_by_roles):
        return False
    return not (definition.opened_by_agency_types
                and agency_type not in definition.opened_by_agency_types)


# --- possible duplicates ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSeen:
    reference: str
    title: str
    case_type: str
    role: str
    status: str
    opened_at: datetime


@dataclass
class Match:
    """One person who may already be on Casebridge, as the user may see them."""

    person_id: int
    name: str
    reasons: tuple[str, ...]
    date_of_birth: date | None = None
    postcode: str | None = None
    # Locked by another agency: only the name and who to contact are shown.
    restricted: bool = False
    contact_agency: str | None = None
    contact_details: str | None = None
    reports_recent: int = 0  # in the repeat-victim detector's window, incidents once
    reports_year: int = 0  # in LONGER_WINDOW_MONTHS
    cases: list[CaseSeen] = field(default_factory=list)  # cases the user may see
    known_to: list[str] = field(default_factory=list)  # agencies with cases the user may not see
    repeat_threshold: int = 3  # the repeat-victim detector's reports (set from its config)

    @property
    def repeat_victim(self) -> bool:
        return self.reports_recent >= self.repeat_threshold


def possible_duplicates(
    session: Session, user: User, *, given_name: str, family_name: str,
    date_of_birth: date | None, postcode: str | None, now: datetime,
    detectors: DetectorsConfig | None = None,
) -> list[Match]:
    found = find_possible_duplicates(
        session, given_name=given_name, family_name=family_name, date_of_birth=date_of_birth,
        postcode=postcode, limit=MATCH_LIMIT,
    )
    if not found:
        return []
    ids = [d.person_id for d in found]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    postcodes = _postcodes(session, ids)
    matches = {
        d.person_id: _match(session, user, people[d.person_id], d.reasons,
                            postcodes.get(d.person_id))
        for d in found if d.person_id in people
    }
    _add_history(session, user, matches, now, detectors or shipped_detectors())
    return [matches[i] for i in ids if i in matches]


def _match(session: Session, user: User, person: Person, reasons: tuple[str, ...],
           postcode: str | None) -> Match:
    match = Match(person.id, person.full_name or person.known_as or "", reasons)
    locked = (person.restricted and person.created_by_agency_id != user.agency_id
              and not sees_everything(user))
    if locked:
        agency = (session.get(Agency, person.created_by_agency_id)
                  if person.created_by_agency_id else None)
        match.restricted = True
        match.contact_agency = agency.name if agency else "the partnership's administrator"
        if agency:
            match.contact_details = ", ".join(
                c for c in (agency.contact_phone, agency.contact_email) if c
            ) or None
        return match
    match.date_of_birth = person.date_of_birth
    match.postcode = postcode
    return match


def _postcodes(session: Session, ids: list[int]) -> dict[int, str]:
    """Each person's postcode: their current home if known, else their newest address."""
    rows = session.execute(
        select(PersonAddress.person_id, Location.postcode, PersonAddress.kind,
               PersonAddress.until_date)
        .join(Location, Location.id == PersonAddress.location_id)
        .where(PersonAddress.person_id.in_(ids), Location.postcode.is_not(None))
        .order_by(PersonAddress.id)
    ).all()
    best: dict[int, tuple[int, str]] = {}
    for person_id, postcode, kind, until in rows:
        rank = 2 if kind is AddressKind.HOME and until is None else 1
        if rank >= best.get(person_id, (0, ""))[0]:
            best[person_id] = (rank, postcode)
    return {person_id: postcode for person_id, (_rank, postcode) in best.items()}


def _add_history(session: Session, user: User, matches: dict[int, Match], now: datetime,
                 detectors: DetectorsConfig) -> None:
    """Reports counted across every agency (in the repeat-victim window, as the detector
    counts them); cases listed only where the user may see them."""
    visible = case((visible_cases(user), literal(True)), else_=literal(False))
    rows = session.execute(
        select(CaseParticipant.person_id, CaseParticipant.role, Case.id.label("case_id"),
               Case.reference, Case.title, Case.case_type, Case.status, Case.opened_at,
               Agency.name.label("agency_name"), visible.label("visible"))
        .join(Case, Case.id == CaseParticipant.case_id)
        .join(Agency, Agency.id == Case.owning_agency_id)
        .where(CaseParticipant.person_id.in_(list(matches)))
        .order_by(Case.opened_at.desc(), Case.id.desc())
    ).all()
    year_from = months_before(now, LONGER_WINDOW_MONTHS)
    reports: dict[int, dict[int, datetime]] = {}
    listed: dict[int, set[int]] = {}
    for row in rows:
        match = matches[row.person_id]
        if row.role in REPORTING_ROLES:
            reports.setdefault(row.person_id, {})[row.case_id] = row.opened_at
        if match.restricted:
            continue
        if row.visible:
            if row.case_id not in listed.setdefault(row.person_id, set()):
                listed[row.person_id].add(row.case_id)
                match.cases.append(CaseSeen(row.reference, row.title, row.case_type,
                                            str(row.role), str(row.status), row.opened_at))
        elif row.agency_name not in match.known_to:
            match.known_to.append(row.agency_name)
    for person_id, opened in reports.items():
        matches[person_id].reports_year = sum(1 for at in opened.values() if at >= year_from)
    recent = repeat_victim_counts(session, detectors, list(matches), now)
    for person_id, match in matches.items():
        match.reports_recent = recent.get(person_id, 0)
        match.repeat_threshold = detectors["repeat_victim"].reports


# --- locations --------------------------------------------------------------------------------


def existing_location(session: Session, *, address_line_1: str,
                      postcode: str | None) -> Location | None:
    """A location already recorded at this first address line and postcode (any case)."""
    if not address_line_1.strip() or not postcode:
        return None
    return session.scalars(
        select(Location)
        .where(Location.postcode == postcode,
               func.lower(func.trim(Location.address_line_1)) == address_line_1.strip().lower())
        .order_by(Location.id)
        .limit(1)
    ).first()

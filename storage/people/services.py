from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from casebridge import clock
from storage.access import may_change_person
from storage.accounts.models import User
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import changed_fields, record, snapshot
from storage.errors import AccessDenied, ConcurrencyConflict, InvalidRequest, NotFound
from storage.people.models import (
    AddressKind,
    ContactMethod,
    Location,
    Person,
    PersonAddress,
    Vulnerability,
    VulnerabilityKind,
)
from storage.people.names import name_key

# The shape of a UK postcode (outward code, space, inward code), not a list of real ones.
POSTCODE_SHAPE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")

PERSON_FIELDS = [
    "given_name", "family_name", "known_as", "date_of_birth", "gender", "preferred_contact",
    "phone", "email", "safe_to_leave_messages", "needs_interpreter", "language", "restricted",
]
LOCATION_FIELDS = [
    "description", "address_line_1", "address_line_2", "town", "postcode", "area", "ward",
    "latitude", "longitude",
]


def normalise_postcode(raw: str) -> str:
    compact = re.sub(r"\s+", "", raw).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def create_location(
    session: Session,
    actor: Actor,
    *,
    address_line_1: str | None = None,
    description: str | None = None,
    address_line_2: str | None = None,
    town: str | None = None,
    postcode: str | None = None,
    area: str | None = None,
    ward: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Location:
    errors: dict[str, str] = {}
    if not (address_line_1 or "").strip() and not (description or "").strip():
        errors["address_line_1"] = "Enter an address, or describe the place (like 'the play park')"
    if postcode:
        postcode = normalise_postcode(postcode)
        if not POSTCODE_SHAPE.match(postcode):
            errors["postcode"] = "Enter a real postcode, like AB1 2CD"
    if (latitude is None) != (longitude is None):
        errors["latitude"] = "Give both latitude and longitude, or neither"
    elif latitude is not None and longitude is not None:
        if not -90 <= latitude <= 90:
            errors["latitude"] = "Latitude is between -90 and 90"
        if not -180 <= longitude <= 180:
            errors["longitude"] = "Longitude is between -180 and 180"
    if errors:
        raise InvalidRequest(errors)
    location = Location(
        description=description or None,
        address_line_1=address_line_1 or None,
        address_line_2=address_line_2 or None,
        town=town or None,
        postcode=postcode or None,
        area=area or None,
        ward=ward or None,
        latitude=latitude,
        longitude=longitude,
    )
    session.add(location)
    session.flush()
    after = snapshot(location, LOCATION_FIELDS)
    record(session, actor, AuditAction.CREATE, entity=location, after=after)
    return location


def create_person(
    session: Session,
    actor: Actor,
    *,
    given_name: str = "",
    family_name: str = "",
    date_of_birth: date | None = None,
    known_as: str | None = None,
    gender: str | None = None,
    preferred_contact: ContactMethod | str | None = None,
    phone: str | None = None,
    email: str | None = None,
    safe_to_leave_messages: bool | None = None,
    home_location_id: int | None = None,
    vulnerabilities: list[VulnerabilityKind | str] = (),  # type: ignore[assignment]
    restricted: bool = False,
) -> Person:
    errors: dict[str, str] = {}
    given_name, family_name = given_name.strip(), family_name.strip()
    if not given_name and not family_name:
        errors["family_name"] = "Enter a name (a first name or a last name is enough)"
    if date_of_birth is not None and date_of_birth > clock.now().date():
        errors["date_of_birth"] = "Date of birth must be in the past"
    contact = None
    if preferred_contact:
        try:
            contact = ContactMethod(preferred_contact)
        except ValueError:
            errors["preferred_contact"] = "Choose one of: " + ", ".join(ContactMethod)
    if contact is ContactMethod.PHONE and not phone:
        errors["phone"] = "Enter a phone number, or choose another way to contact them"
    if contact is ContactMethod.EMAIL and not email:
        errors["email"] = "Enter an e-mail address, or choose another way to contact them"
    kinds: list[VulnerabilityKind] = []
    for kind in vulnerabilities:
        try:
            kinds.append(VulnerabilityKind(kind))
        except ValueError:
            errors["vulnerabilities"] = f"{kind!r} is not a vulnerability marker"
    if errors:
        raise InvalidRequest(errors)
    person = Person(
        given_name=given_name,
        family_name=family_name,
        known_as=known_as,
        date_of_birth=date_of_birth,
        gender=gender,
        preferred_contact=contact,
        phone=phone,
        email=email,
        safe_to_leave_messages=safe_to_leave_messages,
        restricted=restricted,
        created_by_agency_id=actor.agency_id,
        vulnerabilities=[Vulnerability(kind=k, recorded_by_id=actor.user_id) for k in set(kinds)],
    )
    if home_location_id is not None:
        person.addresses.append(PersonAddress(location_id=home_location_id, kind=AddressKind.HOME))
    session.add(person)
    session.flush()
    after = snapshot(person, PERSON_FIELDS) | {"vulnerabilities": sorted(set(kinds))}
    record(session, actor, AuditAction.CREATE, entity=person, after=after)
    return person


# --- changing a person's details ------------------------------------------------------------

# What update_person may change. `restricted` is not among them: locking or unlocking a
# profile decides who else may see it, which is not a correction of someone's details.
CHANGEABLE_FIELDS = (
    "given_name", "family_name", "known_as", "date_of_birth", "gender", "preferred_contact",
    "phone", "email", "safe_to_leave_messages", "contact_notes", "needs_interpreter",
    "language", "vulnerabilities", "home_location_id",
)
# The columns among them, as the audit entry pictures them (with the vulnerability markers
# and the home address's location id).
DETAIL_FIELDS = [
    name for name in CHANGEABLE_FIELDS if name not in ("vulnerabilities", "home_location_id")
]
_NAMES = ("given_name", "family_name")
_OPTIONAL_TEXT = ("known_as", "gender", "phone", "email", "contact_notes", "language")
# The column sizes (longer text would fail at PostgreSQL), and a sane size for the notes.
MAX_LENGTHS: dict[str, int] = {
    name: Person.__table__.c[name].type.length
    for name in (*_NAMES, "known_as", "gender", "phone", "email", "language")
} | {"contact_notes": 2000}
LABELS = {
    "given_name": "First name", "family_name": "Last name", "known_as": "Known as",
    "gender": "Gender", "phone": "Phone number", "email": "E-mail address",
    "contact_notes": "Notes on contact", "language": "Language",
}
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_SHAPE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")


def current_home(person: Person, today: date) -> PersonAddress | None:
    """Where they live now: their newest home address in force today, if any."""
    homes = [
        a for a in person.addresses
        if a.kind is AddressKind.HOME
        and (a.from_date is None or a.from_date <= today)
        and (a.until_date is None or a.until_date >= today)
    ]
    return homes[-1] if homes else None


def check_person_details(
    person: Person, changes: Mapping[str, Any], *, today: date
) -> tuple[dict[str, Any], dict[str, str]]:
    """`changes` to `person` as they would be stored, and what is wrong with them, by field.

    Pure (no database): a form can call it to report every problem at once. The rules that
    tie fields together (a preferred way of contact needs its number or address) read the
    details as they would stand after the change. Shape and length are checked only for
    values that change, so a detail recorded before a rule existed does not block others.
    """
    unknown = set(changes) - set(CHANGEABLE_FIELDS)
    if unknown:
        raise TypeError(f"a person's {', '.join(sorted(unknown))} cannot be changed here")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, raw in changes.items():
        if name in _NAMES or name in _OPTIONAL_TEXT:
            if raw is not None and not isinstance(raw, str):
                errors[name] = f"{LABELS[name]} must be text"
                continue
            text = (raw or "").strip()
            values[name] = text if name in _NAMES else text or None
        elif name == "date_of_birth":
            if raw is not None and (not isinstance(raw, date) or isinstance(raw, datetime)):
                errors[name] = "Enter the date of birth as a date"
            elif raw is not None and raw > today:
                errors[name] = "Date of birth must be in the past"
            else:
                values[name] = raw
        elif name == "preferred_contact":
            try:
                values[name] = ContactMethod(raw) if raw else None
            except ValueError:
                errors[name] = "Choose how they prefer to be contacted"
        elif name in ("safe_to_leave_messages", "needs_interpreter"):
            if not isinstance(raw, bool) and not (raw is None and name == "safe_to_leave_messages"):
                errors[name] = ("Choose whether it is safe to leave them messages"
                                if name == "safe_to_leave_messages"
                                else "Choose whether they need an interpreter")
            else:
                values[name] = raw
        elif name == "vulnerabilities":
            try:
                values[name] = frozenset(VulnerabilityKind(k) for k in raw or ())
            except (TypeError, ValueError):
                errors[name] = "Choose vulnerability markers from the list"
        elif name == "home_location_id":
            if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool)):
                errors[name] = "Choose an address that is on Casebridge"
            else:
                values[name] = raw

    def after(name: str) -> Any:
        return values[name] if name in values else getattr(person, name)

    def changing(name: str) -> bool:
        return name in values and values[name] != getattr(person, name)

    if not name_key(after("given_name")) and not name_key(after("family_name")):
        errors.setdefault("family_name", "Enter a name (a first name or a last name is enough)")
    for name, most in MAX_LENGTHS.items():
        if changing(name) and len(values[name] or "") > most:
            errors.setdefault(name, f"{LABELS[name]} must be {most} characters or fewer")
    if changing("phone") and values["phone"] and not PHONE_SHAPE.match(values["phone"]):
        errors.setdefault("phone", "Enter a phone number, like 01632 960 001 or 07700 900 982")
    if changing("email") and values["email"] and not EMAIL_SHAPE.match(values["email"]):
        errors.setdefault(
            "email", "Enter an e-mail address in the correct format, like name@example.com")
    if "preferred_contact" not in errors:
        contact = after("preferred_contact")
        if contact is ContactMethod.PHONE and not after("phone"):
            errors.setdefault(
                "phone", "Enter a phone number, or choose another way to contact them")
        if contact is ContactMethod.EMAIL and not after("email"):
            errors.setdefault(
                "email", "Enter an e-mail address, or choose another way to contact them")
    return values, errors


def update_person(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    expected_updated_at: datetime | None = None,
    **changes: Any,
) -> Person:
    """Change a person's details: any of CHANGEABLE_FIELDS; what is not given stays as it is.

    - Only an actor whose agency works with the person may (storage.access.may_change_person,
      the rule that shows their details on the profile); the system always may.
    - `expected_updated_at` is their `updated_at` when the change was begun (a form's hidden
      field): if they have been changed since, nothing is written and ConcurrencyConflict is
      raised, carrying `changes`. Every change moves `updated_at` on, even within one tick
      of the clock, so a stale form is always noticed.
    - The names' search forms follow the names (Person's before_update hook).
    - `home_location_id` is where they live now. Locations are shared (other residents,
      cases) and are never edited from here: a different one records a move, and the old
      home is kept as a previous address; None ends the current home address.
    - The audit entry holds the fields that changed, before and after (as creation records
      the values); a change that changes nothing writes nothing.

    Flushes; the caller commits.
    """
    person = session.get(Person, person_id, populate_existing=True, with_for_update=True)
    if person is None:
        raise NotFound("Person", person_id)
    if not _may_change(session, actor, person):
        raise AccessDenied("Only the agencies working with this person can change their details")
    if expected_updated_at is not None and person.updated_at != expected_updated_at:
        raise ConcurrencyConflict("This person's details", expected_version=None,
                                  current_version=None, submitted=dict(changes))
    today = clock.now().date()
    values, errors = check_person_details(person, changes, today=today)
    new_home = values.get("home_location_id")
    if new_home is not None and session.get(Location, new_home) is None:
        errors["home_location_id"] = "Choose an address that is on Casebridge"
    if errors:
        raise InvalidRequest(errors)

    before = _picture(person, today)
    for name in DETAIL_FIELDS:
        if name in values and values[name] != getattr(person, name):
            setattr(person, name, values[name])
    if "vulnerabilities" in values:
        wanted = values["vulnerabilities"]
        for marker in [m for m in person.vulnerabilities if m.kind not in wanted]:
            person.vulnerabilities.remove(marker)
        kept = {m.kind for m in person.vulnerabilities}
        person.vulnerabilities.extend(
            Vulnerability(kind=kind, recorded_by_id=actor.user_id)
            for kind in sorted(wanted - kept)
        )
    if "home_location_id" in values:
        home = current_home(person, today)
        if (home.location_id if home else None) != new_home:
            if home is not None:
                home.kind, home.until_date = AddressKind.PREVIOUS, today
            if new_home is not None:
                person.addresses.append(
                    PersonAddress(location_id=new_home, kind=AddressKind.HOME, from_date=today))
    old, new = changed_fields(before, _picture(person, today))
    if not new:
        return person
    person.updated_at = max(clock.now(), person.updated_at + timedelta(microseconds=1))
    try:
        session.flush()
    except OperationalError as exc:
        # SQLite: another writer changed the database after this transaction read it.
        if getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY_SNAPSHOT:
            raise ConcurrencyConflict("This person's details", expected_version=None,
                                      current_version=None, submitted=dict(changes)) from None
        raise
    record(session, actor, AuditAction.UPDATE, entity=person, before=old, after=new)
    return person


def _may_change(session: Session, actor: Actor, person: Person) -> bool:
    if actor.user_id is None:
        return True  # the system: the command line, importers
    user = session.get(User, actor.user_id)
    return user is not None and may_change_person(session, user, person)


def _picture(person: Person, today: date) -> dict[str, Any]:
    home = current_home(person, today)
    return snapshot(person, DETAIL_FIELDS) | {
        "vulnerabilities": sorted(m.kind.value for m in person.vulnerabilities),
        "home_location_id": home.location_id if home else None,
    }

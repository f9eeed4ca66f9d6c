from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session

from casebridge import clock
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record, snapshot
from storage.errors import InvalidRequest
from storage.people.models import (
    AddressKind,
    ContactMethod,
    Location,
    Person,
    PersonAddress,
    Vulnerability,
    VulnerabilityKind,
)

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

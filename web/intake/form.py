"""The new-case form: what was typed (kept as typed, to show back), and what it means.

Pure: no database and no Flask request here, so every rule is easy to test and the view
stays short. The services check again when they write; these checks exist so that every
problem on the page is reported at once, next to its field, before anything is written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from storage.cases.models import ParticipantRole, RiskLevel
from storage.people.models import ContactMethod, VulnerabilityKind
from storage.people.names import name_key
from storage.people.services import POSTCODE_SHAPE, normalise_postcode
from web.dates import parse_date_input

# Every single-value field on the page, by its form name (also the id of its input, so the
# error summary can link to it; the date of birth's first input is "date_of_birth-day").
TEXT_FIELDS = (
    "case_type", "title", "summary", "risk_level",
    "person_role", "given_name", "family_name",
    "date_of_birth-day", "date_of_birth-month", "date_of_birth-year",
    "phone", "email", "preferred_contact", "address_line_1", "town", "postcode",
    "person", "checked",
    "location_address", "location_description", "location_postcode", "location_area",
    "perpetrator_given_name", "perpetrator_family_name", "perpetrator_role",
)
# The fields the duplicate check reads: errors in these stop a check.
CHECK_FIELDS = ("given_name", "family_name", "date_of_birth", "postcode")
# The fields in the order the page shows them.
PAGE_ORDER = (
    "case_type", "title", "summary", "risk_level", "person_role", "given_name", "family_name",
    "date_of_birth-day", "phone", "email", "preferred_contact", "address_line_1", "town",
    "postcode", "vulnerabilities", "person", "location_address", "location_description",
    "location_postcode", "location_area", "perpetrator_given_name", "perpetrator_family_name",
    "perpetrator_role",
)
# Where the error summary links for a field whose first input has another id.
ANCHORS = {"date_of_birth": "date_of_birth-day"}

# Who the person being helped is on the case.
PERSON_ROLES = (ParticipantRole.VICTIM, ParticipantRole.COMPLAINANT, ParticipantRole.APPLICANT)
PERPETRATOR_ROLES = (ParticipantRole.PERPETRATOR, ParticipantRole.ALLEGED_PERPETRATOR)
NEW_PERSON = "new"

# Column sizes (storage models): longer text would fail at the database.
MAX_LENGTH = {
    "title": 200, "summary": 2000, "given_name": 100, "family_name": 100, "phone": 40,
    "email": 320, "address_line_1": 200, "town": 100, "location_address": 200,
    "location_description": 300, "location_area": 100, "perpetrator_given_name": 100,
    "perpetrator_family_name": 100,
}
LABELS = {
    "title": "Title", "summary": "Summary", "given_name": "First name",
    "family_name": "Last name", "phone": "Phone number", "email": "E-mail address",
    "address_line_1": "Address line 1", "town": "Town or city",
    "location_address": "Address", "location_description": "Description of the place",
    "location_area": "Area", "perpetrator_given_name": "Their first name",
    "perpetrator_family_name": "Their last name",
}
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_SHAPE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")


@dataclass
class IntakeForm:
    """What the user typed (`values`, always shown back as typed) and what it means."""

    values: dict[str, str]
    vulnerabilities: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    date_of_birth: date | None = None
    postcode: str | None = None
    location_postcode: str | None = None

    @classmethod
    def empty(cls) -> IntakeForm:
        values = dict.fromkeys(TEXT_FIELDS, "")
        values["person_role"] = ParticipantRole.VICTIM.value
        return cls(values=values)

    @classmethod
    def from_form(cls, form: Mapping[str, str], vulnerabilities: list[str]) -> IntakeForm:
        values = {name: (form.get(name) or "").strip() for name in TEXT_FIELDS}
        return cls(values=values, vulnerabilities=[v for v in vulnerabilities if v])

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    # --- checking ---------------------------------------------------------------------------

    def check_for_duplicates(self, today: date) -> dict[str, str]:
        """Check what the duplicate check reads; return the problems (also kept in .errors)."""
        self.errors = {}
        self._person_identity(today)
        return self.errors

    def check_everything(self, today: date, case_types: Mapping[str, object]) -> dict[str, str]:
        """Check the whole page; return the problems (also kept in .errors)."""
        self.errors = {}
        v, errors = self.values, self.errors
        if not v["case_type"]:
            errors["case_type"] = "Choose the type of case"
        elif v["case_type"] not in case_types:
            errors["case_type"] = "Choose one of the types of case listed"
        if not v["title"]:
            errors["title"] = "Enter a short title for the case"
        if v["risk_level"] and v["risk_level"] not in set(RiskLevel):
            errors["risk_level"] = "Choose the risk level, or 'Not known yet'"
        if v["person_role"] not in {r.value for r in PERSON_ROLES}:
            errors["person_role"] = "Choose whether they are the victim, complainant or applicant"
        self._person_identity(today)
        self._contact()
        if (v["town"] or v["postcode"]) and not v["address_line_1"]:
            errors.setdefault("address_line_1", "Enter the first line of their address, "
                                                "or leave their address blank")
        unknown = [k for k in self.vulnerabilities if k not in set(VulnerabilityKind)]
        if unknown:
            errors["vulnerabilities"] = "Choose vulnerabilities from the list"
        self._location()
        self._perpetrator()
        for name, most in MAX_LENGTH.items():
            if len(v[name]) > most:
                errors.setdefault(name, f"{LABELS[name]} must be {most} characters or fewer")
        return errors

    def _person_identity(self, today: date) -> None:
        v, errors = self.values, self.errors
        if not name_key(v["given_name"]) and not name_key(v["family_name"]):
            errors["family_name"] = "Enter their name (a first name or a last name is enough)"
        self.date_of_birth, problem = parse_date_of_birth(
            v["date_of_birth-day"], v["date_of_birth-month"], v["date_of_birth-year"], today
        )
        if problem:
            errors["date_of_birth"] = problem
        self.postcode, problem = parse_postcode(v["postcode"])
        if problem:
            errors["postcode"] = problem

    def _contact(self) -> None:
        v, errors = self.values, self.errors
        if v["preferred_contact"] and v["preferred_contact"] not in set(ContactMethod):
            errors["preferred_contact"] = "Choose how they prefer to be contacted"
        if v["phone"] and not PHONE_SHAPE.match(v["phone"]):
            errors["phone"] = "Enter a phone number, like 01632 960 001 or 07700 900 982"
        elif not v["phone"] and v["preferred_contact"] == ContactMethod.PHONE:
            errors["phone"] = "Enter a phone number, or choose another way to contact them"
        if v["email"] and not EMAIL_SHAPE.match(v["email"]):
            errors["email"] = "Enter an e-mail address in the correct format, like name@example.com"
        elif not v["email"] and v["preferred_contact"] == ContactMethod.EMAIL:
            errors["email"] = "Enter an e-mail address, or choose another way to contact them"

    def _location(self) -> None:
        v, errors = self.values, self.errors
        if not v["location_address"] and not v["location_description"]:
            errors["location_address"] = ("Enter the address where it happened, or describe "
                                          "the place (like 'the play park on Mill Lane')")
        self.location_postcode, problem = parse_postcode(v["location_postcode"])
        if problem:
            errors["location_postcode"] = problem

    def _perpetrator(self) -> None:
        v, errors = self.values, self.errors
        named = v["perpetrator_given_name"] or v["perpetrator_family_name"]
        role = v["perpetrator_role"]
        if (named and not role) or (role and role not in {r.value for r in PERPETRATOR_ROLES}):
            errors["perpetrator_role"] = "Choose whether it is known they did it"
        if named and not (name_key(v["perpetrator_given_name"])
                          or name_key(v["perpetrator_family_name"])):
            errors["perpetrator_family_name"] = "Enter their name using letters"
        elif role and not named:
            errors["perpetrator_family_name"] = ("Enter their name (a first name or a last name "
                                                 "is enough), or leave this part blank")

    # --- meaning ----------------------------------------------------------------------------

    @property
    def has_perpetrator(self) -> bool:
        return bool(self["perpetrator_given_name"] or self["perpetrator_family_name"])

    @property
    def has_home_address(self) -> bool:
        return bool(self["address_line_1"])

    def check_key(self) -> str:
        """What a duplicate check was run for: a change to any of it needs a new check."""
        born = self.date_of_birth.isoformat() if self.date_of_birth else ""
        text = "|".join((name_key(self["given_name"]), name_key(self["family_name"]), born,
                         self.postcode or ""))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def error_list(self) -> list[dict[str, str]]:
        """The error summary, in the order of the page."""
        def place(name: str) -> int:
            anchor = ANCHORS.get(name, name)
            return PAGE_ORDER.index(anchor) if anchor in PAGE_ORDER else len(PAGE_ORDER)

        return [{"text": self.errors[name], "href": "#" + ANCHORS.get(name, name)}
                for name in sorted(self.errors, key=place)]


def parse_date_of_birth(day: str, month: str, year: str,
                        today: date) -> tuple[date | None, str | None]:
    """A GOV.UK date input: nothing at all is fine (not known); otherwise a real, past date."""
    if not (day.strip() or month.strip() or year.strip()):
        return None, None
    born, problem = parse_date_input(day, month, year, what="date of birth")
    if born is None:
        return None, problem
    if born >= today:
        return None, "Date of birth must be in the past"
    if born.year < 1900:
        return None, "Date of birth must be after 1900"
    return born, None


def parse_postcode(raw: str) -> tuple[str | None, str | None]:
    if not raw.strip():
        return None, None
    postcode = normalise_postcode(raw)
    if not POSTCODE_SHAPE.match(postcode):
        return None, "Enter a real postcode, like AB1 2CD"
    return postcode, None

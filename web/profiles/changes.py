"""The "Change details" form of a person: what was typed (kept as typed, to show back), and
what it means as changes for storage.people.services.update_person.

Pure: no database and no Flask request, like web/intake/form.py. The service checks again
when it writes; checking here first reports every problem on the page at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from storage.people.models import Location, Person
from storage.people.services import check_person_details
from web.intake.form import parse_date_of_birth, parse_postcode

# Every single-value field on the page, by its form name (also its input's id).
TEXT_FIELDS = (
    "given_name", "family_name", "known_as",
    "date_of_birth-day", "date_of_birth-month", "date_of_birth-year", "gender",
    "preferred_contact", "phone", "email", "safe_to_leave_messages", "needs_interpreter",
    "language", "contact_notes", "address_line_1", "town", "postcode",
)
# The fields in the order the page shows them (for the error summary).
PAGE_ORDER = (
    "given_name", "family_name", "known_as", "date_of_birth-day", "gender", "vulnerabilities",
    "preferred_contact", "phone", "email", "safe_to_leave_messages", "needs_interpreter",
    "language", "contact_notes", "address_line_1", "town", "postcode",
)
# Where the error summary links for a problem whose field has another first input.
ANCHORS = {"date_of_birth": "date_of_birth-day", "home_location_id": "address_line_1"}
# Location column sizes (storage.people.models.Location).
ADDRESS_LENGTHS = {"address_line_1": ("Address line 1", 200), "town": ("Town or city", 100)}
YES, NO = "yes", "no"
_BOOLEANS = {YES: True, NO: False}


def address_values(location: Location | None) -> dict[str, str]:
    """The home address as the form shows it."""
    if location is None:
        return {"address_line_1": "", "town": "", "postcode": ""}
    return {"address_line_1": location.address_line_1 or "", "town": location.town or "",
            "postcode": location.postcode or ""}


@dataclass
class DetailsForm:
    values: dict[str, str]
    vulnerabilities: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # What the typed date of birth and postcode mean (set by check()).
    date_of_birth: date | None = None
    postcode: str | None = None

    @classmethod
    def from_person(cls, person: Person, home: Location | None) -> DetailsForm:
        """The form filled in with the details as they stand."""
        born = person.date_of_birth
        values = {
            "given_name": person.given_name or "",
            "family_name": person.family_name or "",
            "known_as": person.known_as or "",
            "date_of_birth-day": str(born.day) if born else "",
            "date_of_birth-month": str(born.month) if born else "",
            "date_of_birth-year": str(born.year) if born else "",
            "gender": person.gender or "",
            "preferred_contact": person.preferred_contact.value if person.preferred_contact
            else "",
            "phone": person.phone or "",
            "email": person.email or "",
            "safe_to_leave_messages": _yes_no(person.safe_to_leave_messages),
            "needs_interpreter": _yes_no(person.needs_interpreter),
            "language": person.language or "",
            "contact_notes": person.contact_notes or "",
        } | address_values(home)
        return cls(values=values,
                   vulnerabilities=[m.kind.value for m in person.vulnerabilities])

    @classmethod
    def from_form(cls, form: Mapping[str, str], vulnerabilities: list[str]) -> DetailsForm:
        values = {name: (form.get(name) or "").strip() for name in TEXT_FIELDS}
        return cls(values=values, vulnerabilities=[v for v in vulnerabilities if v])

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    # --- checking -------------------------------------------------------------------------

    def check(self, person: Person, today: date) -> dict[str, str]:
        """Check the whole page against `person` as they stand; return the problems (also
        kept in .errors)."""
        v = self.values
        self.errors = errors = {}
        day, month, year = (v[f"date_of_birth-{p}"] for p in ("day", "month", "year"))
        if _same_date(day, month, year, person.date_of_birth):
            self.date_of_birth = person.date_of_birth  # as recorded, whatever rule it predates
        else:
            self.date_of_birth, problem = parse_date_of_birth(day, month, year, today)
            if problem:
                errors["date_of_birth"] = problem
        self.postcode, problem = parse_postcode(v["postcode"])
        if problem:
            errors["postcode"] = problem
        if (v["town"] or v["postcode"]) and not v["address_line_1"]:
            errors["address_line_1"] = ("Enter the first line of their address, or leave "
                                        "their address blank")
        for name, (label, most) in ADDRESS_LENGTHS.items():
            if len(v[name]) > most:
                errors.setdefault(name, f"{label} must be {most} characters or fewer")
        changes = self.changes()
        if "date_of_birth" in errors:
            changes.pop("date_of_birth")
        _, problems = check_person_details(person, changes, today=today)
        for name, message in problems.items():
            errors.setdefault(name, message)
        return errors

    # --- meaning --------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The details for update_person (all but the home address: see address_changed)."""
        v = self.values
        return {
            "given_name": v["given_name"], "family_name": v["family_name"],
            "known_as": v["known_as"], "date_of_birth": self.date_of_birth,
            "gender": v["gender"], "preferred_contact": v["preferred_contact"],
            "phone": v["phone"], "email": v["email"],
            # Anything but yes, no (or, for messages, not known) is refused by the service.
            "safe_to_leave_messages": None if not v["safe_to_leave_messages"]
            else _BOOLEANS.get(v["safe_to_leave_messages"], v["safe_to_leave_messages"]),
            "needs_interpreter": _BOOLEANS.get(v["needs_interpreter"], v["needs_interpreter"]),
            "language": v["language"], "contact_notes": v["contact_notes"],
            "vulnerabilities": list(self.vulnerabilities),
        }

    @property
    def has_address(self) -> bool:
        return bool(self["address_line_1"])

    def address_changed(self, home: Location | None) -> bool:
        """Whether the typed home address differs from the one the form was filled with."""
        shown = address_values(home)
        typed = {"address_line_1": self["address_line_1"], "town": self["town"],
                 "postcode": self.postcode or ""}
        return any(typed[name] != shown[name].strip() for name in typed)

    def error_list(self) -> list[dict[str, str]]:
        """The error summary, in the order of the page."""
        def place(name: str) -> int:
            anchor = ANCHORS.get(name, name)
            return PAGE_ORDER.index(anchor) if anchor in PAGE_ORDER else len(PAGE_ORDER)

        return [{"text": self.errors[name], "href": "#" + ANCHORS.get(name, name)}
                for name in sorted(self.errors, key=place)]


def _yes_no(value: bool | None) -> str:
    return "" if value is None else YES if value else NO


def _same_date(day: str, month: str, year: str, recorded: date | None) -> bool:
    if recorded is None:
        return not (day or month or year)
    try:
        return date(int(year), int(month), int(day)) == recorded
    except ValueError:
        return False

"""Changing a person's details in the browser: the form filled in with what is recorded, each
kind of problem sent back next to its field with everything typed kept, a change made by
someone else meanwhile shown as a conflict, and only the agencies working with the person
let in."""

from __future__ import annotations

import html
import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant
from storage.people.models import AddressKind, ContactMethod, Location, Person, VulnerabilityKind
from storage.people.services import create_location, create_person, update_person
from tests import factories
from tests.storage.helpers import audit_entries
from tests.web.conftest import csrf_token, sign_in, user_with_password

# What the form posts for Robin as recorded (see `robin`), unchanged.
AS_RECORDED = {
    "given_name": "Robin", "family_name": "Example", "known_as": "Rob",
    "date_of_birth-day": "27", "date_of_birth-month": "3", "date_of_birth-year": "1985",
    "gender": "", "preferred_contact": "phone", "phone": "07700 900123", "email": "",
    "safe_to_leave_messages": "no", "needs_interpreter": "no", "language": "",
    "contact_notes": "", "address_line_1": "1 Test Street", "town": "Testtown",
    "postcode": "AB1 2CD", "vulnerabilities": ["disability"],
}


@pytest.fixture
def home(session):
    return create_location(session, factories.SYSTEM, address_line_1="1 Test Street",
                           town="Testtown", postcode="ab1 2cd")


@pytest.fixture
def robin(session, frozen_clock, practitioner, home):
    """Recorded by the signed-in practitioner's agency, so they work with Robin."""
    person = create_person(
        session, factories.actor_for(practitioner), given_name="Robin", family_name="Example",
        known_as="Rob", date_of_birth=date(1985, 3, 27), preferred_contact="phone",
        phone="07700 900123", safe_to_leave_messages=False, vulnerabilities=["disability"],
        home_location_id=home.id,
    )
    session.commit()
    return person


def url(person) -> str:
    return f"/people/{person.id}/change"


def text(response) -> str:
    """The page's words with tags dropped and spaces collapsed, as a reader sees them."""
    words = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(words))


def inputs(page: str, name: str) -> list[str]:
    return re.findall(rf'<input\s[^>]*\bname="{re.escape(name)}"[^>]*>', page)


def value_of(page: str, name: str) -> str:
    [tag] = inputs(page, name)
    found = re.search(r'\bvalue="([^"]*)"', tag)
    return html.unescape(found.group(1)) if found else ""


def checked(page: str, name: str) -> list[str]:
    return [html.unescape(re.search(r'\bvalue="([^"]*)"', tag).group(1))
            for tag in inputs(page, name) if re.search(r"\schecked\b", tag)]


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea\s[^>]*\bname="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {name}"
    return html.unescape(found.group(1))


def error_next_to(page: str, field_id: str) -> str | None:
    found = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', page, re.S)
    if not found:
        return None
    words = re.sub(r"<[^>]+>", " ", html.unescape(found.group(1))).replace("Error:", "")
    return re.sub(r"\s+", " ", words).strip()


def summary_links(page: str) -> list[tuple[str, str]]:
    found = re.search(r'class="govuk-error-summary".*?</ul>', page, re.S)
    assert found, "no error summary"
    return [(href, re.sub(r"\s+", " ", html.unescape(words)).strip())
            for href, words in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', found.group(0),
                                          re.S)]


def version_of(page: str) -> str:
    return value_of(page, "version")


def post(client, person, fields: dict, *, version: str) -> object:
    return client.post(url(person), data=fields | {"version": version})


def load(client, person) -> str:
    response = client.get(url(person))
    assert response.status_code == 200
    return version_of(response.get_data(as_text=True))


def stored(session, person) -> Person:
    session.expire_all()
    return session.get(Person, person.id)


def update_entries(session, person):
    return [e for e in audit_entries(session, action=AuditAction.UPDATE, entity_type="people")
            if e.entity_id == str(person.id)]


# --- the form ---------------------------------------------------------------------------------


def test_the_form_is_filled_in_with_the_details_as_recorded(signed_in, session, robin,
                                                             practitioner):
    response = signed_in.get(url(robin))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Change details" in text(response)
    for name, typed in AS_RECORDED.items():
        if name == "vulnerabilities":
            assert checked(page, name) == typed
        elif name in ("preferred_contact", "safe_to_leave_messages", "needs_interpreter"):
            assert checked(page, name) == [typed], name
        elif name == "contact_notes":
            assert textarea(page, name) == typed
        else:
            assert value_of(page, name) == typed, name
    assert 'name="csrf_token"' in page
    assert version_of(page) == robin.updated_at.isoformat(timespec="microseconds")
    assert "There is a problem" not in page
    [view] = [e for e in audit_entries(session, action=AuditAction.VIEW, entity_type="people")
              if e.entity_id == str(robin.id)]
    assert view.actor_user_id == practitioner.id
    assert json.loads(view.changes)["detail"] == {"view": "change details form"}


def test_the_profile_links_to_the_form_for_those_who_may_change_the_person(
        client, session, robin, practitioner, owner):
    sign_in(client, practitioner)
    response = client.get(f"/people/{robin.id}")
    assert f'href="/people/{robin.id}/change"' in response.get_data(as_text=True)
    assert "Change details" in text(response)

    for outsider in (user_with_password(session, factories.agency(session), Role.PRACTITIONER),
                     user_with_password(session, owner, Role.AUDITOR)):
        client.post("/sign-out")
        sign_in(client, outsider)
        response = client.get(f"/people/{robin.id}")
        assert response.status_code == 200
        assert "/change" not in response.get_data(as_text=True)


# --- saving -----------------------------------------------------------------------------------


def test_a_valid_change_is_saved_and_the_profile_says_so(app, signed_in, session, robin,
                                                         practitioner):
    version = load(signed_in, robin)
    typed = AS_RECORDED | {
        "given_name": "Robyn", "family_name": "Éxample-Smith", "known_as": "",
        "date_of_birth-day": "1", "date_of_birth-month": "12", "date_of_birth-year": "1984",
        "gender": "Female", "preferred_contact": "email", "email": "robyn@example.test",
        "safe_to_leave_messages": "", "needs_interpreter": "yes", "language": "Polish",
        "contact_notes": "Not before 10am", "vulnerabilities": ["disability", "carer"],
    }
    response = post(signed_in, robin, typed, version=version)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/people/{robin.id}"

    person = stored(session, robin)
    assert (person.given_name, person.family_name, person.known_as) == (
        "Robyn", "Éxample-Smith", None)
    assert person.date_of_birth == date(1984, 12, 1)
    assert (person.gender, person.preferred_contact, person.email) == (
        "Female", ContactMethod.EMAIL, "robyn@example.test")
    assert person.safe_to_leave_messages is None
    assert (person.needs_interpreter, person.language) == (True, "Polish")
    assert person.contact_notes == "Not before 10am"
    assert {m.kind for m in person.vulnerabilities} == {VulnerabilityKind.DISABILITY,
                                                        VulnerabilityKind.CARER}
    assert (person.search_given, person.search_family) == ("robyn", "example smith")
    assert [a.kind for a in person.addresses] == [AddressKind.HOME], "the address was kept"
    [entry] = update_entries(session, robin)
    assert entry.actor_user_id == practitioner.id
    assert set(json.loads(entry.changes)["after"]) == {
        "given_name", "family_name", "known_as", "date_of_birth", "gender",
        "preferred_contact", "email", "safe_to_leave_messages", "needs_interpreter",
        "language", "contact_notes", "vulnerabilities"}

    cookie = signed_in.get_cookie("casebridge_session").value
    flashed = app.session_interface.get_signing_serializer(app).loads(cookie)["_flashes"]
    assert flashed == [("success", "Their details have been changed.")], \
        "no personal details in the session cookie"
    profile = signed_in.get(response.headers["Location"])
    assert "Their details have been changed." in text(profile)
    assert "govuk-notification-banner--success" in profile.get_data(as_text=True)
    assert "Robyn Éxample-Smith" in text(profile)


def test_saving_without_changing_anything_writes_nothing(signed_in, session, robin):
    version = load(signed_in, robin)
    response = post(signed_in, robin, AS_RECORDED, version=version)
    assert response.status_code == 302
    assert stored(session, robin).updated_at.isoformat(timespec="microseconds") == version
    assert update_entries(session, robin) == []
    assert "Nothing was changed" in text(signed_in.get(response.headers["Location"]))


def test_a_new_home_address_records_a_move(signed_in, session, robin, home, frozen_clock):
    version = load(signed_in, robin)
    moved = AS_RECORDED | {"address_line_1": "9 New Road", "town": "Newtown",
                           "postcode": "cd34ef"}
    assert post(signed_in, robin, moved, version=version).status_code == 302
    person = stored(session, robin)
    old, new = person.addresses
    assert (old.location_id, old.kind, old.until_date) == (
        home.id, AddressKind.PREVIOUS, frozen_clock.now().date())
    assert new.kind is AddressKind.HOME
    assert (new.location.address_line_1, new.location.town, new.location.postcode) == (
        "9 New Road", "Newtown", "CD3 4EF")
    assert session.get(Location, home.id).address_line_1 == "1 Test Street", \
        "the shared location is not edited"

    # Back to the old address: the place already recorded is used again, not a copy.
    locations = session.scalar(select(func.count()).select_from(Location))
    version = load(signed_in, robin)
    assert value_of(signed_in.get(url(robin)).get_data(as_text=True), "address_line_1") == \
        "9 New Road"
    assert post(signed_in, robin, AS_RECORDED, version=version).status_code == 302
    person = stored(session, robin)
    assert [(a.location_id, a.kind) for a in person.addresses][-1] == (home.id, AddressKind.HOME)
    assert session.scalar(select(func.count()).select_from(Location)) == locations

    # No address at all: the home address ends.
    version = load(signed_in, robin)
    blank = AS_RECORDED | {"address_line_1": "", "town": "", "postcode": ""}
    assert post(signed_in, robin, blank, version=version).status_code == 302
    assert all(a.kind is AddressKind.PREVIOUS for a in stored(session, robin).addresses)


# --- problems ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"given_name": "", "family_name": " "}, "family_name",
         "Enter a name (a first name or a last name is enough)"),
        ({"given_name": "R" * 101}, "given_name", "First name must be 100 characters or fewer"),
        ({"date_of_birth-month": ""}, "date_of_birth", "Date of birth must include a month"),
        ({"date_of_birth-day": "31", "date_of_birth-month": "2"}, "date_of_birth",
         "Date of birth must be a real date"),
        ({"date_of_birth-year": "2027"}, "date_of_birth", "Date of birth must be in the past"),
        ({"preferred_contact": "pigeon"}, "preferred_contact",
         "Choose how they prefer to be contacted"),
        ({"phone": ""}, "phone", "Enter a phone number, or choose another way to contact them"),
        ({"phone": "call me maybe"}, "phone",
         "Enter a phone number, like 01632 960 001 or 07700 900 982"),
        ({"email": "robin.example"}, "email",
         "Enter an e-mail address in the correct format, like name@example.com"),
        ({"preferred_contact": "email"}, "email",
         "Enter an e-mail address, or choose another way to contact them"),
        ({"safe_to_leave_messages": "perhaps"}, "safe_to_leave_messages",
         "Choose whether it is safe to leave them messages"),
        ({"needs_interpreter": ""}, "needs_interpreter",
         "Choose whether they need an interpreter"),
        ({"vulnerabilities": ["disability", "unlucky"]}, "vulnerabilities",
         "Choose vulnerability markers from the list"),
        ({"contact_notes": "n" * 2001}, "contact_notes",
         "Notes on contact must be 2000 characters or fewer"),
        ({"postcode": "not a postcode"}, "postcode", "Enter a real postcode, like AB1 2CD"),
        ({"address_line_1": ""}, "address_line_1",
         "Enter the first line of their address, or leave their address blank"),
        ({"address_line_1": "a" * 201}, "address_line_1",
         "Address line 1 must be 200 characters or fewer"),
    ],
)
def test_each_problem_comes_back_next_to_its_field_with_everything_typed_kept(
        signed_in, session, robin, changes, field_id, message):
    version = load(signed_in, robin)
    typed = AS_RECORDED | {"known_as": "Typed but not saved", "contact_notes": "Kept too"}
    typed |= changes
    response = post(signed_in, robin, typed, version=version)
    page = response.get_data(as_text=True)

    assert response.status_code == 400
    assert "There is a problem" in page
    assert "<title>Error: " in page
    assert error_next_to(page, field_id) == message
    anchor = "date_of_birth-day" if field_id == "date_of_birth" else field_id
    assert (f"#{anchor}", message) in summary_links(page)
    assert value_of(page, "known_as") == "Typed but not saved"
    for name in ("given_name", "family_name", "phone", "email", "postcode", "address_line_1",
                 "date_of_birth-day", "date_of_birth-month", "date_of_birth-year"):
        assert value_of(page, name) == typed[name].strip(), name
    if "contact_notes" not in changes:
        assert textarea(page, "contact_notes") == "Kept too"
    assert checked(page, "vulnerabilities") == [
        v for v in typed["vulnerabilities"] if v in set(VulnerabilityKind)]
    assert version_of(page) == version, "the form still belongs to the version it was loaded at"
    person = stored(session, robin)
    assert (person.known_as, person.contact_notes) == ("Rob", None), "nothing was saved"
    assert update_entries(session, robin) == []


def test_every_problem_is_reported_at_once_in_the_order_of_the_page(signed_in, robin):
    version = load(signed_in, robin)
    typed = AS_RECORDED | {"given_name": "", "family_name": "", "date_of_birth-year": "",
                           "email": "nope", "postcode": "XYZ", "needs_interpreter": ""}
    response = post(signed_in, robin, typed, version=version)
    assert response.status_code == 400
    assert [href for href, _ in summary_links(response.get_data(as_text=True))] == [
        "#family_name", "#date_of_birth-day", "#email", "#needs_interpreter", "#postcode"]


def test_a_form_without_a_proper_version_is_a_bad_request(signed_in, robin):
    assert post(signed_in, robin, AS_RECORDED, version="").status_code == 400
    assert post(signed_in, robin, AS_RECORDED, version="yesterday").status_code == 400
    assert post(signed_in, robin, AS_RECORDED, version="2026-03-02T09:00:00").status_code == 400


# --- someone else changed them meanwhile ------------------------------------------------------


def test_a_form_loaded_before_someone_else_changed_the_person_is_a_conflict(
        signed_in, session, robin):
    loaded = load(signed_in, robin)
    update_person(session, factories.SYSTEM, robin.id, phone="07700 900999")  # someone else
    session.commit()

    typed = AS_RECORDED | {"family_name": "Typed-Meanwhile", "contact_notes": "Mine"}
    response = post(signed_in, robin, typed, version=loaded)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this person's details while you were changing them" in \
        text(response)
    assert 'id="conflict"' in page
    assert value_of(page, "family_name") == "Typed-Meanwhile"
    assert value_of(page, "phone") == "07700 900123", "what they typed, not the other change"
    assert textarea(page, "contact_notes") == "Mine"
    person = stored(session, robin)
    assert (person.family_name, person.phone) == ("Example", "07700 900999")
    current = person.updated_at.isoformat(timespec="microseconds")
    assert version_of(page) == current != loaded

    # Having checked, they save again and it works.
    again = post(signed_in, robin, typed | {"phone": "07700 900999"}, version=current)
    assert again.status_code == 302
    assert stored(session, robin).family_name == "Typed-Meanwhile"


# --- who may ------------------------------------------------------------------------------------


def test_an_agency_not_working_with_the_person_is_refused(client, session, robin):
    stranger = user_with_password(session, factories.agency(session, AgencyType.HOUSING),
                                  Role.PRACTITIONER)
    sign_in(client, stranger)
    refused = client.get(url(robin))
    assert refused.status_code == 403
    assert "Only the agencies working with this person can change their details" in \
        text(refused)
    assert "07700 900123" not in refused.get_data(as_text=True)
    posted = post(client, robin, AS_RECORDED | {"given_name": "Hijack"},
                  version=robin.updated_at.isoformat())
    assert posted.status_code == 403
    assert stored(session, robin).given_name == "Robin"


def test_an_auditor_is_refused_and_an_agency_on_their_case_allowed(
        client, session, robin, owner, frozen_clock):
    sign_in(client, user_with_password(session, owner, Role.AUDITOR))
    assert client.get(url(robin)).status_code == 403
    client.post("/sign-out")

    elsewhere = factories.agency(session, AgencyType.HOUSING)
    case = factories.asb_case(session, elsewhere)
    add_participant(session, factories.SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=robin.id)
    colleague = user_with_password(session, elsewhere, Role.PRACTITIONER)
    sign_in(client, colleague)
    version = load(client, robin)
    assert post(client, robin, AS_RECORDED | {"gender": "Male"},
                version=version).status_code == 302
    assert stored(session, robin).gender == "Male"


def test_an_unknown_person_is_not_found_and_signing_in_is_required(client, signed_in, robin):
    assert signed_in.get("/people/999999/change").status_code == 404
    assert signed_in.post("/people/999999/change", data={"version": "x"}).status_code == 404
    signed_in.post("/sign-out")
    response = client.get(url(robin))
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_the_form_needs_its_csrf_token(app, client, session, robin, practitioner):
    sign_in(client, practitioner)
    app.config["WTF_CSRF_ENABLED"] = True
    version = load(client, robin)
    refused = post(client, robin, AS_RECORDED | {"known_as": "Bobbie"}, version=version)
    assert refused.status_code == 400
    assert "Your form expired" in text(refused)
    token = csrf_token(client.get(url(robin)).get_data(as_text=True))
    accepted = post(client, robin, AS_RECORDED | {"known_as": "Bobbie", "csrf_token": token},
                    version=version)
    assert accepted.status_code == 302
    assert stored(session, robin).known_as == "Bobbie"

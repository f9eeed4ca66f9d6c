"""Search: cases the user may see by reference or title, people by (misspelt) name or date of
birth, locations by postcode or address; limits and counts; every search audited without the
words searched for."""

from __future__ import annotations

import html
import json
import re
from datetime import date

import pytest

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant, share_case
from storage.people.services import create_location, create_person
from tests import factories
from tests.storage.helpers import audit_entries
from tests.web.conftest import sign_in, user_with_password
from web.search.finders import _prefix_range

STUBS = {"cases.show": "/cases/<reference>"}


@pytest.fixture(autouse=True)
def _still(frozen_clock):
    """Time stands still from before anyone signs in (so no session idles out)."""
    return frozen_clock


@pytest.fixture
def app(app):
    """The case page is built by someone else: stand in for it if it is not there yet."""
    for endpoint, rule in STUBS.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda **_: "stand-in page")
    return app


def text(response) -> str:
    words = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(words))


def search(client, q, what=None):
    return client.get("/search", query_string={"q": q} | ({"what": what} if what else {}))


@pytest.fixture
def elsewhere(session):
    return factories.agency(session, AgencyType.HOUSING)


@pytest.fixture
def cases(session, owner, elsewhere):
    """Two cases of the practitioner's agency and one of another agency, not shared."""
    ours = factories.asb_case(session, owner)
    ours.title = "Graffiti on the bus shelter"
    other = factories.asb_case(session, owner)
    other.title = "Noise from the community centre"
    theirs = factories.asb_case(session, elsewhere)
    theirs.title = "Graffiti on the housing office"
    session.commit()
    return ours, other, theirs


# --- the page -------------------------------------------------------------------------------


def test_the_search_page_shows_one_box_and_a_choice_and_records_nothing(session, signed_in):
    response = signed_in.get("/search")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="q"' in page
    for value in ("all", "people", "locations", "cases"):
        assert f'value="{value}"' in page
    assert 'href="/search"' in page, "search is in the service navigation"
    assert audit_entries(session, action=AuditAction.SEARCH) == []


def test_an_empty_or_too_short_search_is_sent_back_with_a_message(session, signed_in):
    response = search(signed_in, "   ")
    assert response.status_code == 400
    page = text(response)
    assert "There is a problem" in page
    assert "Enter a name, date of birth, case reference, address or postcode" in page

    response = search(signed_in, "a")
    assert response.status_code == 400
    assert "Enter at least 2 letters or numbers" in text(response)
    assert 'value="a"' in response.get_data(as_text=True), "what was typed is kept"

    response = search(signed_in, "smith", what="everything-else")
    assert response.status_code == 400
    assert "Choose what to search for" in text(response)
    assert 'href="#what"' in response.get_data(as_text=True)
    assert audit_entries(session, action=AuditAction.SEARCH) == []


# --- cases ----------------------------------------------------------------------------------


def test_finds_a_case_by_the_start_of_its_reference_typed_in_lower_case(signed_in, cases):
    ours, other, theirs = cases
    prefix = ours.reference[:-2].lower()  # e.g. "asb-2026-0000"
    page = text(search(signed_in, prefix, what="cases"))
    assert ours.reference in page
    assert other.reference in page
    assert theirs.reference not in page, "never a case the user may not see"

    page = search(signed_in, ours.reference.lower()).get_data(as_text=True)
    assert f'href="/cases/{ours.reference}"' in page
    assert f'href="/cases/{other.reference}"' not in page


def test_finds_cases_by_words_of_the_title_only_where_the_user_may_see_them(
        session, signed_in, cases, elsewhere, practitioner):
    ours, other, theirs = cases
    page = text(search(signed_in, "graffiti", what="cases"))
    assert ours.reference in page
    assert "Graffiti on the bus shelter" in page
    assert theirs.reference not in page
    assert "Graffiti on the housing office" not in page
    assert "Cases 1 case" in page

    page = text(search(signed_in, "bus graffiti"))
    assert ours.reference in page
    assert other.reference not in page

    share_case(session, factories.SYSTEM, case_id=theirs.id, agency_id=practitioner.agency_id)
    session.commit()
    page = text(search(signed_in, "graffiti", what="cases"))
    assert theirs.reference in page, "a case shared with the user's agency is found"
    assert "Cases 2 cases" in page


def test_partnership_wide_roles_find_every_case(session, client, owner, cases):
    auditor = user_with_password(session, owner, Role.AUDITOR)
    sign_in(client, auditor)
    page = text(search(client, "graffiti", what="cases"))
    assert cases[0].reference in page
    assert cases[2].reference in page


# --- people ---------------------------------------------------------------------------------


@pytest.fixture
def people(session):
    john = create_person(session, factories.SYSTEM, given_name="John", family_name="Smith",
                         date_of_birth=date(1985, 3, 27))
    jane = create_person(session, factories.SYSTEM, given_name="Jane", family_name="Doe",
                         known_as="JD", date_of_birth=date(1990, 1, 2))
    create_person(session, factories.SYSTEM, given_name="Mary", family_name="Jones",
                  date_of_birth=date(1985, 3, 27))
    session.commit()
    return john, jane


def test_finds_a_person_by_a_misspelt_name(signed_in, people):
    john, _ = people
    for typed in ("Jhon Smith", "john smyth", "Smyth", "SMITH, John", "jon smith", "smi"):
        response = search(signed_in, typed, what="people")
        page = text(response)
        assert "John Smith" in page, typed
        assert f'href="/people/{john.id}"' in response.get_data(as_text=True)
        assert "Jane Doe" not in page, typed
        assert "Mary Jones" not in page, typed
    assert "Jane Doe" in text(search(signed_in, "jane", what="people"))


def test_finds_people_by_date_of_birth_in_either_format(signed_in, people):
    for typed in ("27/03/1985", "1985-03-27", "27/3/1985"):
        page = text(search(signed_in, typed))
        assert "John Smith" in page, typed
        assert "Mary Jones" in page, typed
        assert "Jane Doe" not in page, typed
        assert "People 2 people" in page
        assert "27 March 1985" in page


def test_a_restricted_person_is_listed_by_name_only_and_never_found_by_date_of_birth(
        session, signed_in, owner, elsewhere, practitioner):
    hidden = create_person(session, factories.actor_for(
        user_with_password(session, elsewhere, Role.PRACTITIONER)), given_name="Chris",
        family_name="Hidden", known_as="Kit", date_of_birth=date(1979, 11, 5), restricted=True)
    session.commit()
    response = search(signed_in, "chris hidden", what="people")
    page = text(response)
    assert "Chris Hidden" in page
    assert "Restricted" in page
    assert "Kit" not in page
    assert "1979" not in page
    assert f'href="/people/{hidden.id}"' in response.get_data(as_text=True)
    assert "No people found" in text(search(signed_in, "05/11/1979", what="people"))

    # Once the user's agency works one of their cases, they see the rest and find them by it.
    case = factories.asb_case(session, owner)
    add_participant(session, factories.SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                    person_id=hidden.id)
    session.commit()
    page = text(search(signed_in, "05/11/1979", what="people"))
    assert "Chris Hidden" in page
    assert "5 November 1979" in page


def test_people_results_stop_at_twenty_with_the_count(session, signed_in):
    for n in range(25):
        create_person(session, factories.SYSTEM, given_name=f"Alex{chr(97 + n)}",
                      family_name="Manyfold")
    session.commit()
    page = text(search(signed_in, "manyfold", what="people"))
    assert "People 25 people" in page
    assert "Showing the first 20 of 25 people" in page
    assert page.count("Manyfold") == 20


# --- locations ------------------------------------------------------------------------------


@pytest.fixture
def places(session):
    shop = create_location(session, factories.SYSTEM, address_line_1="14 Market Street",
                           town="Testtown", postcode="AB1 2CD", area="Centre")
    park = create_location(session, factories.SYSTEM, description="The play park",
                           address_line_1="Park Lane", postcode="AB1 9ZZ")
    far = create_location(session, factories.SYSTEM, address_line_1="1 Far Road",
                          postcode="ZX9 1AA")
    session.commit()
    return shop, park, far


def test_finds_a_location_by_postcode_typed_without_a_space(signed_in, places):
    shop, _, _ = places
    response = search(signed_in, "ab12cd", what="locations")
    page = text(response)
    assert "14 Market Street" in page
    assert "The play park" not in page
    assert f'href="/locations/{shop.id}"' in response.get_data(as_text=True)

    page = text(search(signed_in, "ab1", what="locations"))
    assert "14 Market Street" in page
    assert "The play park" in page
    assert "1 Far Road" not in page


def test_finds_a_location_by_words_of_its_address(signed_in, places):
    page = text(search(signed_in, "market testtown", what="locations"))
    assert "14 Market Street" in page
    assert "Park Lane" not in page
    assert "The play park" in text(search(signed_in, "play park", what="locations"))


def test_everything_is_grouped_and_the_choice_narrows_it(signed_in, people, places, cases):
    page = search(signed_in, "park").get_data(as_text=True)
    groups = [re.search(rf'<h2 class="govuk-heading-m" id="{g}">', page) for g in
              ("people", "locations", "cases")]
    assert all(groups)
    assert groups[0].start() < groups[1].start() < groups[2].start()
    assert "The play park" in page[groups[1].start():groups[2].start()]
    assert "No people found" in page
    assert "No cases found that you can open" in page
    page = search(signed_in, "park", what="locations").get_data(as_text=True)
    assert 'id="locations"' in page
    assert 'id="people"' not in page
    assert 'id="cases"' not in page


# --- the audit ------------------------------------------------------------------------------


def test_each_search_is_audited_with_what_and_how_many_but_not_the_words(
        session, signed_in, practitioner, people):
    search(signed_in, "Jhon Smith", what="people")
    search(signed_in, "27/03/1985")
    entries = audit_entries(session, action=AuditAction.SEARCH)
    assert [json.loads(e.changes)["detail"] for e in entries] == [
        {"what": "people", "results": 1, "text_length": 10},
        {"what": "all", "results": 2, "text_length": 10},
    ]
    for entry in entries:
        assert entry.actor_user_id == practitioner.id
        assert entry.entity_type == "search"
        assert entry.entity_id is None
        for secret in ("jhon", "smith", "1985", "27/03"):
            assert secret not in entry.changes.lower()


def test_a_reference_or_a_postcode_is_not_looked_for_as_a_name(session, signed_in, places, cases):
    create_person(session, factories.SYSTEM, given_name="Asbjorn", family_name="Abbott")
    session.commit()
    assert "Asbjorn" not in text(search(signed_in, cases[0].reference))
    assert "Asbjorn" not in text(search(signed_in, "AB1 2CD"))


def test_a_postcode_district_finds_only_that_district(session, signed_in, places):
    create_location(session, factories.SYSTEM, address_line_1="3 Tenth Street", postcode="AB10 1AA")
    create_location(session, factories.SYSTEM, address_line_1="9 Ninth Street", postcode="AB9 9ZZ")
    session.commit()
    page = text(search(signed_in, "AB1", what="locations"))
    assert "14 Market Street" in page
    assert "3 Tenth Street" not in page
    page = text(search(signed_in, "ab9", what="locations"))
    assert "9 Ninth Street" in page
    assert "Park Lane" not in page


@pytest.mark.parametrize(("prefix", "bounds"), [
    ("ASB-2026-0001", ("ASB-2026-0001", "ASB-2026-0002")),
    ("ASB-2029", ("ASB-2029", "ASB-203")),
    ("ASB-", ("ASB", "ASC")),
    ("AB1 ", ("AB1", "AB2")),
    ("ZZ9", ("ZZ9", None)),
    ("ASB-2026-000É", None),
])
def test_reference_prefixes_become_index_ranges(prefix, bounds):
    assert _prefix_range(prefix) == bounds

from storage.accounts.models import Role
from storage.accounts.services import create_user
from storage.actors import Actor
from storage.agencies.models import AgencyType
from storage.agencies.services import create_agency
from storage.db import unit_of_work

from .conftest import check_accessibility, screenshot

PASSWORD = "three random words here"


def test_sign_in_page_is_accessible_and_signs_in(live_server, page):
    with unit_of_work(live_server.runtime.sessions) as session:
        agency = create_agency(session, Actor.system("tests"), name="Browser Police",
                               code="BPOL", agency_type=AgencyType.POLICE)
        create_user(session, Actor.system("tests"), agency_id=agency.id,
                    email="officer@browser.test", display_name="Browser Officer",
                    roles=[Role.PRACTITIONER], password=PASSWORD)
    page.goto(f"{live_server.url}/sign-in")
    check_accessibility(page, "sign in")
    screenshot(page, "sign-in")
    page.fill("#email", "officer@browser.test")
    page.fill("#password", "not the password")
    page.click("button:has-text('Sign in')")
    assert "Enter a correct e-mail address and password" in page.inner_text(".govuk-error-summary")
    assert page.input_value("#email") == "officer@browser.test"
    check_accessibility(page, "sign in with an error")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    assert "/sign-in" not in page.url
    assert "Browser Officer" in page.inner_text("body")

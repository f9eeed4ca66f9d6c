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


def test_a_manager_sets_up_two_factor_then_signs_in_with_a_code(live_server, page):
    import pyotp

    from tests.browser.helpers import Account, press, sign_in, sign_out

    with unit_of_work(live_server.runtime.sessions) as session:
        agency = create_agency(session, Actor.system("tests"), name="Browser Council",
                               code="BCC", agency_type=AgencyType.COUNCIL)
        user = create_user(session, Actor.system("tests"), agency_id=agency.id,
                           email="manager@browser.test", display_name="Browser Manager",
                           roles=[Role.MANAGER], password=PASSWORD)
        account = Account(user.id, agency.id, user.email, user.display_name, agency.name,
                          password=PASSWORD)
    page.goto(f"{live_server.url}/sign-in")
    page.fill("#email", account.email)
    page.fill("#password", PASSWORD)
    press(page, "Sign in")
    assert page.url.endswith("/account/two-factor"), "sent to set up two-factor at once"
    assert page.locator(".cb-qr svg").count() == 1
    check_accessibility(page, "two-factor set-up")
    screenshot(page, "two-factor-set-up")
    page.goto(f"{live_server.url}/overview")
    assert page.url.endswith("/account/two-factor"), "nothing else until it is set up"
    secret = page.inner_text(".cb-secret").strip()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    press(page, "Turn on two-factor sign-in")
    assert page.locator(".cb-recovery-codes li").count() == 10
    check_accessibility(page, "recovery codes")
    sign_out(page)
    sign_in(page, live_server, account)  # through the code page, with the next code
    assert "/sign-in" not in page.url
    assert "Browser Manager" in page.inner_text("body")

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.audit.models import AuditAction, AuditEntry
from tests import factories
from tests.web.conftest import PASSWORD, csrf_token, next_code, sign_in, user_with_password


def test_pages_need_sign_in_and_come_back_after_it(client, practitioner):
    response = client.get("/overview")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/overview")
    signed = client.post("/sign-in?next=/overview",
                         data={"email": practitioner.email.upper(), "password": PASSWORD})
    assert signed.headers["Location"] == "/overview"
    assert client.get("/overview").status_code == 200


def test_wrong_password_keeps_the_email_and_says_what_to_do(client, practitioner, session):
    response = client.post("/sign-in", data={"email": practitioner.email, "password": "nope"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter a correct e-mail address and password" in page
    assert f'value="{practitioner.email}"' in page
    failed = session.scalars(
        select(AuditEntry).where(AuditEntry.action == AuditAction.SIGN_IN_FAILED)
    ).all()
    assert failed, "failed attempts are audited (and kept although the page is an error)"


def test_lockout_after_repeated_failures(client, practitioner, frozen_clock):
    for _ in range(5):
        sign_in(client, practitioner, password="wrong password")
    locked = sign_in(client, practitioner)
    assert locked.status_code == 400
    assert "locked" in locked.get_data(as_text=True)
    frozen_clock.advance(timedelta(minutes=16))
    assert sign_in(client, practitioner).status_code == 302


def test_unknown_account_gets_the_same_answer(client):
    response = client.post("/sign-in", data={"email": "nobody@x.test", "password": "whatever"})
    assert "Enter a correct e-mail address and password" in response.get_data(as_text=True)


def test_idle_sessions_expire(signed_in, frozen_clock):
    assert signed_in.get("/overview").status_code == 200
    frozen_clock.advance(timedelta(minutes=31))
    response = signed_in.get("/overview")
    assert response.status_code == 302
    assert "expired=1" in response.headers["Location"]


def test_sign_out_ends_the_session(signed_in):
    assert signed_in.post("/sign-out").status_code == 302
    assert signed_in.get("/overview").status_code == 302


def test_open_redirects_are_refused(client, practitioner):
    response = client.post("/sign-in?next=//evil.example/",
                           data={"email": practitioner.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"  # home (the task inbox), not elsewhere


def test_forms_need_a_csrf_token_when_protection_is_on(app, client, practitioner):
    app.config["WTF_CSRF_ENABLED"] = True
    refused = client.post("/sign-in", data={"email": practitioner.email, "password": PASSWORD})
    assert refused.status_code == 400
    assert "Your form expired" in refused.get_data(as_text=True)
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    accepted = client.post("/sign-in", data={"email": practitioner.email, "password": PASSWORD,
                                             "csrf_token": token})
    assert accepted.status_code == 302


def test_errors_are_pages_in_the_service_layout(signed_in):
    response = signed_in.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


# --- two-factor --------------------------------------------------------------------------


@pytest.fixture
def manager(session, owner):
    return user_with_password(session, owner, Role.MANAGER)


def test_two_factor_users_give_a_code_after_the_password(client, manager, frozen_clock):
    response = client.post("/sign-in?next=/overview",
                           data={"email": manager.email, "password": PASSWORD})
    assert response.headers["Location"] == "/sign-in/code"
    assert client.get("/overview").status_code == 302, "not signed in before the code"
    assert "Enter your sign-in code" in client.get("/sign-in/code").get_data(as_text=True)
    wrong = client.post("/sign-in/code", data={"code": "12345x"})
    assert wrong.status_code == 400
    assert "Enter the code your authenticator app shows now" in wrong.get_data(as_text=True)
    right = client.post("/sign-in/code", data={"code": next_code(client.application, manager)})
    assert right.headers["Location"] == "/overview"
    assert client.get("/overview").status_code == 200


def test_a_code_cannot_be_replayed(app, manager, frozen_clock):
    code = next_code(app, manager)
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        client.post("/sign-in", data={"email": manager.email, "password": PASSWORD})
    assert first.post("/sign-in/code", data={"code": code}).status_code == 302
    replayed = second.post("/sign-in/code", data={"code": code})
    assert replayed.status_code == 400
    assert "That code has been used" in replayed.get_data(as_text=True)
    assert second.get("/overview").status_code == 302


def test_the_code_step_cannot_be_reached_without_the_password(client, manager):
    response = client.post("/sign-in/code", data={"code": "123456"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_the_code_step_times_out(client, manager, frozen_clock):
    client.post("/sign-in", data={"email": manager.email, "password": PASSWORD})
    frozen_clock.advance(timedelta(minutes=6))
    response = client.post("/sign-in/code", data={"code": next_code(client.application,
                                                                    manager)})
    assert response.headers["Location"].startswith("/sign-in")
    assert client.get("/overview").status_code == 302


def test_wrong_codes_count_toward_the_lockout(client, manager, frozen_clock):
    client.post("/sign-in", data={"email": manager.email, "password": PASSWORD})
    for _ in range(5):
        client.post("/sign-in/code", data={"code": "000000"})
    locked = client.post("/sign-in/code", data={"code": next_code(client.application, manager)})
    assert locked.status_code == 400
    assert "locked" in locked.get_data(as_text=True)
    assert sign_in(client, manager).status_code == 400, "the password step is locked too"


def test_roles_that_need_two_factor_must_enrol_before_anything_else(
        client, session, owner, frozen_clock):
    auditor = user_with_password(session, owner, Role.AUDITOR, two_factor=False)
    assert sign_in(client, auditor).status_code == 302
    for path in ("/overview", "/", "/account", "/account/password", "/cases"):
        blocked = client.get(path)
        assert blocked.status_code == 302, path
        assert blocked.headers["Location"] == "/account/two-factor"
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Your role can see restricted information" in page
    assert "<svg" in page, "the QR code is inline SVG (no script, no outside service)"
    assert 'href="/overview"' not in page, "no navigation to pages it would not open"
    secret = re.search(r'class="cb-secret">([A-Z2-7]+)<', page).group(1)
    wrong = client.post("/account/two-factor", data={"code": "abc"})
    assert wrong.status_code == 400
    assert secret in wrong.get_data(as_text=True), "the same secret until it is confirmed"
    code = pyotp.TOTP(secret).at(frozen_clock.now())
    done = client.post("/account/two-factor", data={"code": code})
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>",
                       done.get_data(as_text=True))
    assert len(codes) == 10, "recovery codes are shown once"
    assert client.get("/overview").status_code == 200
    client.post("/sign-out")
    client.post("/sign-in", data={"email": auditor.email, "password": PASSWORD})
    assert client.post("/sign-in/code", data={"code": codes[3]}).status_code == 302
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "users", AuditEntry.entity_id == str(auditor.id))).all()
    assert any("two_factor_enrolled" in e.changes for e in entries)
    assert not any(secret in e.changes or codes[3] in e.changes for e in entries)


def test_practitioners_need_no_second_step_by_default(client, practitioner):
    response = client.post("/sign-in", data={"email": practitioner.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


# --- sessions ------------------------------------------------------------------------------


def test_sessions_end_at_their_maximum_age_however_busy(frozen_clock, signed_in):
    for _ in range(25):  # a request every 29 minutes: never idle, but 12 hours pass
        frozen_clock.advance(timedelta(minutes=29))
        response = signed_in.get("/overview")
    assert response.status_code == 302
    assert "expired=1" in response.headers["Location"]


def test_disabling_an_account_ends_its_live_session(app, signed_in, practitioner, session):
    from storage.accounts.services import set_active

    assert signed_in.get("/overview").status_code == 200
    set_active(session, factories.SYSTEM, practitioner, False)
    session.commit()
    response = signed_in.get("/overview")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    set_active(session, factories.SYSTEM, practitioner, True)
    session.commit()
    assert signed_in.get("/overview").status_code == 302, "enabling does not revive it"


def test_changing_the_password_ends_the_other_sessions(app, practitioner):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, practitioner)
    sign_in(elsewhere, practitioner)
    new = "a different long password"
    wrong = here.post("/account/password", data={"current_password": "nope",
                                                  "new_password": new, "repeat_password": new})
    assert wrong.status_code == 400
    assert "Enter your current password correctly" in wrong.get_data(as_text=True)
    assert elsewhere.get("/overview").status_code == 200
    common = here.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "Password1234",
        "repeat_password": "Password1234"})
    assert "most common" in common.get_data(as_text=True)
    changed = here.post("/account/password", data={
        "current_password": PASSWORD, "new_password": new, "repeat_password": new})
    assert changed.headers["Location"] == "/account"
    assert here.get("/overview").status_code == 200, "this session goes on"
    assert elsewhere.get("/overview").status_code == 302, "the other one ends"
    assert sign_in(app.test_client(), practitioner, password=new).status_code == 302


# --- rate limits ---------------------------------------------------------------------------


def test_sign_in_is_rate_limited_per_account(client, practitioner):
    for _ in range(10):
        assert sign_in(client, practitioner, password="wrong").status_code == 400
    limited = sign_in(client, practitioner, password="wrong")
    page = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert "Too many attempts" in page
    assert "Try again in" in page
    assert "govuk-template" in page or "govuk-header" in page, "in the service's layout"
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    assert client.get("/sign-in").status_code == 200, "the page itself stays readable"


def test_sign_in_is_rate_limited_per_address(app, client, session, owner):
    app.extensions["casebridge.runtime"].settings.rate_limit_per_ip = "3 per minute"
    for n in range(3):
        client.post("/sign-in", data={"email": f"someone{n}@x.test", "password": "guess"})
    assert client.post("/sign-in", data={"email": "another@x.test",
                                         "password": "guess"}).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    assert other.post("/sign-in", data={"email": "another@x.test",
                                        "password": "guess"}).status_code == 400

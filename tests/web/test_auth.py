from datetime import timedelta

from sqlalchemy import select

from storage.audit.models import AuditAction, AuditEntry
from tests.web.conftest import PASSWORD, csrf_token, sign_in


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

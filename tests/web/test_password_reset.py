"""Password reset end to end: the request page answers the same for any address, the e-mail
really arrives (the dispatcher over a real SMTP server), the link works once and expires,
and using it ends every session the user had."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from casebridge.settings import load_settings
from storage.outbox.models import OutboxMessage
from tests.web.conftest import PASSWORD, sign_in
from workflows.engine.dispatch import Dispatcher, dispatch_once

NEW = "an entirely new password"
LINK = re.compile(r"https://casebridge\.test(/reset-password/[A-Za-z0-9_-]+)")


@pytest.fixture
def dispatcher(app, smtp_sink, tmp_path):
    """The engine's dispatcher on the test's transaction, sending to the SMTP sink, with
    the web app's secret key (it derives the link's token from it)."""
    settings = load_settings(
        data_dir=tmp_path, secret_key="test-secret-key", smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port, smtp_timeout_seconds=5,
        mail_from="Casebridge <noreply@casebridge.test>", public_url="https://casebridge.test")
    return Dispatcher(app.extensions["casebridge.runtime"].sessions, settings)


def ask(client, email):
    response = client.post("/forgot-password", data={"email": email})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def emailed_link(dispatcher, smtp_sink, practitioner) -> str:
    assert dispatch_once(dispatcher, 10)["done"] == 1
    [received] = smtp_sink.messages
    assert received.rcpt_tos == [practitioner.email]
    assert received.message["Subject"] == "Reset your Casebridge password"
    text = received.part("plain")
    [path] = LINK.findall(text)
    assert path in received.part("html")
    return path


def test_the_sign_in_page_links_to_the_reset(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/forgot-password"' in page
    assert "Forgot your password?" in page


def test_the_answer_is_the_same_whether_or_not_the_account_exists(
        client, practitioner, session):
    known = ask(client, practitioner.email)
    unknown = ask(client, "nobody@nowhere.test")
    def same(page, email):  # the page but the address typed and the per-request nonce
        return re.sub(r'nonce="[^"]*"', "", page.replace(email, "X"))

    assert same(known, practitioner.email) == same(unknown, "nobody@nowhere.test")
    assert "If " in known
    assert "has a Casebridge account" in known
    rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 1, "one e-mail, for the account that exists"
    bad = client.post("/forgot-password", data={"email": "not an address"})
    assert bad.status_code == 400
    assert 'value="not an address"' in bad.get_data(as_text=True)


def test_a_reset_by_email_works_once_and_ends_every_session(
        app, client, practitioner, dispatcher, smtp_sink, frozen_clock):
    elsewhere = app.test_client()
    assert sign_in(elsewhere, practitioner).status_code == 302
    ask(client, practitioner.email)
    path = emailed_link(dispatcher, smtp_sink, practitioner)
    form = client.get(path)
    assert form.status_code == 200
    assert "Choose a new password" in form.get_data(as_text=True)
    weak = client.post(path, data={"password": "Password1234", "repeat_password": "Password1234"})
    assert weak.status_code == 400
    assert "most common" in weak.get_data(as_text=True)
    done = client.post(path, data={"password": NEW, "repeat_password": NEW})
    assert done.headers["Location"] == "/sign-in?reset=1"
    assert elsewhere.get("/overview").status_code == 302, "the other session has ended"
    again = client.get(path)
    assert again.status_code == 404
    assert "This link has expired" in again.get_data(as_text=True)
    assert client.post(path, data={"password": "yet another password",
                                   "repeat_password": "yet another password"}
                       ).status_code == 404
    assert sign_in(client, practitioner, password=PASSWORD).status_code == 400
    assert sign_in(client, practitioner, password=NEW).status_code == 302


def test_a_link_expires_after_thirty_minutes(
        client, practitioner, dispatcher, smtp_sink, frozen_clock):
    ask(client, practitioner.email)
    path = emailed_link(dispatcher, smtp_sink, practitioner)
    frozen_clock.advance(timedelta(minutes=31))
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": NEW, "repeat_password": NEW}).status_code == 404


def test_no_email_is_sent_for_a_link_that_expired_before_dispatch(
        client, practitioner, dispatcher, smtp_sink, frozen_clock):
    ask(client, practitioner.email)
    frozen_clock.advance(timedelta(minutes=31))
    assert dispatch_once(dispatcher, 10)["done"] == 1
    assert smtp_sink.messages == []


def test_reset_requests_are_rate_limited(client, practitioner):
    for _ in range(10):
        ask(client, practitioner.email)
    limited = client.post("/forgot-password", data={"email": practitioner.email})
    assert limited.status_code == 429
    assert "Try again in" in limited.get_data(as_text=True)

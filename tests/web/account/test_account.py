"""The account pages: one's own account, and the accounts a manager (their agency's) or a
partnership administrator (everyone's) may disable, enable and reset."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.audit.models import AuditAction, AuditEntry
from tests import factories
from tests.web.conftest import sign_in, user_with_password


@pytest.fixture
def other_agency(session):
    return factories.agency(session, AgencyType.COUNCIL)


@pytest.fixture
def manager(session, owner):
    return user_with_password(session, owner, Role.MANAGER)


@pytest.fixture
def colleague(session, owner):
    return user_with_password(session, owner, Role.PRACTITIONER)


@pytest.fixture
def outsider(session, other_agency):
    return user_with_password(session, other_agency, Role.PRACTITIONER)


def signed_in_as(app, user):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def audited(session, user, event):
    session.commit()
    return [e for e in session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "users", AuditEntry.entity_id == str(user.id)))
        if event in e.changes]


def test_my_account_page(app, colleague):
    page = signed_in_as(app, colleague).get("/account").get_data(as_text=True)
    assert colleague.email in page
    assert "/account/two-factor" in page
    assert "/account/password" in page
    assert "Manage accounts" not in page


def test_a_manager_sees_their_own_agencys_accounts_only(app, manager, colleague, outsider):
    page = signed_in_as(app, manager).get("/users").get_data(as_text=True)
    assert colleague.email in page
    assert outsider.email not in page


def test_a_partnership_admin_sees_everyone(app, session, owner, colleague, outsider):
    admin = user_with_password(session, owner, Role.PARTNERSHIP_ADMIN)
    page = signed_in_as(app, admin).get("/users").get_data(as_text=True)
    assert colleague.email in page
    assert outsider.email in page


def test_practitioners_cannot_manage_accounts(app, colleague, outsider):
    client = signed_in_as(app, colleague)
    assert client.get("/users").status_code == 403
    assert client.post(f"/users/{outsider.id}/disable").status_code == 403


def test_disabling_someone_who_left_ends_their_session_at_once(
        app, session, manager, colleague):
    theirs = signed_in_as(app, colleague)
    assert theirs.get("/overview").status_code == 200
    client = signed_in_as(app, manager)
    response = client.post(f"/users/{colleague.id}/disable")
    assert response.headers["Location"] == "/users"
    assert "can no longer sign in" in client.get("/users").get_data(as_text=True)
    assert theirs.get("/overview").status_code == 302
    assert sign_in(app.test_client(), colleague).status_code == 400
    assert audited(session, colleague, "account_disabled")
    client.post(f"/users/{colleague.id}/enable")
    assert sign_in(app.test_client(), colleague).status_code == 302
    assert audited(session, colleague, "account_enabled")


def test_a_manager_cannot_disable_another_agencys_user(app, session, manager, outsider):
    client = signed_in_as(app, manager)
    assert client.post(f"/users/{outsider.id}/disable").status_code == 403
    session.refresh(outsider)
    assert outsider.active
    session.commit()
    denied = session.scalars(select(AuditEntry).where(
        AuditEntry.action == AuditAction.ACCESS_DENIED,
        AuditEntry.entity_id == str(outsider.id))).all()
    assert denied, "the refused attempt is audited"


def test_nobody_disables_themselves(app, manager):
    assert signed_in_as(app, manager).post(f"/users/{manager.id}/disable").status_code == 403


def test_resetting_two_factor_makes_them_enrol_again(app, session, owner, manager):
    panel = user_with_password(session, owner, Role.PANEL_MEMBER)
    theirs = signed_in_as(app, panel)
    client = signed_in_as(app, manager)
    assert client.post(f"/users/{panel.id}/reset-two-factor").status_code == 302
    assert theirs.get("/overview").status_code == 302, "their session ended"
    again = app.test_client()
    assert sign_in(again, panel).headers["Location"] == "/", "no code asked: none set up"
    assert again.get("/overview").headers["Location"] == "/account/two-factor"
    assert audited(session, panel, "two_factor_reset")

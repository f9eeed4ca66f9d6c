"""Password reset tokens: only for active accounts, stored hashed, single-use, expiring,
superseded by a newer request, and the policy applies to the new password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.accounts.models import PasswordReset, Role
from storage.accounts.passwords import password_problem, verify_password
from storage.accounts.resets import complete_reset, request_reset, token_for, usable_reset
from storage.accounts.services import set_active
from storage.errors import InvalidRequest
from storage.outbox.models import EffectKind, OutboxMessage
from tests import factories

SECRET = "test-secret-key"
NEW = "three brand new words"


@pytest.fixture
def user(session):
    return factories.user(session, factories.agency(session), Role.PRACTITIONER)


def ask(session, email):
    return request_reset(session, email=email, secret_key=SECRET,
                         lifetime=timedelta(minutes=30), ip_address="192.0.2.1")


def token_of(reset):
    return token_for(SECRET, reset.nonce)


def test_a_request_queues_one_email_naming_the_reset_not_the_token(session, user):
    reset = ask(session, user.email.upper())
    token = token_of(reset)
    assert reset.token_hash != token
    assert token not in reset.token_hash
    [row] = session.scalars(select(OutboxMessage).where(
        OutboxMessage.idempotency_key == f"password-reset:{reset.id}")).all()
    assert row.kind is EffectKind.EMAIL
    assert row.payload == {"template": "password_reset", "password_reset_id": reset.id,
                           "recipient": {"user_id": user.id}}
    assert token not in str(row.payload)


def test_unknown_and_disabled_accounts_get_nothing(session, user):
    assert ask(session, "nobody@nowhere.test") is None
    set_active(session, factories.SYSTEM, user, False)
    assert ask(session, user.email) is None
    assert not session.scalars(select(PasswordReset).where(
        PasswordReset.user_id == user.id)).all()


def test_a_token_resets_once(session, user):
    token = token_of(ask(session, user.email))
    epoch = user.session_epoch
    complete_reset(session, token=token, password=NEW, repeat=NEW, ip_address=None)
    assert verify_password(user.password_hash, NEW)
    assert user.session_epoch == epoch + 1, "every session of the user ends"
    with pytest.raises(InvalidRequest) as used:
        complete_reset(session, token=token, password=NEW + "!", repeat=NEW + "!",
                       ip_address=None)
    assert set(used.value.field_errors) == {"token"}


def test_a_token_expires(session, user, frozen_clock):
    token = token_of(ask(session, user.email))
    frozen_clock.advance(timedelta(minutes=29))
    assert usable_reset(session, token) is not None
    frozen_clock.advance(timedelta(minutes=2))
    assert usable_reset(session, token) is None
    with pytest.raises(InvalidRequest):
        complete_reset(session, token=token, password=NEW, repeat=NEW, ip_address=None)


def test_a_newer_request_replaces_the_older_link(session, user):
    first = token_of(ask(session, user.email))
    second = token_of(ask(session, user.email))
    assert usable_reset(session, first) is None
    assert usable_reset(session, second) is not None


def test_the_new_password_meets_the_policy_and_nothing_changes_otherwise(session, user):
    token = token_of(ask(session, user.email))
    before = user.password_hash
    for password, repeat, field in [("short", "short", "password"),
                                    ("Password1234", "Password1234", "password"),
                                    (NEW, NEW + "x", "repeat_password")]:
        with pytest.raises(InvalidRequest) as refused:
            complete_reset(session, token=token, password=password, repeat=repeat,
                           ip_address=None)
        assert set(refused.value.field_errors) == {field}
    assert user.password_hash == before
    assert usable_reset(session, token) is not None, "a refused attempt keeps the link"


def test_common_passwords_are_refused():
    assert "common" in password_problem("Password1234")
    assert "common" in password_problem("qwerty 123456")
    assert password_problem("three random words") is None
    assert "e-mail" in password_problem("sam.officer2024", email="sam.officer@police.test")

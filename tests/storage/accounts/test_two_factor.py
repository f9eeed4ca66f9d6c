"""Two-factor sign-in: enrolment proves the app has the secret, a code works once, recovery
codes work once, wrong codes lock the account like wrong passwords, and no secret is ever
written to the audit."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from storage.accounts.models import RecoveryCode, Role
from storage.accounts.services import SignInRefused, authenticate
from storage.accounts.two_factor import (
    CodeRefused,
    code_for_step,
    confirm_enrolment,
    current_code,
    current_step,
    demo_secret,
    enrol_with_secret,
    new_secret,
    remaining_recovery_codes,
    reset_two_factor,
    verify_second_step,
)
from storage.audit.models import AuditAction, AuditEntry
from storage.errors import InvalidRequest
from tests import factories

LOCKOUT = {"max_attempts": 3, "lockout": timedelta(minutes=15)}


@pytest.fixture
def user(session):
    return factories.user(session, factories.agency(session), Role.MANAGER)


@pytest.fixture
def enrolled(session, user, frozen_clock):
    secret = new_secret()
    codes = confirm_enrolment(session, factories.SYSTEM, user, secret=secret,
                              code=pyotp.TOTP(secret).at(frozen_clock.now()))
    frozen_clock.advance(timedelta(seconds=90))  # past the enrolment code's steps
    return user, secret, codes


def verify(session, user, code):
    return verify_second_step(session, user, code, ip_address="192.0.2.1", **LOCKOUT)


def test_enrolment_needs_a_code_from_the_app(session, user, frozen_clock):
    secret = new_secret()
    with pytest.raises(InvalidRequest) as refused:
        confirm_enrolment(session, factories.SYSTEM, user, secret=secret, code="123456"
                          if pyotp.TOTP(secret).at(frozen_clock.now()) != "123456" else "654321")
    assert set(refused.value.field_errors) == {"code"}
    assert not user.two_factor_enrolled
    codes = confirm_enrolment(session, factories.SYSTEM, user, secret=secret,
                              code=current_code(secret))
    assert user.two_factor_enrolled
    assert len(codes) == len(set(codes)) == 10
    stored = session.scalars(select(RecoveryCode.code_hash).where(
        RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored), "only hashes are kept"


def test_a_code_works_once(session, enrolled, frozen_clock):
    user, secret, _ = enrolled
    code = current_code(secret)
    assert verify(session, user, code) == "app"
    with pytest.raises(CodeRefused, match="used"):
        verify(session, user, code)  # replayed within its window
    frozen_clock.advance(timedelta(seconds=30))
    assert verify(session, user, current_code(secret)) == "app"


def test_an_earlier_code_is_refused_after_a_later_one(session, enrolled):
    user, secret, _ = enrolled
    step = current_step(secret)
    assert verify(session, user, code_for_step(secret, step + 1)) == "app"  # phone ahead
    with pytest.raises(CodeRefused):
        verify(session, user, code_for_step(secret, step))


def test_codes_from_too_long_ago_are_refused(session, enrolled):
    user, secret, _ = enrolled
    with pytest.raises(CodeRefused):
        verify(session, user, code_for_step(secret, current_step(secret) - 3))


def test_recovery_codes_work_once(session, enrolled):
    user, _, codes = enrolled
    assert verify(session, user, codes[0].upper()) == "recovery"
    assert remaining_recovery_codes(session, user) == 9
    with pytest.raises(CodeRefused):
        verify(session, user, codes[0])


def test_wrong_codes_lock_the_account_with_wrong_passwords(session, enrolled, frozen_clock):
    user, secret, _ = enrolled
    for _ in range(2):
        with pytest.raises(CodeRefused, match="Enter the code"):
            verify(session, user, "000000" if current_code(secret) != "000000" else "111111")
    with pytest.raises(CodeRefused, match="locked for 15 minutes"):
        verify(session, user, "not a code")
    with pytest.raises(CodeRefused, match="locked"):
        verify(session, user, current_code(secret))  # even the right code, while locked
    frozen_clock.advance(timedelta(minutes=16))
    assert verify(session, user, current_code(secret)) == "app"
    assert user.failed_sign_ins == 0


def test_the_password_step_does_not_complete_a_two_factor_sign_in(session, enrolled):
    from storage.accounts.passwords import hash_password

    user, _, _ = enrolled
    user.password_hash = hash_password("a long enough password")
    authenticate(session, email=user.email, password="a long enough password",
                 ip_address=None, max_attempts=3, lockout=timedelta(minutes=5))
    assert user.last_signed_in_at is None, "signed in only once the code is right"
    with pytest.raises(SignInRefused):
        authenticate(session, email=user.email, password="wrong", ip_address=None,
                     max_attempts=3, lockout=timedelta(minutes=5))


def test_the_audit_records_each_step_and_no_secret(session, enrolled):
    user, secret, codes = enrolled
    code = current_code(secret)
    verify(session, user, code)
    with pytest.raises(CodeRefused):
        verify(session, user, code)
    session.commit()  # audit entries are written at commit
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "users", AuditEntry.entity_id == str(user.id))).all()
    actions = [(e.action, e.changes) for e in entries]
    assert any(a == AuditAction.UPDATE and "two_factor_enrolled" in c for a, c in actions)
    assert any(a == AuditAction.SIGN_IN and '"two_factor"' in c for a, c in actions)
    assert any(a == AuditAction.SIGN_IN_FAILED and "code already used" in c for a, c in actions)
    everything = " ".join(c for _, c in actions)
    assert secret not in everything
    assert code not in everything
    assert not any(c.replace("-", "") in everything or c in everything for c in codes)


def test_reset_switches_it_off_and_ends_sessions(session, enrolled):
    user, _, _ = enrolled
    epoch = user.session_epoch
    reset_two_factor(session, factories.SYSTEM, user)
    assert not user.two_factor_enrolled
    assert user.session_epoch == epoch + 1
    assert remaining_recovery_codes(session, user) == 0


def test_demo_secrets_are_deterministic_and_per_account(session, user):
    assert demo_secret("a@demo.casebridge.test") == demo_secret("A@demo.casebridge.test")
    assert demo_secret("a@demo.casebridge.test") != demo_secret("b@demo.casebridge.test")
    pyotp.TOTP(demo_secret("a@demo.casebridge.test")).now()  # a valid base32 secret
    enrol_with_secret(session, factories.SYSTEM, user, demo_secret(user.email))
    assert user.two_factor_enrolled

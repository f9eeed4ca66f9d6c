"""Password rules and hashing (argon2id)."""

from __future__ import annotations

from storage.accounts.passwords import (
    MIN_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

PASSWORD = "three random words"


def test_a_long_varied_password_is_acceptable():
    assert password_problem(PASSWORD) is None
    assert password_problem("a1b2" * 3) is None  # exactly the minimum length


def test_password_rules():
    assert "at least" in password_problem("x" * (MIN_LENGTH - 1))
    assert "at most" in password_problem("abcd" * 65)
    assert "different characters" in password_problem("abcabcabcabc")


def test_hashes_are_salted_and_verify():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.startswith("$argon2id$")
    assert verify_password(first, PASSWORD)
    assert verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + " ")
    assert not needs_rehash(first)


def test_a_missing_or_broken_hash_never_verifies():
    assert not verify_password(None, PASSWORD)
    assert not verify_password("", PASSWORD)
    assert not verify_password("not-a-hash", PASSWORD)

"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12  # NCSC advice: length beats complexity rules
MAX_LENGTH = 256

_hasher = PasswordHasher()


# Passwords of the policy's length that appear near the top of breached-password lists
# (NCSC's and others' published lists): a cheap check that stops the worst choices. The
# comparison ignores case, spaces and punctuation.
COMMON_PASSWORDS = frozenset((
    "123456789012", "1234567890123", "12345678901234", "123456789123", "111111111111",
    "000000000000", "123123123123", "098765432109", "qwertyuiop12", "qwertyuiopas",
    "qwertyuiopasdf", "1qaz2wsx3edc", "1q2w3e4r5t6y", "qazwsxedcrfv", "asdfghjkl123",
    "zxcvbnm12345", "passwordpassword", "password1234", "password12345", "password123456",
    "passw0rd1234", "p4ssw0rd1234", "iloveyou1234", "letmein12345", "welcome12345",
    "welcome123456", "changeme1234", "administrator", "admin1234567", "football1234",
    "liverpool123", "chelsea12345", "arsenal12345", "manchester12", "monkey123456",
    "sunshine1234", "princess1234", "qwerty123456", "abc123456789", "abcdefghijkl",
    "abcdef123456", "trustno11234", "casebridge123", "casebridge1234", "casebridgepassword",
))


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def password_problem(password: str, *, email: str | None = None) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters (three random words work well)"
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters"
    if len(set(password)) < 4:
        return "Use more than a few different characters"
    squashed = _squash(password)
    if squashed in COMMON_PASSWORDS:
        return "That password is one of the most common: choose one nobody would guess"
    if email and _squash(email.partition("@")[0]) and squashed.startswith(
            _squash(email.partition("@")[0])) and len(squashed) - len(
            _squash(email.partition("@")[0])) < 6:
        return "Do not base your password on your e-mail address"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)

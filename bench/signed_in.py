"""Signed-in sessions for the web benchmark: the real sign-in form, CSRF token and all.

Each session is signed in once before the timed run; the load generator then sends its
cookie (and, for form posts, its CSRF token) with every request, as a browser would. An
account with two-factor sign-in gets through the code step with a code computed from its
secret (read from the database by the caller), as the person's authenticator app would.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pyotp

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class SignedIn:
    cookie: str
    csrf_token: str


def sign_in(base_url: str, email: str, password: str,
            totp_secret: str | None = None) -> SignedIn:
    """Sign in through /sign-in like a browser (and /sign-in/code when the account has
    two-factor), then read a CSRF token off the home page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = _csrf_token(opener, f"{base_url}/sign-in")
    body = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token}).encode()
    with opener.open(f"{base_url}/sign-in", data=body, timeout=30) as response:
        path = urllib.parse.urlsplit(response.url).path
        page = response.read().decode()
    if path == "/sign-in/code":
        if not totp_secret:
            raise RuntimeError(f"{email} has two-factor sign-in: give its secret")
        token = _field(page, f"{base_url}/sign-in/code")
        body = urllib.parse.urlencode(
            {"code": pyotp.TOTP(totp_secret).now(), "csrf_token": token}).encode()
        with opener.open(f"{base_url}/sign-in/code", data=body, timeout=30) as response:
            path = urllib.parse.urlsplit(response.url).path
    if path.startswith("/sign-in"):
        raise RuntimeError(f"could not sign in as {email}")
    # Signing in starts a new session, so the token comes from a page after it.
    token = _csrf_token(opener, f"{base_url}/")
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return SignedIn(cookie=cookie, csrf_token=token)


def _csrf_token(opener: urllib.request.OpenerDirector, url: str) -> str:
    with opener.open(url, timeout=30) as response:
        page = response.read().decode()
    return _field(page, url)


def _field(page: str, url: str) -> str:
    found = CSRF_FIELD.search(page)
    if not found:
        raise RuntimeError(f"no CSRF token on {url}")
    return found.group(1)

"""Signed-in sessions for the web benchmark: the real sign-in form, CSRF token and all.

Each session is signed in once before the timed run; the load generator then sends its
cookie (and, for form posts, its CSRF token) with every request, as a browser would.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class SignedIn:
    cookie: str
    csrf_token: str


def sign_in(base_url: str, email: str, password: str) -> SignedIn:
    """Sign in through /sign-in like a browser, then read a CSRF token off the home page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = _csrf_token(opener, f"{base_url}/sign-in")
    body = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token}).encode()
    with opener.open(f"{base_url}/sign-in", data=body, timeout=30) as response:
        if urllib.parse.urlsplit(response.url).path == "/sign-in":
            raise RuntimeError(f"could not sign in as {email}")
    # Signing in starts a new session, so the token comes from a page after it.
    token = _csrf_token(opener, f"{base_url}/")
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return SignedIn(cookie=cookie, csrf_token=token)


def _csrf_token(opener: urllib.request.OpenerDirector, url: str) -> str:
    with opener.open(url, timeout=30) as response:
        page = response.read().decode()
    found = CSRF_FIELD.search(page)
    if not found:
        raise RuntimeError(f"no CSRF token on {url}")
    return found.group(1)

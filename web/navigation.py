"""The service navigation: each feature adds its entry here, so the bar is built in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g, request, url_for

# (label, endpoint): features append theirs when their blueprint is registered.
ITEMS: list[tuple[str, str]] = []
# Entries only some roles see (endpoint -> the roles): the rest see every entry.
FOR_ROLES: dict[str, tuple[str, ...]] = {}
# Where "home" is (the logo, after sign-in, error pages). The task inbox when it exists.
HOME_ENDPOINT = "overview.index"


# endpoint -> a count to show beside its label (e.g. requests waiting), or 0 for none.
BADGES: dict[str, Callable[[], int]] = {}


def add(label: str, endpoint: str, *, roles: tuple[str, ...] = (),
        badge: Callable[[], int] | None = None) -> None:
    if (label, endpoint) not in ITEMS:
        ITEMS.append((label, endpoint))
    if roles:
        FOR_ROLES[endpoint] = roles
    if badge is not None:
        BADGES[endpoint] = badge


def _text(label: str, endpoint: str) -> str:
    count = BADGES[endpoint]() if endpoint in BADGES else 0
    return f"{label} ({count})" if count else label


def init_app(app: Flask) -> None:
    @app.context_processor
    def _navigation() -> dict[str, Any]:
        def nav_items() -> list[dict[str, Any]]:
            current = request.endpoint or ""
            user = g.get("user")
            return [
                {"href": url_for(endpoint), "text": _text(label, endpoint),
                 "active": current.split(".")[0] == endpoint.split(".")[0]}
                for label, endpoint in ITEMS
                if endpoint not in FOR_ROLES or (
                    user is not None and any(user.has_role(r) for r in FOR_ROLES[endpoint]))
            ]

        def errors_as_list(errors: dict[str, str]) -> list[dict[str, str]]:
            return [{"text": message, "href": f"#{field}"} for field, message in errors.items()]

        return {"nav_items": nav_items, "errors_as_list": errors_as_list,
                "home_url": url_for(HOME_ENDPOINT)}

"""GET /search: one box for people, locations and cases; every search is audited (without
the words searched for, which can be a victim's name: only how long they were)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from storage.audit.models import AuditAction
from storage.audit.services import record
from web import navigation
from web.auth import current_actor, current_user
from web.database import session
from web.search import finders

blueprint = Blueprint("search", __name__)
navigation.add("Search", "search.index")

# What to search for: (value, label), the first the default.
CHOICES = [("all", "Everything"), ("people", "People"), ("locations", "Locations"),
           ("cases", "Cases")]
MIN_LENGTH = 2
MAX_LENGTH = 200


@blueprint.get("/search")
def index() -> Any:
    raw = request.args.get("q", "")
    what = request.args.get("what", "all") or "all"
    errors: dict[str, str] = {}
    results: dict[str, finders.Found[Any]] | None = None
    restricted = None
    if "q" in request.args:
        term = raw.strip()
        if what not in dict(CHOICES):
            errors["what"] = "Choose what to search for"
        if not term:
            errors["q"] = "Enter a name, date of birth, case reference, address or postcode"
        elif len(term) < MIN_LENGTH:
            errors["q"] = f"Enter at least {MIN_LENGTH} letters or numbers"
        elif len(term) > MAX_LENGTH:
            errors["q"] = f"Enter {MAX_LENGTH} characters or fewer"
        if not errors:
            results = _search(term, what)
            if what in ("all", "cases"):
                restricted = finders.restricted_case(session(), current_user(), term)
            total = sum(found.count for found in results.values())
            record(session(), current_actor(), AuditAction.SEARCH, entity_type="search",
                   detail={"what": what, "results": total, "text_length": len(term)})
    return render_template(
        "search/index.html", q=raw, errors=errors,
        what_items=[{"value": value, "text": label, "checked": value == what}
                    for value, label in CHOICES],
        results=results, is_date=finders.parse_date(raw) is not None,
        limit=finders.RESULT_LIMIT, restricted=restricted,
    ), (400 if errors else 200)


def _search(term: str, what: str) -> dict[str, finders.Found[Any]]:
    db, user = session(), current_user()
    results: dict[str, finders.Found[Any]] = {}
    if what in ("all", "people"):
        results["people"] = finders.find_people(db, user, term)
    if what in ("all", "locations"):
        results["locations"] = finders.find_locations(db, term)
    if what in ("all", "cases"):
        results["cases"] = finders.find_cases(db, user, term)
    return results

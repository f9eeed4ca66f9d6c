"""The minimum standards for managers: the standards in force and their ladders, breaches
per standard now, the versions published and by whom, and the same dry run as `casebridge
rules check --as-of DATE`. Counts and references cover only the cases the user may see
(storage.access); the detectors' preview, about people and places across the partnership,
is shown to partnership-wide roles only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request

import rules.detectors  # noqa: F401  (registers the detectors' dry run)
from casebridge import clock
from rules import preview as rule_preview
from storage.access import sees_everything, visible_cases
from storage.accounts.models import Role
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.standards.escalate import in_force
from storage.standards.evaluate import findings
from storage.standards.preview import preview
from storage.standards.services import history
from web.auth import current_actor, current_user
from web.database import session
from web.dates import parse_date_input
from web.inbox.queries import case_type_options

blueprint = Blueprint("rules", __name__)

REGION_NAMES = {"england-and-wales": "England and Wales", "england": "England",
                "wales": "Wales", "scotland": "Scotland", "northern-ireland": "Northern Ireland"}


def _managers_only() -> None:
    user = current_user()
    if not (user.has_role(Role.MANAGER) or user.has_role(Role.PARTNERSHIP_ADMIN)):
        abort(403)


@blueprint.get("/admin/rules")
def index() -> Any:
    _managers_only()
    db, user, now = session(), current_user(), clock.now()
    found = in_force(db)
    as_of, error = _as_of(now)
    counts: Counter[tuple[str, int]] = Counter()
    lines: list[rule_preview.WouldFire] = []
    if found is not None:
        row, standards = found
        for hit in findings(db, standards, row.calendar_key, now, scope=visible_cases(user)):
            counts[(hit.standard, min(hit.level, 2))] += 1
        if as_of is not None:
            lines = preview(db, as_of, scope=visible_cases(user))
    if as_of is not None and sees_everything(user) and "detectors" in rule_preview.families():
        lines += rule_preview.would_fire(db, as_of, ["detectors"])
    record(db, current_actor(), AuditAction.VIEW, entity_type="standards", entity_id="admin")
    return render_template(
        "rules/index.html", found=found, counts=counts, lines=sorted(lines),
        versions=history(db), as_of=as_of, error=error, region_names=REGION_NAMES,
        type_names=dict(case_type_options(db)),
        day=request.args.get("day", ""), month=request.args.get("month", ""),
        year=request.args.get("year", ""))


def _as_of(now: datetime) -> tuple[datetime | None, str | None]:
    """The moment to preview: the date asked for (at noon, partnership time), or now."""
    day, month, year = (request.args.get(k, "").strip() for k in ("day", "month", "year"))
    if not (day or month or year):
        return now, None
    when, error = parse_date_input(day, month, year, what="The date to try the rules on")
    if when is None:
        return None, error or "Enter a date"
    zone = ZoneInfo(current_app.extensions["casebridge.runtime"].settings.timezone)
    return datetime.combine(when, time(12), tzinfo=zone).astimezone(UTC), None

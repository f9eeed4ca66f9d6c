"""The minimum standards' dry run for `rules.preview` ("standards"): what the sweep would
record and e-mail at a moment, read only (nothing recorded, nothing queued). Lines carry
case references and the roles that would be told, never a person's name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from rules.calendars import DEFAULT_TIMEZONE
from rules.preview import WouldFire, register
from storage.standards.escalate import in_force, levels_of
from storage.standards.evaluate import findings
from storage.standards.models import StandardEscalation


def level_word(level: int) -> str:
    return {0: "warning", 1: "breach"}.get(level, f"escalation {level}")


def preview(session: Session, as_of: datetime,
            scope: ColumnElement[bool] | None = None) -> list[WouldFire]:
    found = in_force(session)
    if found is None:
        return []
    row, standards = found
    hits = findings(session, standards, row.calendar_key, as_of, only_new=True, scope=scope)
    keys = {hit.key(level) for hit in hits for level in levels_of(hit)}
    recorded = set(session.scalars(select(StandardEscalation.key).where(
        StandardEscalation.key.in_(list(keys))))) if keys else set()
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    lines = []
    for hit in hits:
        standard = standards.standards[hit.standard]
        ladder = standards.ladder_of(standard)
        subject = f"case {hit.reference}" + (f" action {hit.action_id}" if hit.action_id else "")
        due = hit.due_at.astimezone(zone)
        for level in levels_of(hit):
            if hit.key(level) in recorded:
                continue
            told = ", ".join(r.describe() + (" (digest)" if r in ladder.digest else "")
                             for r in ladder.recipients(level)) or "nobody"
            lines.append(WouldFire(
                rule=f"standard:{hit.standard}", subject=subject, level=level_word(level),
                detail=f"{standard.name}; due {due:%a %d %b %Y %H:%M}; would tell {told}"))
    return lines


def _registered(session: Session, as_of: datetime) -> Iterable[WouldFire]:
    return preview(session, as_of)


register("standards", _registered)

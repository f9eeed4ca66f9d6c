"""What the rules would do, without doing it: the dry run behind `casebridge rules check
--as-of DATE` and the managers' preview page.

Each rule family (minimum standards, detectors) registers one function that, given a
session and a moment, lists what would fire then. A preview reads and never writes: no
escalation recorded, no flag raised, nothing queued in the outbox. Its lines carry
references and ids, never a person's name, so a preview can be pasted into a ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session


@dataclass(frozen=True, order=True)
class WouldFire:
    rule: str  # e.g. "standard:high_risk_contact" or "detector:repeat_victim"
    subject: str  # e.g. "case ASB-2026-000123", "person 4711", "location 12"
    level: str  # e.g. "warning", "breach", "escalation 2", "hit"
    detail: str  # plain words for a manager, no personal data


Preview = Callable[[Session, datetime], Iterable[WouldFire]]

_PREVIEWS: dict[str, Preview] = {}


def register(family: str, preview: Preview) -> Preview:
    """Add (or replace) a rule family's preview; returns it, so it can decorate."""
    _PREVIEWS[family] = preview
    return preview


def would_fire(session: Session, as_of: datetime,
               families: Iterable[str] | None = None) -> list[WouldFire]:
    """Every registered family's findings at `as_of`, sorted by rule then subject."""
    chosen = _PREVIEWS if families is None else {f: _PREVIEWS[f] for f in families}
    found: list[WouldFire] = []
    for preview in chosen.values():
        found.extend(preview(session, as_of))
    return sorted(found)


def families() -> list[str]:
    return sorted(_PREVIEWS)

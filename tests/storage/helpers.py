"""Small helpers shared by the storage tests (no fixtures: those live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.actors import Actor
from storage.audit.models import AuditEntry
from storage.cases.models import Case
from tests.factories import ASB_REPORT, SYSTEM, submit


@contextmanager
def rejected_by(session: Session, *names: str) -> Iterator[None]:
    """Expect the database to refuse what the block adds or changes, naming the constraint.

    Runs the block in a SAVEPOINT and flushes it, so the test's transaction stays usable.
    Check constraints are named the same on SQLite and PostgreSQL; for unique and primary
    keys SQLite names the columns instead, so several names may be given (any one matches).
    """
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as error:
        message = str(error.orig)
        assert any(name in message for name in names), (
            f"expected a violation of {' or '.join(names)}, got: {message}"
        )
    else:
        pytest.fail(f"the database accepted what {' or '.join(names)} should refuse")


def flush_in_savepoint(session: Session, *objects: object) -> None:
    """Add and flush in a SAVEPOINT: if the flush fails, only the SAVEPOINT is rolled back."""
    with session.begin_nested():
        session.add_all(objects)
        session.flush()


def audit_entries(session: Session, **filters: object) -> list[AuditEntry]:
    """Sealed audit entries (only committed work has any), oldest first, filtered by column."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    for column, value in filters.items():
        query = query.where(getattr(AuditEntry, column) == value)
    return list(session.scalars(query))


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# --- ASB cases on the shipped definition ------------------------------------------------------

# Answers to each ASB form along the straight path: standard risk, victim reached, problem
# resolved, survey answered. Generated wording, nobody real.
ASB_RISK_STANDARD = {
    "repeat_victim": "no", "targeted_for_identity": "no", "physical_harm": "no",
    "lives_alone": "no", "disability": "no", "mental_health": "no", "children_affected": "no",
    "sleep_or_work_affected": "no", "considering_moving": "no", "perpetrator_nearby": "no",
    "alcohol_or_drugs": "no", "support_network": "no", "assessor_view": "standard",
}
VICTIM_REACHED = {"contact_made": "yes", "contacted_at": "2026-03-02T11:00:00", "method": "phone",
                  "consents_to_share": "yes", "wants_support": "no"}
VICTIM_NOT_REACHED = {"contact_made": "no", "attempts": 1}
ASB_PATH: dict[str, dict[str, Any]] = {
    "report": ASB_REPORT,
    "risk_assessment": ASB_RISK_STANDARD,
    "victim_contact": VICTIM_REACHED,
    "scan": {"problem_statement": "Music from a flat late at night", "location_hot_spot": "no",
             "perpetrators_known": "yes"},
    "analyse": {"victim_analysis": "Cannot sleep before work", "partners_needed": ["housing"]},
    "respond": {"plan": "Warning letter from the landlord", "tools_used": ["warning_letter"],
                "victim_agrees_plan": "yes"},
    "assess": {"outcome": "resolved", "victim_view": "It is quiet now"},
    "closure": {"reason": "resolved", "closure_letter_sent": "yes",
                "summary": "Resolved after a warning letter"},
    "satisfaction": {"responded": "yes", "satisfied_with_handling": "satisfied",
                     "kept_informed": "satisfied", "feels_safer": "yes"},
}


def advance_asb(session: Session, case: Case, *, to: str, actor: Actor = SYSTEM) -> Case:
    """Submit the ASB stages along the straight path until `to` is the active stage."""
    for _ in range(len(ASB_PATH)):
        active = [s.stage_key for s in case.active_stages if s.stage_key in ASB_PATH]
        assert len(active) == 1, f"expected one active stage on the path, found {active}"
        if active[0] == to:
            return case
        submit(session, case, ASB_PATH[active[0]], key=active[0], actor=actor)
    raise AssertionError(f"{case.reference} never reached '{to}'")

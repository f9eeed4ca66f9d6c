"""The deadline sweep (stage and action deadlines, then the minimum standards) and the review
scheduler as plain functions: the Prefect flows in `workflows.engine.flows` only wrap these,
and tests run them without Prefect.

Both are idempotent, so a schedule that fires twice, a retried task or two workers at once
change nothing: an escalation is recorded once under its unique key (and only then is its
e-mail queued), and a review that was opened is no longer due.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casebridge import clock
from rules.escalations import ACTION_WARNING, DEADLINES, Level
from rules.standards.model import Ladder
from storage.actors import Actor
from storage.cases.models import StageInstance
from storage.cases.reviews import due_reviews
from storage.cases.workflow import review_due
from storage.db import unit_of_work
from storage.errors import ServiceError
from storage.escalations.services import find_due, record
from storage.standards import escalate as standards
from storage.standards.digest import queue_digests

log = logging.getLogger("casebridge.engine")

SWEEP_ACTOR = Actor.system("engine.sweep_deadlines")
REVIEW_ACTOR = Actor.system("engine.scheduled_reviews")


def sweep_deadlines(
    sessions: sessionmaker[Session], *, batch_size: int = 5000,
    action_warning: timedelta = ACTION_WARNING, max_batches: int = 1000,
) -> dict[str, int]:
    """Escalate every deadline at its warning point or past due, once. Each batch is found
    and recorded in one transaction, so what is recorded is what the query saw; the query
    leaves out what is already recorded, so the next batch starts where this one ended.
    Batches are large because each costs a query over the open deadlines; the INSERTs are
    paged by SQLAlchemy, so they stay within SQLite's limit on bound parameters."""
    now = clock.now()
    counts: Counter[str] = Counter()
    with sessions() as session:
        ladder = deadlines_ladder(session)
    for _ in range(max_batches):
        with unit_of_work(sessions) as session:
            due = find_due(session, now, action_warning=action_warning, limit=batch_size)
            new = record(session, SWEEP_ACTOR, due, now, ladder)
        counts["found"] += len(due)
        for hit in due:
            if hit.key in new:
                counts["warnings" if hit.level is Level.WARNING else "breaches"] += 1
        # Fewer than a batch: that was all. Nothing new: a concurrent sweep holds the rest.
        if len(due) < batch_size or not new:
            break
    # The minimum standards: one statement measures them all, in one transaction.
    with unit_of_work(sessions) as session:
        counts.update(standards.sweep(session, SWEEP_ACTOR, now))
    totals = {name: n for name, n in sorted(counts.items()) if n}
    log.info("deadline sweep: %s", totals or "nothing due")
    return totals


def send_digests(sessions: sessionmaker[Session], timezone: str) -> dict[str, int]:
    """Queue each recipient's daily digest of escalations once the digest hour has passed
    (exactly once a day: each is keyed by recipient and day)."""
    with unit_of_work(sessions) as session:
        counts = queue_digests(session, clock.now(), timezone)
    log.info("escalation digests: %s", counts or "none due")
    return counts


def deadlines_ladder(session: Session) -> Ladder:
    """The ladder stage and action deadlines use: the published standards' choice, else
    the built-in one (a warning to the assignee, the breach to their line manager too)."""
    found = standards.in_force(session)
    if found is None or not found[1].deadlines_ladder:
        return DEADLINES
    return found[1].ladders[found[1].deadlines_ladder]


def scheduled_reviews(sessions: sessionmaker[Session], *, limit: int = 10_000) -> dict[str, int]:
    """Open every recurring review that has fallen due. The cases are chosen by one query;
    each is then moved by the workflow service in its own transaction, so one case that
    cannot move (a conflict with a person editing it) does not hold back the rest."""
    now = clock.now()
    with sessions() as session:
        due = due_reviews(session, now, limit=limit)
    counts: Counter[str] = Counter(due=len(due))
    for case_id, stage_key in due:
        try:
            with unit_of_work(sessions) as session:
                before = _runs(session, case_id, stage_key)
                review_due(session, REVIEW_ACTOR, case_id=case_id, stage_key=stage_key)
                opened = _runs(session, case_id, stage_key) > before
        except ServiceError as exc:
            # Logged by id only; the next run tries again (the review is still due).
            log.warning("review %s of case %s not opened: %s", stage_key, case_id,
                        type(exc).__name__)
            counts["failed"] += 1
            continue
        # Not opened: the last review is still open, so only the schedule moved on.
        counts["opened" if opened else "rescheduled"] += 1
    log.info("scheduled reviews: %s", dict(sorted(counts.items())))
    return dict(counts)


def _runs(session: Session, case_id: int, stage_key: str) -> int:
    session.flush()
    return session.scalar(select(func.count()).select_from(StageInstance).where(
        StageInstance.case_id == case_id, StageInstance.stage_key == stage_key)) or 0

"""Recording breaches of minimum standards, once each, with their e-mails and digests.

`sweep` measures every standard in one statement (`evaluate.findings`), then records each
level reached and not yet recorded under its unique key (INSERT ... ON CONFLICT DO NOTHING)
and, for the rows really inserted, queues one e-mail (idempotency key = the escalation's
key), the digest items of recipients who asked for a daily digest, and an audit entry, all
in the caller's transaction. A level skipped because the sweep did not run in time is
recorded too (each level tells different people); a warning is not, once breached.
Flushes, never commits.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.standards.model import Recipient, StandardsSet
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record as audit
from storage.bulk import insert_rows
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue_many
from storage.standards.evaluate import Finding, findings
from storage.standards.models import DigestItem, StandardEscalation, StandardsVersion
from storage.standards.recipients import Lookups, Parties
from storage.standards.services import current, ensure_calendar, standards_of

TEMPLATE = "standard_escalation"


def in_force(session: Session) -> tuple[StandardsVersion, StandardsSet] | None:
    row = current(session)
    return None if row is None else (row, standards_of(row))


def sweep(session: Session, actor: Actor, now: datetime) -> dict[str, int]:
    """Record and queue every standard's warnings and breaches not yet recorded."""
    found = in_force(session)
    if found is None:
        return {}
    row, standards = found
    calendar = ensure_calendar(session, standards.calendar, now=now)
    hits = findings(session, standards, calendar, now, only_new=True)
    new = record(session, actor, row, standards, hits, now)
    counts: Counter[str] = Counter()
    for level in new.values():
        counts["standard_warnings" if level == 0 else "standard_breaches" if level == 1
               else "standard_escalations"] += 1
    return dict(counts)


def record(session: Session, actor: Actor, version: StandardsVersion, standards: StandardsSet,
           hits: list[Finding], now: datetime) -> dict[str, int]:
    """Record the levels these findings reached; returns {key: level} of the new rows."""
    if not hits:
        return {}
    needed = {r for hit in hits for level in levels_of(hit)
              for r in standards.ladders[standards.standards[hit.standard].ladder]
              .recipients(level)}
    lookups = Lookups.load(session, {h.owning_agency_id for h in hits}, needed)
    rows = []
    for hit in hits:
        ladder = standards.ladder_of(standards.standards[hit.standard])
        parties = Parties(hit.user_id, hit.agency_id, hit.line_manager_id, hit.owning_agency_id)
        for level in levels_of(hit):
            chosen = ladder.recipients(level)
            at_once, notify = lookups.resolve([r for r in chosen if r not in ladder.digest],
                                              parties)
            digest, _ = lookups.resolve([r for r in chosen if r in ladder.digest
                                         and r is not Recipient.ASSIGNEE], parties)
            rows.append({
                "key": hit.key(level), "standards_version_id": version.id,
                "standard": hit.standard, "level": level, "case_id": hit.case_id,
                "action_id": hit.action_id, "started_at": hit.started_at,
                "due_at": hit.due_at, "recipient_user_ids": at_once,
                "digest_user_ids": [u for u in digest if u not in at_once],
                "notify_agency_id": notify, "created_at": now,
            })
    inserted = insert_rows(session, StandardEscalation.__table__, rows,
                           skip_conflicts_on="key", returning=("id", "key"))
    ids = {key: escalation_id for escalation_id, key in inserted}
    fresh = [row | {"id": ids[row["key"]]} for row in rows if row["key"] in ids]
    enqueue_many(session, EffectKind.EMAIL, [
        {"idempotency_key": row["key"], "case_id": row["case_id"],
         "payload": {"template": TEMPLATE, "standard_escalation_id": row["id"],
                     "case_id": row["case_id"]}}
        for row in fresh if row["recipient_user_ids"] or row["notify_agency_id"] is not None
    ])
    items = [{"escalation_id": row["id"], "user_id": user_id}
             for row in fresh for user_id in row["digest_user_ids"]]
    insert_rows(session, DigestItem.__table__, items)
    for row in fresh:
        audit(session, actor, AuditAction.CREATE, entity_type="standard_escalations",
              entity_id=row["id"], case_id=row["case_id"],
              after={"standard": row["standard"], "level": row["level"],
                     "name": standards.standards[row["standard"]].name,
                     "action_id": row["action_id"], "due_at": row["due_at"].isoformat(),
                     "recipient_user_ids": row["recipient_user_ids"],
                     "digest_user_ids": row["digest_user_ids"],
                     "notify_agency_id": row["notify_agency_id"]})
    session.flush()
    return {row["key"]: row["level"] for row in fresh}


def levels_of(hit: Finding) -> list[int]:
    return [0] if hit.level == 0 else list(range(1, hit.level + 1))


def still_holds(session: Session, escalation: StandardEscalation, now: datetime) -> bool:
    """Whether an escalation still stands at send time: the standard is still in force and
    still breached (or at its warning point) at this level or above, for the same clock, on
    an open case. Not if the breach was remedied, the case paused or closed, or the clock
    moved on (an update started it again)."""
    found = in_force(session)
    if found is None:
        return False
    row, standards = found
    if escalation.standard not in standards.standards:
        return False
    for hit in findings(session, standards, row.calendar_key, now, case_ids=[escalation.case_id],
                        names=[escalation.standard]):
        if (hit.action_id == escalation.action_id and hit.started_at == escalation.started_at
                and hit.level >= escalation.level):
            return True
    return False


def open_escalations(session: Session, case_id: int, now: datetime) -> list[dict[str, Any]]:
    """The standards breached (or at their warning point) on a case now, each with its level
    and since when it has been escalated at that level.

    Only a case the sweep has escalated is measured again here: most cases never have been,
    and for them one indexed look-up replaces the standards' query on every view of the case
    page (the sweep runs every few minutes, and records warnings too)."""
    recorded = session.execute(
        select(StandardEscalation.standard, StandardEscalation.action_id,
               StandardEscalation.started_at, StandardEscalation.level,
               StandardEscalation.created_at)
        .where(StandardEscalation.case_id == case_id)).all()
    if not recorded:
        return []
    found = in_force(session)
    if found is None:
        return []
    row, standards = found
    hits = findings(session, standards, row.calendar_key, now, case_ids=[case_id],
                    names=sorted({r.standard for r in recorded}))
    if not hits:
        return []
    since = {(r.standard, r.action_id, r.started_at, r.level): r.created_at for r in recorded}
    result = []
    for hit in sorted(hits, key=lambda h: (-h.level, h.standard)):
        standard = standards.standards[hit.standard]
        result.append({"standard": standard, "finding": hit, "level": hit.level,
                       "since": since.get((hit.standard, hit.action_id, hit.started_at,
                                           hit.level)),
                       "level_name": level_name(hit.level)})
    return result


def level_name(level: int) -> str:
    return {0: "Warning", 1: "Breached"}.get(level, f"Breached, escalation level {level}")


def digest_day(now: datetime, standards: StandardsSet, timezone: str) -> date | None:
    """Today's date in the partnership's zone once the digest hour has passed, else None."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(timezone))
    return local.date() if local.time() >= standards.digest_at else None

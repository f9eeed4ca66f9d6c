"""The retention sweep (adds due cases to the review list, never deletes), the decisions on
the list, and the deletion of a case with everything personal hanging off it.

Deletion walks the foreign keys down from the case rather than naming tables, so a table
added later that points at a case (or at its stages, actions, notes...) is deleted with it
instead of blocking the deletion or being left behind; a SET NULL key is cleared instead.

The audit entries about what was deleted (entries with the case's id, and entries about any
row deleted with it: the case, its people, their notes, stages, actions, documents,
addresses, participants...) carry the same personal data in their `changes`, so the same
transaction redacts them (storage.audit.services.redact): the text goes, the chain and the
fact of each entry stay. Entries about the retention review itself hold nothing personal
and are kept whole as the record of the decision.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from casebridge import clock
from rules.retention import Schedule
from storage.accounts.models import Role, User
from storage.actors import Actor
from storage.audit.models import AuditAction, AuditEntry
from storage.audit.services import record, redact
from storage.base import Base
from storage.cases.models import Case, CaseParticipant, CaseStatus
from storage.documents.models import Document
from storage.documents.store import DocumentStore
from storage.errors import AccessDenied, InvalidRequest, InvalidState, NotFound
from storage.flags.models import Flag
from storage.outbox.models import OutboxMessage
from storage.people.models import GroupMember, Person
from storage.retention.models import RetentionOutcome, RetentionReview, ReviewStatus

log = logging.getLogger("casebridge.retention")

MAX_KEEP_MONTHS = 120
DECIDERS = (Role.MANAGER, Role.PARTNERSHIP_ADMIN)


# --- the sweep --------------------------------------------------------------------------------


def sweep(session: Session, schedule: Schedule, *, today: date, timezone: str,
          actor: Actor | None = None) -> dict[str, int]:
    """Put every closed case that is due (and not on the list, and not kept past today) on
    the review list. Idempotent: a second run the same day adds nothing. Returns counts."""
    actor = actor or Actor.system("retention")
    zone = ZoneInfo(timezone)
    shortest = min([schedule.default.years, *(r.years for r in schedule.case_types.values())])
    # Every case closed before this could be due (the shortest period); each is then
    # checked against its own type's rule.
    horizon = datetime.combine(_years_before(today, shortest) + timedelta(days=1), time(),
                               tzinfo=zone)
    on_list_or_kept = exists(select(RetentionReview.id).where(
        RetentionReview.case_id == Case.id,
        or_(RetentionReview.status == ReviewStatus.PENDING,
            RetentionReview.keep_until > today)))
    candidates = session.execute(
        select(Case.id, Case.reference, Case.case_type, Case.owning_agency_id, Case.closed_at)
        .where(Case.status == CaseStatus.CLOSED, Case.closed_at < horizon, ~on_list_or_kept)
        .order_by(Case.id)).all()
    kept_until = dict(session.execute(
        select(RetentionReview.case_id, func.max(RetentionReview.keep_until))
        .where(RetentionReview.case_id.in_([c.id for c in candidates]),
               RetentionReview.status == ReviewStatus.KEPT)
        .group_by(RetentionReview.case_id)).all()) if candidates else {}
    added = 0
    for case in candidates:
        rule = schedule.rule_for(case.case_type)
        due = rule.due_on(case.closed_at.astimezone(zone).date())
        if case.id in kept_until:
            due = max(due, kept_until[case.id])
        if due > today:
            continue
        review = RetentionReview(
            case_id=case.id, case_reference=case.reference, case_type=case.case_type,
            owning_agency_id=case.owning_agency_id, closed_at=case.closed_at, due_on=due,
            outcome=RetentionOutcome(rule.then), rule_years=rule.years)
        session.add(review)
        record(session, actor, AuditAction.CREATE, entity=review, case_id=case.id,
               detail={"retention": "due for review", "due_on": due.isoformat(),
                       "proposed": rule.then})
        added += 1
    session.flush()
    return {"candidates": len(candidates), "added": added}


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- who decides ------------------------------------------------------------------------------


def may_decide(user: User, review: RetentionReview) -> bool:
    """A partnership administrator, or a manager of the agency that owns the case (the
    agency that is the controller of its record)."""
    if not user.active:
        return False
    if user.has_role(Role.PARTNERSHIP_ADMIN):
        return True
    return user.has_role(Role.MANAGER) and user.agency_id == review.owning_agency_id


def reviews_for(session: Session, user: User, *, status: ReviewStatus,
                limit: int = 200) -> list[RetentionReview]:
    query = select(RetentionReview).where(RetentionReview.status == status)
    if not user.has_role(Role.PARTNERSHIP_ADMIN):
        query = query.where(RetentionReview.owning_agency_id == user.agency_id)
    order = (RetentionReview.due_on, RetentionReview.id) if status is ReviewStatus.PENDING \
        else (RetentionReview.decided_at.desc(), RetentionReview.id.desc())
    return list(session.scalars(query.order_by(*order).limit(limit)))


def _review_for(session: Session, user: User, review_id: int) -> RetentionReview:
    review = session.scalars(select(RetentionReview).where(RetentionReview.id == review_id)
                             .with_for_update()).first()
    if review is None:
        raise NotFound("RetentionReview", review_id)
    if not may_decide(user, review):
        raise AccessDenied("Only a manager of the agency that owns the case, or a "
                           "partnership administrator, can decide this")
    return review


# --- keeping ----------------------------------------------------------------------------------


def keep(session: Session, actor: Actor, user: User, review_id: int, *, months: int | None,
         reason: str, today: date) -> RetentionReview:
    review = _review_for(session, user, review_id)
    if review.status is not ReviewStatus.PENDING:
        raise InvalidState("This case has already been decided")
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if months is None or not 1 <= months <= MAX_KEEP_MONTHS:
        errors["months"] = f"Enter a number of months from 1 to {MAX_KEEP_MONTHS}"
    if not reason:
        errors["reason"] = "Enter why the case must be kept"
    elif len(reason) > 1000:
        errors["reason"] = "Enter 1000 characters or fewer"
    if errors:
        raise InvalidRequest(errors)
    assert months is not None
    review.status, review.reason = ReviewStatus.KEPT, reason
    review.keep_until = _months_after(today, months)
    review.decided_by_id, review.decided_at = user.id, clock.now()
    record(session, actor, AuditAction.UPDATE, entity=review, case_id=review.case_id,
           after={"status": "kept", "keep_until": review.keep_until.isoformat(),
                  "months": months},
           detail={"reason_length": len(reason)})
    session.flush()
    return review


def _months_after(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- deleting ---------------------------------------------------------------------------------


@dataclass
class Deletion:
    review: RetentionReview
    already: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    people_deleted: int = 0
    files: list[str] = field(default_factory=list)  # SHA-256s of the deleted documents
    # Ids of the deleted rows by table, for redacting the audit entries about them.
    removed: dict[str, list[int]] = field(default_factory=dict)
    redacted: int = 0  # audit entries redacted


def approve_deletion(session: Session, actor: Actor, user: User, review_id: int) -> Deletion:
    """Delete the case under review and everything personal hanging off it, in the caller's
    transaction. Idempotent: a review already carried out is answered as done. The stored
    files are the caller's to remove after commit (`remove_files`)."""
    review = _review_for(session, user, review_id)
    if review.status is ReviewStatus.DELETED:
        return Deletion(review, already=True)
    if review.status is not ReviewStatus.PENDING:
        raise InvalidState("This case has already been decided: it is being kept")
    case = session.get(Case, review.case_id) if review.case_id is not None else None
    if case is not None and case.status is not CaseStatus.CLOSED:
        raise InvalidState("The case has been reopened since it was put on this list, so it "
                           "cannot be deleted: keep it instead")
    result = Deletion(review)
    case_id = review.case_id
    if case is not None:
        result = _delete_case(session, case, review)
    if case_id is not None:
        result.redacted = len(redact(session, actor, _about(case_id, result.removed),
                                     reason="retention", review=review.id, case_id=case_id))
    review.status, review.case_id = ReviewStatus.DELETED, None
    review.decided_by_id, review.decided_at = user.id, clock.now()
    # Nothing personal: ids, the reference, the type and counts of what went.
    record(session, actor, AuditAction.DELETE, entity_type="cases", entity_id=case_id,
           case_id=case_id, detail={
               "retention_review": review.id, "case_reference": review.case_reference,
               "case_type": review.case_type, "rows_deleted": result.counts,
               "people_deleted": result.people_deleted, "files": len(result.files),
               "audit_entries_redacted": result.redacted})
    session.flush()
    return result


_IN_BATCH = 500
# Entries about the review are the record of the decision and hold nothing personal.
_KEPT_WHOLE = RetentionReview.__tablename__


def _about(case_id: int, removed: dict[str, list[int]]) -> ColumnElement[bool]:
    """Audit entries about the deleted case or about any row deleted with it."""
    about = [AuditEntry.case_id == case_id]
    for table, ids in removed.items():
        keys = sorted({str(i) for i in ids})
        about.extend(and_(AuditEntry.entity_type == table,
                          AuditEntry.entity_id.in_(keys[n:n + _IN_BATCH]))
                     for n in range(0, len(keys), _IN_BATCH))
    return and_(or_(*about), AuditEntry.entity_type != _KEPT_WHOLE)


def _delete_case(session: Session, case: Case, review: RetentionReview) -> Deletion:
    result = Deletion(review)
    case_id = case.id
    people = set(session.scalars(select(CaseParticipant.person_id).where(
        CaseParticipant.case_id == case_id, CaseParticipant.person_id.is_not(None))))
    result.files = sorted(set(session.scalars(
        select(Document.sha256).where(Document.case_id == case_id))))
    # Queued e-mails and notices about the case carry names in their payloads: they go.
    _count(result, "outbox", session.execute(
        delete(OutboxMessage).where(OutboxMessage.case_id == case_id)).rowcount)
    _delete_rows(session, Case.__table__, [case_id], result)
    session.expunge(case)  # gone from the database: the session must not write it back
    # People the case was about, with no other case and no other record (a group they
    # belong to, a warning flag raised about them outside any case), go too.
    still_needed = or_(
        exists(select(CaseParticipant.id).where(CaseParticipant.person_id == Person.id)),
        exists(select(GroupMember.id).where(GroupMember.person_id == Person.id)),
        exists(select(Flag.id).where(Flag.person_id == Person.id)))
    orphans = list(session.scalars(select(Person.id).where(Person.id.in_(people),
                                                           ~still_needed)))
    if orphans:
        _delete_rows(session, Person.__table__, orphans, result)
    result.people_deleted = len(orphans)
    return result


def _count(result: Deletion, table: str, n: int | None) -> None:
    if n:
        result.counts[table] = result.counts.get(table, 0) + n


def _delete_rows(session: Session, table: Table, ids: list[int], result: Deletion,
                 depth: int = 0) -> None:
    """Delete rows of `table` by id, first deleting (or, for SET NULL keys, clearing) every
    row of any table that points at them, all the way down."""
    if not ids or depth > 10:
        if depth > 10:
            raise RuntimeError("foreign keys nest deeper than expected")
        return
    for child in Base.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is not table or child.name == "audit_entries":
                continue
            column = fk.parent
            if fk.ondelete == "SET NULL":
                session.execute(update(child).where(column.in_(ids)).values({column.name: None}))
                continue
            if "id" in child.c:
                child_ids = list(session.scalars(select(child.c.id).where(column.in_(ids))))
                _delete_rows(session, child, child_ids, result, depth + 1)
            else:
                _count(result, child.name,
                       session.execute(delete(child).where(column.in_(ids))).rowcount)
    result.removed.setdefault(table.name, []).extend(ids)
    _count(result, table.name,
           session.execute(delete(table).where(table.c.id.in_(ids))).rowcount)


def remove_files(session: Session, store: DocumentStore, sha256s: Iterable[str]) -> int:
    """Remove the stored files no remaining document refers to (files are kept by content,
    so another case's identical upload shares one). Run after the deletion commits."""
    wanted = sorted(set(sha256s))
    if not wanted:
        return 0
    in_use = set(session.scalars(select(Document.sha256).where(Document.sha256.in_(wanted))))
    removed = 0
    for sha in wanted:
        if sha in in_use:
            continue
        try:
            store.path_for(sha).unlink(missing_ok=True)
            removed += 1
        except OSError as exc:
            log.warning("retention: could not remove a stored file: %s", type(exc).__name__)
    return removed

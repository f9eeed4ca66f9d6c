"""Writing and verifying the audit chain.

Services call `record` as they change things. Entries are chained when the transaction
commits, so the chain head is locked for the commit only, not for a whole request, and a
rolled-back change leaves no audit entry behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from casebridge import clock
from casebridge.canonical import canonical_json, jsonable
from storage.actors import Actor
from storage.audit.models import GENESIS_HASH, AuditAction, AuditChainHead, AuditEntry
from storage.base import Base
from storage.bulk import insert_rows

_PENDING = "casebridge.audit.pending"


@dataclass
class _PendingEntry:
    actor: Actor
    action: AuditAction
    occurred_at: datetime
    entity: Base | None
    entity_type: str
    entity_id: str | None
    case_id: int | None
    changes: dict[str, Any] = field(default_factory=dict)
    # The SAVEPOINT it was recorded in, if any: rolling that back drops only its entries.
    savepoint: SessionTransaction | None = None


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    *,
    entity: Base | None = None,
    entity_type: str | None = None,
    entity_id: object = None,
    case_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Queue an audit entry for this transaction. `entity` may be new: its id is read at commit."""
    if entity is None and entity_type is None:
        raise ValueError("an audit entry names an entity or an entity type")
    changes = {
        key: value
        for key, value in (("before", before), ("after", after), ("detail", detail))
        if value is not None
    }
    session.info.setdefault(_PENDING, []).append(
        _PendingEntry(
            actor=actor,
            action=action,
            occurred_at=clock.now(),
            entity=entity,
            entity_type=entity_type or type(entity).__tablename__,  # type: ignore[union-attr]
            entity_id=None if entity_id is None else str(entity_id),
            case_id=case_id,
            changes=changes,
            savepoint=session.get_nested_transaction(),
        )
    )


def snapshot(obj: Base, fields: list[str]) -> dict[str, Any]:
    """The named attributes as JSON-ready values, for before/after pictures."""
    return {name: jsonable(getattr(obj, name)) for name in fields}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only what differs, so an audit entry says what changed rather than everything."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


@event.listens_for(Session, "before_commit")
def _seal_pending_entries(session: Session) -> None:
    if session.in_nested_transaction():
        # Releasing a SAVEPOINT (e.g. the outbox's) is not the commit: the entries wait for
        # the transaction's own commit, so a rollback around the SAVEPOINT still drops only
        # what it undid. (So commit with no SAVEPOINT open, or the entries stay queued.)
        return
    pending: list[_PendingEntry] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # new entities get their ids
    head = session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        session.add(head)
    rows = []
    for item in pending:
        entity_id = item.entity_id
        if entity_id is None and item.entity is not None:
            identity = inspect(item.entity).identity
            entity_id = "/".join(str(part) for part in identity) if identity else None
        entry = AuditEntry(
            seq=head.last_seq + 1,
            occurred_at=item.occurred_at,
            actor_user_id=item.actor.user_id,
            actor_agency_id=item.actor.agency_id,
            actor_label=item.actor.label,
            action=item.action,
            entity_type=item.entity_type,
            entity_id=entity_id,
            case_id=item.case_id,
            changes=canonical_json(item.changes),
            ip_address=item.actor.ip_address,
            request_id=item.actor.request_id,
            prev_hash=head.last_hash,
        )
        entry.entry_hash = entry_digest(entry)
        rows.append({column: getattr(entry, column) for column in _ENTRY_COLUMNS})
        head.last_seq = entry.seq
        head.last_hash = entry.entry_hash
    # One bulk INSERT, not a unit-of-work flush per entry: a sweep seals thousands at once.
    insert_rows(session, AuditEntry.__table__, rows)


_ENTRY_COLUMNS = tuple(c.key for c in AuditEntry.__table__.columns if c.key != "id")


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_entries(session: Session, previous_transaction: SessionTransaction) -> None:
    # What was rolled back: the whole transaction, or only a SAVEPOINT (a failed flush rolls
    # back its own sub-transaction, which ends at the nearest SAVEPOINT or the outermost).
    boundary = previous_transaction
    while not boundary.nested and boundary.parent is not None:
        boundary = boundary.parent
    if not boundary.nested:
        session.info.pop(_PENDING, None)
        return
    # A rolled-back SAVEPOINT undoes only what was done inside it; the entries of work done
    # before it will still commit and must still be written.
    pending: list[_PendingEntry] | None = session.info.get(_PENDING)
    if pending:
        pending[:] = [p for p in pending if not _within(p.savepoint, boundary)]


def _within(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def entry_digest(entry: AuditEntry) -> str:
    occurred = entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    material = canonical_json(
        {
            "seq": entry.seq,
            "occurred_at": occurred,
            "actor_user_id": entry.actor_user_id,
            "actor_agency_id": entry.actor_agency_id,
            "actor_label": entry.actor_label,
            "action": AuditAction(entry.action).value,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "case_id": entry.case_id,
            "changes": entry.changes,
            "ip_address": entry.ip_address,
            "request_id": entry.request_id,
            "prev_hash": entry.prev_hash,
        }
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_seq: int
    broken_seq: int | None = None
    broken_entry_id: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.reason is None


def verify_chain(
    session: Session,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Walk the chain in order and report the first entry that was edited, removed or added."""
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    # populate_existing: judge what the database holds, not objects this session already has.
    head = session.get(AuditChainHead, 1, populate_existing=True)
    rows = session.execute(
        select(AuditEntry)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size, populate_existing=True)
    ).scalars()
    for entry in rows:
        if entry.seq != expected_seq:
            return ChainReport(
                checked, expected_seq - 1, entry.seq, entry.id,
                f"entries {expected_seq} to {entry.seq - 1} are missing before entry {entry.seq}",
            )
        if entry.prev_hash != prev_hash:
            return ChainReport(
                checked, entry.seq - 1, entry.seq, entry.id,
                f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                "an entry was removed, inserted or re-written",
            )
        if entry_digest(entry) != entry.entry_hash:
            return ChainReport(
                checked, entry.seq - 1, entry.seq, entry.id,
                f"entry {entry.seq} was altered after it was written",
            )
        prev_hash, expected_seq, checked = entry.entry_hash, entry.seq + 1, checked + 1
        if progress and checked % batch_size == 0:
            progress(checked, total)
        session.expunge(entry)
    if progress:
        progress(checked, total)
    last_seq = expected_seq - 1
    if head is not None and (head.last_seq != last_seq or head.last_hash != prev_hash):
        return ChainReport(
            checked, last_seq, last_seq + 1, None,
            f"the chain head records {head.last_seq} entries but only {last_seq} remain: "
            "entries were removed from the end",
        )
    return ChainReport(checked, last_seq)

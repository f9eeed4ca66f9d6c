"""Searching, exporting and verifying the audit log for auditors.

The log can hold millions of entries, so every read is keyset-paged on `seq` (newest
first): a page is "the next N entries older than seq X", never an OFFSET, and an export
walks the same way in batches without holding the log in memory.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from casebridge import clock
from storage.audit.models import (
    GENESIS_HASH,
    AuditAction,
    AuditChainHead,
    AuditEntry,
    AuditVerification,
)
from storage.audit.services import ChainReport, ChainWalk

# The most entries a verification asked for on a web page may walk (a full walk is the CLI's).
WEB_VERIFY_LIMIT = 200_000


@dataclass(frozen=True)
class AuditFilters:
    """What an auditor searches by; None means any. `until` is exclusive."""

    user_id: int | None = None
    agency_id: int | None = None
    action: AuditAction | None = None
    case_id: int | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.user_id is not None:
            clauses.append(AuditEntry.actor_user_id == self.user_id)
        if self.agency_id is not None:
            clauses.append(AuditEntry.actor_agency_id == self.agency_id)
        if self.action is not None:
            clauses.append(AuditEntry.action == self.action)
        if self.case_id is not None:
            clauses.append(AuditEntry.case_id == self.case_id)
        if self.entity_type:
            clauses.append(AuditEntry.entity_type == self.entity_type)
        if self.entity_id:
            clauses.append(AuditEntry.entity_id == self.entity_id)
        if self.since is not None:
            clauses.append(AuditEntry.occurred_at >= self.since)
        if self.until is not None:
            clauses.append(AuditEntry.occurred_at < self.until)
        return clauses

    def described(self) -> dict[str, Any]:
        """The filters as an audit entry's detail (ids, codes and dates: nothing personal)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else str(v))
                for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    older_than: int | None  # the seq to ask for the next (older) page from; None: no more


def search(session: Session, filters: AuditFilters, *, before_seq: int | None = None,
           limit: int = 50) -> Page:
    query = select(AuditEntry).where(*filters.where())
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    rows = list(session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].seq if more and rows else None)


def iter_entries(session: Session, filters: AuditFilters, *,
                 batch_size: int = 1000) -> Iterator[AuditEntry]:
    """Every matching entry, newest first, one keyset batch at a time."""
    before: int | None = None
    while True:
        page = search(session, filters, before_seq=before, limit=batch_size)
        yield from page.entries
        session.expunge_all()
        if page.older_than is None:
            return
        before = page.older_than


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


def masked(changes: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """The changes with answers to fields restricted from the reader shown as "(restricted)"
    (stage answers are audited under form_data)."""
    if not hidden:
        return changes
    out = dict(changes)
    for side in ("before", "after"):
        values = out.get(side)
        if isinstance(values, dict) and isinstance(values.get("form_data"), dict):
            answers = values["form_data"]
            out[side] = {**values, "form_data": {
                k: "(restricted)" if k in hidden else v for k, v in answers.items()}}
    return out


def readable_changes(entry: AuditEntry, hidden: frozenset[str] = frozenset()
                     ) -> tuple[list[Change], dict[str, Any]]:
    """An entry's before/after as one row per field that changed, and its other details;
    answers under `hidden` keys masked."""
    try:
        changes = masked(json.loads(entry.changes or "{}"), hidden)
    except ValueError:
        return [], {}
    before, after = changes.get("before") or {}, changes.get("after") or {}
    fields = list(dict.fromkeys([*before, *after]))
    rows = [Change(name, _show(before.get(name, "")), _show(after.get(name, "")))
            for name in fields]
    return rows, changes.get("detail") or {}


def redaction_of(entry: AuditEntry) -> dict[str, Any] | None:
    """Why a redacted entry's text went ({"redacted": reason, "review": id}); None if not."""
    if entry.redacted_at is None:
        return None
    try:
        mark = json.loads(entry.changes)
    except ValueError:
        return {}
    return mark if isinstance(mark, dict) else {}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


CSV_COLUMNS = ("seq", "occurred_at", "actor_label", "actor_user_id", "actor_agency_id",
               "action", "entity_type", "entity_id", "case_id", "ip_address", "request_id",
               "changes", "entry_hash", "redacted_at")


def csv_row(entry: AuditEntry, hidden: frozenset[str] = frozenset()) -> list[str]:
    values = []
    for column in CSV_COLUMNS:
        value = getattr(entry, column)
        if column == "changes" and hidden and value and '"form_data"' in value:
            with contextlib.suppress(ValueError):
                value = json.dumps(masked(json.loads(value), hidden), ensure_ascii=False,
                                   sort_keys=True, separators=(",", ":"))
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, AuditAction):
            value = value.value
        text = "" if value is None else str(value)
        # A spreadsheet runs a cell starting with = + - @ as a formula: never let it.
        if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            text = "'" + text
        values.append(text)
    return values


# --- verification -----------------------------------------------------------------------------


def last_seq(session: Session) -> int:
    head = session.get(AuditChainHead, 1, populate_existing=True)
    return head.last_seq if head is not None else 0


def verify_range(session: Session, from_seq: int, to_seq: int) -> ChainReport:
    """Check entries from_seq..to_seq: each follows the one before it and is unaltered. The
    entry before from_seq is trusted as the anchor (the full walk is `casebridge audit
    verify`); a missing entry inside the range, or at its end before the head, is reported.
    A redacted entry counts as intact when a redaction entry in the range proves it."""
    from_seq = max(from_seq, 1)
    if from_seq == 1:
        prev_hash = GENESIS_HASH
    else:
        prev_hash = session.scalar(
            select(AuditEntry.entry_hash).where(AuditEntry.seq == from_seq - 1))
        if prev_hash is None:
            return ChainReport(0, from_seq - 1, from_seq - 1, None,
                               f"entry {from_seq - 1} is missing")
    walk = ChainWalk(from_seq=from_seq, prev_hash=prev_hash)
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.seq.between(from_seq, to_seq))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=2000, populate_existing=True)).scalars()
    for entry in rows:
        broken = walk.step(entry)
        if broken is not None:
            return broken
        session.expunge(entry)
    if walk.expected <= to_seq:
        return ChainReport(walk.checked, walk.expected - 1, walk.expected, None,
                           f"entries {walk.expected} to {to_seq} are missing", walk.redacted)
    # An entry redacted after to_seq has its redaction entry beyond the range.
    return walk.finish(complete=to_seq >= last_seq(session))


def record_verification(session: Session, report: ChainReport, *, from_seq: int, to_seq: int,
                        actor_label: str) -> AuditVerification:
    row = AuditVerification(verified_at=clock.now(), from_seq=from_seq, to_seq=to_seq,
                            checked=report.checked, redacted=report.redacted,
                            intact=report.intact,
                            reason=report.reason, actor_label=actor_label)
    session.add(row)
    session.flush()
    return row


def last_verification(session: Session) -> AuditVerification | None:
    return session.scalars(select(AuditVerification)
                           .order_by(AuditVerification.verified_at.desc(),
                                     AuditVerification.id.desc()).limit(1)).first()

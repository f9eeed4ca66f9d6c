"""Writing, verifying and redacting the audit chain.

Services call `record` as they change things. Entries are chained when the transaction
commits, so the chain head is locked for the commit only, not for a whole request, and a
rolled-back change leaves no audit entry behind.

Redaction (personal data past its retention must go, the evidence must not): a version 2
entry's hash covers `changes_digest`, the SHA-256 of its `changes` text, not the text. So
the text can be replaced by a fixed mark and `redacted_at` set while the entry's hash, and
every link after it, still verify. Nothing but the mark tells a redacted entry from an
edited one, so the mark is itself proved: `redact` writes one redaction entry (chained like
any other, with no personal data) listing the seqs it redacted, the mark and time it wrote,
and a witness, a SHA-256 over each redacted entry's seq and `sealed_digest` (every field
but the text). The verifier gathers the entries marked redacted by their mark and time (seqs
and a running witness, not the entries) until the redaction entry that lists them, and
reports one that no redaction entry lists, whose mark differs, or whose fields no longer
match the witness. A mark and time identify one redaction (`redact` is called once per
retention review).

Version 1 entries (written before migration 0013) keep their old hash over the text: they
verify as before while unredacted. Once redacted their own hash cannot be recomputed, so
they are proved by the witness alone, which `redact` computes only after checking the
entry against its version 1 hash (a tampered entry is never redacted: that would launder
the tampering).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, event, func, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction

from casebridge import clock
from casebridge.canonical import canonical_json, jsonable
from storage.actors import Actor
from storage.audit.models import (
    GENESIS_HASH,
    HASH_VERSION_DIGEST,
    HASH_VERSION_TEXT,
    AuditAction,
    AuditChainHead,
    AuditEntry,
)
from storage.base import Base
from storage.bulk import insert_rows
from storage.errors import InvalidState

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
    digest = changes_digest
    for item in pending:
        changes = canonical_json(item.changes)
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
            changes=changes,
            changes_digest=digest(changes),
            hash_version=HASH_VERSION_DIGEST,
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


# An entry is written whole, never redacted (NULL): redacted_at is left to its default.
_ENTRY_COLUMNS = tuple(c.key for c in AuditEntry.__table__.columns
                       if c.key not in ("id", "redacted_at"))


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


def changes_digest(changes: str) -> str:
    return hashlib.sha256(changes.encode("utf-8")).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    """The fields every version hashes, as written (all but the changes)."""
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_user_id": entry.actor_user_id,
        "actor_agency_id": entry.actor_agency_id,
        "actor_label": entry.actor_label,
        "action": AuditAction(entry.action).value,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "case_id": entry.case_id,
        "ip_address": entry.ip_address,
        "request_id": entry.request_id,
        "prev_hash": entry.prev_hash,
    }


def _sha256(material: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def entry_digest(entry: AuditEntry) -> str:
    """The entry's hash by its own version: 1 covers the text, 2 covers the text's digest."""
    fields = _fields(entry)
    if entry.hash_version == HASH_VERSION_TEXT:
        return _sha256(fields | {"changes": entry.changes})  # exactly as before 0013
    if entry.hash_version == HASH_VERSION_DIGEST:
        return _sha256(fields | {"changes_digest": entry.changes_digest, "hash_version": 2})
    raise ValueError(f"audit entry {entry.seq} has unknown hash version {entry.hash_version}")


def sealed_digest(entry: AuditEntry) -> str:
    """What a redaction vouches for: every field of the entry except its text."""
    return _sha256(_fields(entry) | {"changes_digest": entry.changes_digest,
                                     "hash_version": entry.hash_version,
                                     "entry_hash": entry.entry_hash})


def _witness_line(seq: int, sealed: str) -> bytes:
    """One redacted entry's part of its redaction's witness: a SHA-256 over these lines in
    seq order, so a verifier can build it as it walks, holding no entry."""
    return f"{seq}:{sealed}\n".encode("ascii")


def redaction_mark(reason: str, review: int | None) -> str:
    """The text a redacted entry keeps: why, and the decision that allowed it."""
    return canonical_json({"redacted": reason, "review": review})


def _altered(entry: AuditEntry) -> bool:
    """Does the entry fail its own checks? (A redacted version 1 entry has none of its own:
    its redaction entry's witness proves it.)"""
    if entry.redacted_at is None:
        return (changes_digest(entry.changes) != entry.changes_digest
                or entry_digest(entry) != entry.entry_hash)
    return entry.hash_version != HASH_VERSION_TEXT and entry_digest(entry) != entry.entry_hash


# --- redaction --------------------------------------------------------------------------------

REDACTION_ENTITY = "audit_entries"  # the entity type of a redaction entry
_REDACT_BATCH = 500


class AuditChainBroken(InvalidState):
    """An entry to be redacted no longer matches its hash: redacting it would hide that."""


def _ranges(seqs: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def redact(
    session: Session,
    actor: Actor,
    condition: ColumnElement[bool],
    *,
    reason: str,
    review: int | None = None,
    case_id: int | None = None,
) -> list[int]:
    """Replace the `changes` of every sealed entry matching `condition` by the redaction
    mark, in the caller's transaction, and record one redaction entry listing them (ids,
    seqs and the witness: nothing personal). Returns the seqs redacted, oldest first.

    Entries already redacted and redaction entries themselves are left alone. Only sealed
    entries are redacted: entries still pending in this transaction are not yet written.
    Raises AuditChainBroken, before changing anything, if a matching entry fails its hash.
    """
    redacted_at = clock.now()
    mark = redaction_mark(reason, review)
    rows = session.execute(
        select(AuditEntry)
        .where(condition, AuditEntry.redacted_at.is_(None),
               AuditEntry.entity_type != REDACTION_ENTITY)
        .order_by(AuditEntry.seq)
        .with_for_update()  # two redactions of one entry would both list it
        .execution_options(yield_per=_REDACT_BATCH, populate_existing=True)
    ).scalars()
    witness = hashlib.sha256()
    seqs: list[int] = []
    ids: list[int] = []
    for entry in rows:
        if _altered(entry):
            raise AuditChainBroken(
                f"Audit entry {entry.seq} was altered after it was written, so it cannot be "
                "redacted. Run `casebridge audit verify` and tell your administrator.")
        witness.update(_witness_line(entry.seq, sealed_digest(entry)))
        seqs.append(entry.seq)
        ids.append(entry.id)
        session.expunge(entry)
    if not ids:
        return []
    for start in range(0, len(ids), _REDACT_BATCH):
        session.execute(update(AuditEntry)
                        .where(AuditEntry.id.in_(ids[start:start + _REDACT_BATCH]))
                        .values(changes=mark, redacted_at=redacted_at)
                        .execution_options(synchronize_session=False))
    record(session, actor, AuditAction.UPDATE, entity_type=REDACTION_ENTITY, case_id=case_id,
           detail={"redaction": {
               "reason": reason, "review": review,
               "redacted_at": redacted_at.astimezone(UTC).isoformat(timespec="microseconds"),
               "count": len(seqs), "seqs": _ranges(seqs), "witness": witness.hexdigest()}})
    return seqs


def _redaction_of(entry: AuditEntry) -> dict[str, Any] | None:
    """The redaction an (unredacted, verified) entry records, if it is a redaction entry."""
    if entry.entity_type != REDACTION_ENTITY or entry.redacted_at is not None:
        return None
    try:
        found = json.loads(entry.changes).get("detail", {}).get("redaction")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, dict) else None


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_seq: int
    broken_seq: int | None = None
    broken_entry_id: int | None = None
    reason: str | None = None
    redacted: int = 0  # of those checked, entries redacted (and proved so)

    @property
    def intact(self) -> bool:
        return self.reason is None


@dataclass
class _Redacted:
    """Entries carrying one redaction's mark and time, seen so far, awaiting its entry."""

    first_id: int
    seqs: array = field(default_factory=lambda: array("q"))
    witness: Any = field(default_factory=hashlib.sha256)


class ChainWalk:
    """One walk along the chain in seq order, shared by the full check and the web's check
    of the newest entries. `from_seq` > 1 trusts the entry before it as the anchor; then a
    redaction that also covers entries before the range cannot prove its witness, and only
    the marks of the entries in range are checked.

    An entry marked redacted is proved later, by its redaction entry, so the walk keeps the
    marked entries of each redaction (known by its mark and time) as a list of seqs and a
    running witness: eight bytes an entry, whatever the chain's length."""

    def __init__(self, *, from_seq: int = 1, prev_hash: str = GENESIS_HASH) -> None:
        self.from_seq = from_seq
        self.expected = from_seq
        self.prev_hash = prev_hash
        self.checked = 0
        self.redacted = 0
        self._waiting: dict[tuple[str, str], _Redacted] = {}

    def _broken(self, seq: int, entry_id: int | None, reason: str) -> ChainReport:
        return ChainReport(self.checked, seq - 1, seq, entry_id, reason, self.redacted)

    def step(self, entry: AuditEntry) -> ChainReport | None:
        """Check the next entry; a report if the chain is broken at or before it."""
        if entry.seq != self.expected:
            return ChainReport(
                self.checked, self.expected - 1, entry.seq, entry.id,
                f"entries {self.expected} to {entry.seq - 1} are missing before entry "
                f"{entry.seq}", self.redacted)
        if entry.prev_hash != self.prev_hash:
            return self._broken(entry.seq, entry.id,
                                f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                                "an entry was removed, inserted or re-written")
        if _altered(entry):
            return self._broken(entry.seq, entry.id,
                                f"entry {entry.seq} was altered after it was written")
        if entry.redacted_at is not None:
            key = (entry.changes,
                   entry.redacted_at.astimezone(UTC).isoformat(timespec="microseconds"))
            group = self._waiting.get(key)
            if group is None:
                group = self._waiting[key] = _Redacted(entry.id)
            group.seqs.append(entry.seq)
            group.witness.update(_witness_line(entry.seq, sealed_digest(entry)))
            self.redacted += 1
        elif (redaction := _redaction_of(entry)) is not None:
            problem = self._settle(entry.seq, redaction)
            if problem is not None:
                return problem
        self.prev_hash, self.expected = entry.entry_hash, entry.seq + 1
        self.checked += 1
        return None

    def _settle(self, seq: int, redaction: dict[str, Any]) -> ChainReport | None:
        """Match a redaction entry against the entries marked with its mark and time."""
        try:
            listed = [n for a, b in redaction["seqs"] for n in range(int(a), int(b) + 1)]
            key = (redaction_mark(redaction["reason"], redaction["review"]),
                   str(redaction["redacted_at"]))
            witness = redaction["witness"]
        except (KeyError, TypeError, ValueError):
            return None  # not a redaction this code wrote (its hash holds): nothing to match
        in_range = [n for n in listed if n >= self.from_seq]
        group = self._waiting.pop(key, None)
        marked = list(group.seqs) if group is not None else []
        if marked != in_range:
            n = min(set(marked).symmetric_difference(in_range))
            if n in marked:
                return self._broken(n, None, f"entry {n} is marked redacted but no "
                                    "redaction entry records it: it was altered")
            if any(n in other.seqs for other in self._waiting.values()):
                return self._broken(n, None, f"the redaction mark of entry {n} was altered")
            return self._broken(n, None, f"entry {n} is listed as redacted by entry {seq} "
                                "but is not marked redacted: it was altered")
        if group is not None and len(in_range) == len(listed) \
                and group.witness.hexdigest() != witness:
            return self._broken(listed[0], group.first_id,
                                f"an entry redacted by entry {seq} (entries {listed[0]} to "
                                f"{listed[-1]}) was altered after redaction")
        return None

    def finish(self, *, complete: bool) -> ChainReport:
        """The result once every entry was stepped. `complete`: the walk reached the chain
        head, so an entry still marked but never listed by a redaction entry is forged."""
        if complete and self._waiting:
            group = min(self._waiting.values(), key=lambda g: g.seqs[0])
            n = group.seqs[0]
            return self._broken(n, group.first_id,
                                f"entry {n} is marked redacted but no redaction entry "
                                "records it: it was altered")
        return ChainReport(self.checked, self.expected - 1, redacted=self.redacted)


def verify_chain(
    session: Session,
    *,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Walk the chain in order and report the first entry that was edited, removed or added.
    Redacted entries count as intact when their redaction entry proves them (`redacted`)."""
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    walk = ChainWalk()
    # populate_existing: judge what the database holds, not objects this session already has.
    head = session.get(AuditChainHead, 1, populate_existing=True)
    rows = session.execute(
        select(AuditEntry)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch_size, populate_existing=True)
    ).scalars()
    for entry in rows:
        broken = walk.step(entry)
        if broken is not None:
            return broken
        if progress and walk.checked % batch_size == 0:
            progress(walk.checked, total)
        session.expunge(entry)
    if progress:
        progress(walk.checked, total)
    last_seq = walk.expected - 1
    # Before the redactions are settled: a lost tail may have held their redaction entry.
    if head is not None and (head.last_seq != last_seq or head.last_hash != walk.prev_hash):
        return ChainReport(
            walk.checked, last_seq, last_seq + 1, None,
            f"the chain head records {head.last_seq} entries but only {last_seq} remain: "
            "entries were removed from the end", walk.redacted,
        )
    return walk.finish(complete=True)

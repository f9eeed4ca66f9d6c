"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting
or inserting any entry breaks every later link. The one-row chain head holds the newest
sequence number and hash: appending locks it, which keeps the chain a line, and a deleted
tail shows up as a head that points past the last entry.

Redaction: from hash version 2 the hash covers a SHA-256 of `changes` rather than the text,
so personal data past its retention can be blanked (text replaced by a fixed mark,
`redacted_at` set) while every link, and every other field of the entry, stays provable.
Version 1 entries (written before migration 0013) keep their old hashing; see
storage/audit/services.py for how a redacted one stays tamper-evident.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, enum_column, intpk

GENESIS_HASH = "0" * 64
# 1: the hash covers the `changes` text (entries written before migration 0013).
# 2: the hash covers `changes_digest`, so the text can be redacted without breaking the chain.
HASH_VERSION_TEXT = 1
HASH_VERSION_DIGEST = 2


class AuditAction(enum.StrEnum):
    VIEW = "view"
    SEARCH = "search"
    EXPORT = "export"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    ACCESS_DENIED = "access_denied"


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("length(entry_hash) = 64", name="entry_hash_sha256"),
        CheckConstraint("length(prev_hash) = 64", name="prev_hash_sha256"),
        CheckConstraint("length(changes_digest) = 64", name="changes_digest_sha256"),
        CheckConstraint("hash_version IN (1, 2)", name="hash_version_known"),
        Index("ix_audit_entries_entity", "entity_type", "entity_id"),
        # The auditors' search by agency, newest first (web/audit).
        Index("ix_audit_entries_agency_seq", "actor_agency_id", "seq"),
    )

    id: Mapped[intpk]
    # Position in the chain; unique so two writers can never fork it.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("users.id"), index=True
    )
    actor_agency_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[AuditAction] = enum_column(AuditAction)
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(BigIntKey, index=True)
    # Canonical JSON of {"before": ..., "after": ..., "detail": ...}; once redacted, the
    # mark {"redacted": <reason>, "review": <id>} instead.
    changes: Mapped[str] = mapped_column(Text)
    # SHA-256 (hex) of `changes` as written: what a version 2 hash covers.
    changes_digest: Mapped[str] = mapped_column(String(64))
    hash_version: Mapped[int] = mapped_column(Integer)
    # Set when `changes` was replaced by the redaction mark (an audited redaction entry
    # later in the chain lists this entry); None for an entry as written.
    redacted_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    __tablename__ = "audit_chain_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class AuditVerification(Base):
    """One run of the chain check (`casebridge audit verify`, or an auditor on /audit), so
    the audit page can say when the chain was last proved intact and over which entries."""

    __tablename__ = "audit_verifications"
    __table_args__ = (CheckConstraint("to_seq >= from_seq - 1", name="range_in_order"),)

    id: Mapped[intpk]
    verified_at: Mapped[datetime] = mapped_column(index=True)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int] = mapped_column(BigInteger)
    checked: Mapped[int] = mapped_column(BigInteger)
    intact: Mapped[bool]
    # Of those checked, how many were redacted (proved by their redaction entries).
    redacted: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_label: Mapped[str] = mapped_column(String(120))

"""The append-only, hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting
or inserting any entry breaks every later link. The one-row chain head holds the newest
sequence number and hash: appending locks it, which keeps the chain a line, and a deleted
tail shows up as a head that points past the last entry.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, enum_column, intpk

GENESIS_HASH = "0" * 64


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
    # Canonical JSON of {"before": ..., "after": ..., "detail": ...}: hashed byte for byte.
    changes: Mapped[str] = mapped_column(Text)
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
    reason: Mapped[str | None] = mapped_column(Text)
    actor_label: Mapped[str] = mapped_column(String(120))

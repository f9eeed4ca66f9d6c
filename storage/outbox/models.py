"""Side effects (e-mail, referrals, webhooks, letters) written in the same transaction as the
change that causes them, and carried out later by the dispatcher exactly once."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, created_at, enum_column, intpk


class EffectKind(enum.StrEnum):
    EMAIL = "email"
    NOTIFY_AGENCY = "notify_agency"
    CREATE_ACTIONS = "create_actions"
    REFERRAL = "referral"
    WEBHOOK = "webhook"
    LETTER = "letter"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"  # gave up after the last retry; needs a person


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(status = 'claimed') = (lease_expires_at IS NOT NULL)", name="lease_iff_claimed"
        ),
        CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)", name="completed_at_iff_done"
        ),
        CheckConstraint("status <> 'failed' OR last_error IS NOT NULL", name="failure_has_error"),
        # The dispatcher's claim query: pending rows that are due, oldest first.
        Index("ix_outbox_status_available", "status", "available_at"),
    )

    id: Mapped[intpk]
    # Same key, same effect: a retried request or sweep cannot queue the e-mail twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[EffectKind] = enum_column(EffectKind)
    # Ids and template names, not personal data: the dispatcher loads what it needs.
    payload: Mapped[dict[str, Any]]
    case_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]

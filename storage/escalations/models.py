"""Escalations of deadlines: one row per deadline, due date and level, ever.

The unique key is what makes the sweep safe to run as often as we like: a second run, or two
sweeps at once, cannot record (and so cannot e-mail) the same escalation twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rules.escalations import Level
from storage.base import Base, BigIntKey, JSONDocument, created_at, enum_column, intpk


class Escalation(Base):
    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(
            "(stage_instance_id IS NULL) <> (action_id IS NULL)", name="one_deadline"
        ),
    )

    id: Mapped[intpk]
    # "stage:{id}:due:{due_at}:{level}" or "action:...": also the outbox idempotency key.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    stage_instance_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("stage_instances.id", ondelete="CASCADE"), index=True
    )
    action_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("actions.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[Level] = enum_column(Level)
    # The deadline as it stood: if it moves, the e-mail is not sent (a new escalation is).
    due_at: Mapped[datetime]
    # Who was told, as user ids (looked up again at send time, so a leaver gets nothing).
    recipient_user_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    # No one person owes the work: the agency's contact address (or its active users).
    notify_agency_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    created_at: Mapped[created_at]

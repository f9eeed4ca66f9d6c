"""The retention review list. The sweep only ever adds rows; a person decides each one
(delete, or keep for a while with a reason). A row outlives its case: it keeps the case's
reference and type (nothing personal), so the list can say what was deleted, when and by
whom."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, created_at, enum_column, intpk


class RetentionOutcome(enum.StrEnum):
    REVIEW = "review"  # the schedule says: look at it again
    DELETE = "delete"  # the schedule says: delete it (still only once someone approves)


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    DELETED = "deleted"
    KEPT = "kept"


class RetentionReview(Base):
    __tablename__ = "retention_reviews"
    __table_args__ = (
        CheckConstraint("status <> 'kept' OR (keep_until IS NOT NULL AND reason IS NOT NULL)",
                        name="kept_has_date_and_reason"),
        CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="decided_has_time"),
        # One review per case per due date: two sweeps at once add it once.
        Index("uq_retention_reviews_case_due", "case_id", "due_on", unique=True),
        Index("ix_retention_reviews_status", "status", "due_on"),
    )

    id: Mapped[intpk]
    # SET NULL: the review stays as the record of the decision once the case is gone.
    case_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="SET NULL"))
    case_reference: Mapped[str] = mapped_column(String(32))
    case_type: Mapped[str] = mapped_column(String(40))
    owning_agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"),
                                                  index=True)
    closed_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[RetentionOutcome] = enum_column(RetentionOutcome)
    rule_years: Mapped[int] = mapped_column(Integer)
    status: Mapped[ReviewStatus] = enum_column(ReviewStatus, default=ReviewStatus.PENDING)
    keep_until: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

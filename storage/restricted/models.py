"""Restricted cases: who else has been let in (grants, each with an expiry), and the
requests to be let in that the owning agency's managers decide."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.base import Base, BigIntKey, enum_column, intpk
from storage.cases.models import Case


class AccessRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class AccessRequest(Base):
    """A user asking to see a restricted case, with their reason, and the owner's answer."""

    __tablename__ = "access_requests"
    __table_args__ = (
        CheckConstraint("length(trim(reason)) > 0", name="reason_not_blank"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)",
                        name="decided_at_iff_decided"),
        CheckConstraint("status <> 'declined' OR decision_reason IS NOT NULL",
                        name="decline_has_reason"),
        Index("ix_access_requests_case_status", "case_id", "status"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("users.id"), index=True)
    requesting_agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AccessRequestStatus] = enum_column(
        AccessRequestStatus, default=AccessRequestStatus.PENDING)
    requested_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    requesting_agency: Mapped[Agency] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class AccessGrant(Base):
    """An agency let in to a restricted case, until `expires_at`. On a restricted case an
    ordinary share is not enough: only the owner and agencies granted here see it."""

    __tablename__ = "access_grants"
    __table_args__ = (
        CheckConstraint("expires_at > granted_at", name="expires_after_granted"),
        Index("ix_access_grants_case_agency", "case_id", "agency_id"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    request_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("access_requests.id", ondelete="SET NULL"))
    granted_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]

"""Minimum standards in the database: the published versions (kept for ever), the calendar
table the clocks are measured on, the periods cases spent paused, the escalations recorded
(once each, under a unique key), the daily digests owed, and who the agencies' single points
of contact and the partnership leads are."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, JSONDocument, created_at, enum_column, intpk


class StandardsStatus(enum.StrEnum):
    PUBLISHED = "published"
    RETIRED = "retired"


class StandardsVersion(Base):
    """A published version of a partnership's standards file. Never changed: a new version
    is a new row; the newest published one is in force."""

    __tablename__ = "standards_versions"
    __table_args__ = (
        UniqueConstraint("partnership", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("length(content_hash) = 64", name="content_hash_sha256"),
    )

    id: Mapped[intpk]
    partnership: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(300))
    # The calendar table rows its clocks use (calendar_days.calendar).
    calendar_key: Mapped[str] = mapped_column(String(32))
    status: Mapped[StandardsStatus] = enum_column(
        StandardsStatus, default=StandardsStatus.PUBLISHED)
    published_at: Mapped[datetime]
    published_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))


class CalendarDay(Base):
    """One day of a working calendar with its running working-day number, so "N working
    days after X" is a join. Instants are UTC, computed from the local working hours."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        Index("ix_calendar_days_ends", "calendar", "ends_at"),
        Index("ix_calendar_days_working_number", "calendar", "wd_number", "working"),
    )

    calendar: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    day_number: Mapped[int] = mapped_column(Integer)  # days since 2000-01-01
    working: Mapped[bool]
    # Working days up to and including this day: equal on a closed day and the working
    # day before it, one more on each working day.
    wd_number: Mapped[int] = mapped_column(Integer)
    begins_at: Mapped[datetime]  # local midnight
    ends_at: Mapped[datetime]  # the next local midnight
    closes_at: Mapped[datetime]  # close of business (also on a closed day, unused there)


class CasePause(Base):
    """A period a case spent paused: standards' clocks stop for it."""

    __tablename__ = "case_pauses"
    __table_args__ = (
        CheckConstraint("resumed_at IS NULL OR resumed_at >= paused_at",
                        name="resumed_after_paused"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]


class StandardEscalation(Base):
    """One level of one breach (or warning) of a standard, recorded once under its key:
    std:<standard>:case:<id>[:action:<id>]:from:<clock start>:level:<n>."""

    __tablename__ = "standard_escalations"
    __table_args__ = (
        CheckConstraint("level >= 0", name="level_not_negative"),
        Index("ix_standard_escalations_standard", "standard", "created_at"),
    )

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(200), unique=True)
    standards_version_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("standards_versions.id"))
    standard: Mapped[str] = mapped_column(String(60))
    level: Mapped[int] = mapped_column(Integer)  # 0 warning, 1 breach, 2.. further levels
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]  # when the clock started
    due_at: Mapped[datetime]  # the standard's deadline, paused time added
    # Who is e-mailed at once, and who hears in tomorrow's digest (user ids only).
    recipient_user_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    digest_user_ids: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    # No one person owes the work: the agency that does is told.
    notify_agency_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    created_at: Mapped[created_at]


class DigestItem(Base):
    """An escalation one user hears about in a daily digest; digest_on is the day of the
    digest that took it (NULL: not yet sent)."""

    __tablename__ = "escalation_digest_items"
    __table_args__ = (
        UniqueConstraint("escalation_id", "user_id"),
        Index("ix_escalation_digest_items_pending", "user_id", "digest_on"),
    )

    id: Mapped[intpk]
    escalation_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("standard_escalations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("users.id"))
    digest_on: Mapped[date | None] = mapped_column(Date)


class ContactKind(enum.StrEnum):
    SPOC = "spoc"  # an agency's single point of contact
    PARTNERSHIP_LEAD = "partnership_lead"


class EscalationContact(Base):
    """Who a ladder's `spoc` (per agency) and `partnership_lead` mean."""

    __tablename__ = "escalation_contacts"
    __table_args__ = (
        UniqueConstraint("kind", "agency_id", "user_id"),
        CheckConstraint("(kind = 'spoc') = (agency_id IS NOT NULL)", name="spoc_has_agency"),
    )

    id: Mapped[intpk]
    kind: Mapped[ContactKind] = enum_column(ContactKind)
    agency_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("agencies.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("users.id"))
    created_at: Mapped[created_at]

"""Panels and meetings (MARAC, ASB risk panels, Case Review panels): an agenda of cases,
who attended, minutes per case, and the actions that leave the room with an owner."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, BigIntKey, created_at, enum_column, intpk, updated_at


class MeetingKind(enum.StrEnum):
    MARAC = "marac"
    ASBRAC = "asbrac"  # ASB risk assessment conference
    CASE_REVIEW_PANEL = "case_review_panel"
    VULNERABLE_PERSONS_PANEL = "vulnerable_persons_panel"
    OTHER = "other"


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class Attendance(enum.StrEnum):
    PRESENT = "present"
    APOLOGIES = "apologies"
    ABSENT = "absent"


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (CheckConstraint("length(trim(title)) > 0", name="title_not_blank"),)

    id: Mapped[intpk]
    kind: Mapped[MeetingKind] = enum_column(MeetingKind)
    title: Mapped[str] = mapped_column(String(200))
    scheduled_for: Mapped[datetime] = mapped_column(index=True)
    venue: Mapped[str | None] = mapped_column(String(200))
    chair_user_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    organiser_agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    status: Mapped[MeetingStatus] = enum_column(MeetingStatus, default=MeetingStatus.PLANNED)
    general_minutes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    attendees: Mapped[list[MeetingAttendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingAttendee.id"
    )
    agenda: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="AgendaItem.position"
    )


class MeetingAttendee(Base):
    """An agency at the meeting (and who came for it): minutes record agencies present,
    apologies, and that confidentiality statements were signed."""

    __tablename__ = "meeting_attendees"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR name IS NOT NULL", name="who_attended"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"))
    user_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    attendance: Mapped[Attendance] = enum_column(Attendance, default=Attendance.PRESENT)
    confidentiality_signed: Mapped[bool] = mapped_column(default=False)
    information_sent: Mapped[bool] = mapped_column(default=False)

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")


class AgendaItem(Base):
    __tablename__ = "meeting_agenda_items"
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))  # e.g. "Review due", "Referred"
    minutes: Mapped[str | None] = mapped_column(Text)
    discussed: Mapped[bool] = mapped_column(default=False)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda")

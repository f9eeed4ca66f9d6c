"""Warning markers on a person, location, group or case, seen by everyone who sees the subject."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, created_at, enum_column, intpk


class FlagKind(enum.StrEnum):
    REPEAT_VICTIM = "repeat_victim"
    VULNERABLE = "vulnerable"
    HATE_MOTIVATED = "hate_motivated"
    RISK_TO_STAFF = "risk_to_staff"
    WEAPONS = "weapons"
    VIOLENCE = "violence"
    DOMESTIC_ABUSE = "domestic_abuse"
    CHILD_SAFEGUARDING = "child_safeguarding"
    HOT_SPOT = "hot_spot"
    OTHER = "other"


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN person_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN case_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_subject",
        ),
        CheckConstraint(
            "expires_at IS NULL OR expires_at > raised_at", name="expires_after_raised"
        ),
        CheckConstraint(
            "(cleared_at IS NULL) = (cleared_by_id IS NULL)", name="cleared_by_whom"
        ),
    )

    id: Mapped[intpk]
    kind: Mapped[FlagKind] = enum_column(FlagKind)
    detail: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("people.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("locations.id"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("groups.id"))
    case_id: Mapped[int | None] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    raised_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    raised_at: Mapped[created_at]
    expires_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    cleared_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))

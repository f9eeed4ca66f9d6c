from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, created_at, enum_column, intpk


class AgencyType(enum.StrEnum):
    POLICE = "police"
    COUNCIL = "council"
    HOUSING = "housing"
    VICTIM_SERVICE = "victim_service"
    DOMESTIC_ABUSE_SERVICE = "domestic_abuse_service"
    YOUTH_OFFENDING = "youth_offending"
    PROBATION = "probation"
    HEALTH = "health"
    MENTAL_HEALTH = "mental_health"
    FIRE_RESCUE = "fire_rescue"
    EDUCATION = "education"
    OTHER = "other"


class Agency(Base):
    """A partner organisation. Every user belongs to one; every case is owned by one."""

    __tablename__ = "agencies"
    __table_args__ = (
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        CheckConstraint("code = upper(code) AND length(code) BETWEEN 2 AND 12", name="code_shape"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    agency_type: Mapped[AgencyType] = enum_column(AgencyType)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

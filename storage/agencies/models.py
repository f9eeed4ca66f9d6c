from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, JSONDocument, created_at, enum_column, intpk


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


class WebhookEvent(enum.StrEnum):
    """What an agency's own system can be told, by webhook, about work for that agency."""

    ACTION_ASSIGNED = "action.assigned"  # an action on a case is given to the agency
    CASE_REFERRED = "case.referred"  # a case is referred to agencies of the agency's type


class AgencyWebhook(Base):
    """An agency's own system, told of work for the agency by a signed POST of ids and
    references (never names, addresses or case notes). The secret signs each POST; it has to
    be kept as it is (an HMAC key cannot be hashed), and is shown once, when it is made."""

    __tablename__ = "agency_webhooks"
    __table_args__ = (
        CheckConstraint("url LIKE 'https://%' OR url LIKE 'http://%'", name="url_is_http"),
        CheckConstraint("length(secret) >= 32", name="secret_long_enough"),
        CheckConstraint("active = (disabled_at IS NULL)", name="disabled_at_iff_inactive"),
    )

    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSONDocument)  # WebhookEvent values
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    created_at: Mapped[created_at]
    disabled_at: Mapped[datetime | None]

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.agencies.models import Agency
from storage.base import Base, BigIntKey, created_at, enum_column, intpk


class Role(enum.StrEnum):
    PRACTITIONER = "practitioner"
    PANEL_MEMBER = "panel_member"
    MANAGER = "manager"
    PARTNERSHIP_ADMIN = "partnership_admin"
    AUDITOR = "auditor"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name="email_shape"),
        CheckConstraint("failed_sign_ins >= 0", name="failed_sign_ins_not_negative"),
        CheckConstraint("line_manager_id IS NULL OR line_manager_id <> id", name="not_own_manager"),
    )

    id: Mapped[intpk]
    agency_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("agencies.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    line_manager_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_signed_in_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    agency: Mapped[Agency] = relationship(lazy="joined", innerjoin=True)
    role_grants: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.role_grants)

    def has_role(self, role: Role) -> bool:
        return role in self.roles


class UserRole(Base):
    """A user may hold several roles, e.g. a practitioner who also sits on the MARAC panel."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = enum_column(Role)

    user: Mapped[User] = relationship(back_populates="role_grants")

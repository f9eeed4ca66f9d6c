from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
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
    # Carried in the Flask session and checked on every request: bumping it (password reset
    # or change, disabling, resetting two-factor) ends every session the user has, at once.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Two-factor (RFC 6238): the base32 secret, when it was confirmed, and the last time
    # step a code was accepted for, so a code cannot be used twice (replay).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
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

    @property
    def two_factor_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None and self.totp_secret is not None


class UserRole(Base):
    """A user may hold several roles, e.g. a practitioner who also sits on the MARAC panel."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = enum_column(Role)

    user: Mapped[User] = relationship(back_populates="role_grants")


class RecoveryCode(Base):
    """A single-use backup code for when the authenticator is lost; kept only as a hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class PasswordReset(Base):
    """A password reset link. The token is never stored: only its hash (to find the row)
    and a nonce from which the token is derived with the secret key, so the dispatcher can
    put it in the e-mail while a copy of the database alone cannot reset anyone."""

    __tablename__ = "password_resets"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

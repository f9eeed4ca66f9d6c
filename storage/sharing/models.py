"""The information sharing agreement's published versions: kept for ever, the newest in
force (rules.sharing reads and checks the text)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, intpk


class SharingAgreementVersion(Base):
    """A published version of the partnership's sharing agreement. Never changed: a new
    version is a new row."""

    __tablename__ = "sharing_agreement_versions"
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
    published_at: Mapped[datetime]
    published_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, enum_column, intpk


class DefinitionStatus(enum.StrEnum):
    PUBLISHED = "published"
    RETIRED = "retired"  # no new cases; running cases carry on


class WorkflowDefinition(Base):
    """A published version of a case type, kept for ever: a case always runs on the exact
    text it started on, whatever is published after it."""

    __tablename__ = "workflow_definitions"
    __table_args__ = (
        UniqueConstraint("case_type", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("length(content_hash) = 64", name="content_hash_sha256"),
    )

    id: Mapped[intpk]
    case_type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    reference_prefix: Mapped[str] = mapped_column(String(12))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[DefinitionStatus] = enum_column(
        DefinitionStatus, default=DefinitionStatus.PUBLISHED
    )
    published_at: Mapped[datetime]
    published_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))

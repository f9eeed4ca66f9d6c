from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, BigIntKey, created_at, intpk


class Document(Base):
    """Metadata of a stored file; the bytes live in the document store under their hash."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint("length(sha256) = 64", name="sha256_shape"),
        CheckConstraint("length(trim(filename)) > 0", name="filename_not_blank"),
    )

    id: Mapped[intpk]
    case_id: Mapped[int] = mapped_column(
        BigIntKey, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("users.id"))
    uploaded_at: Mapped[created_at]
    # A document the engine made (a letter): the key of the outbox row that made it, so a
    # retry after a crash finds it instead of making a second one.
    outbox_key: Mapped[str | None] = mapped_column(String(200), index=True, unique=True)

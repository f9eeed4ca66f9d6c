"""Declarative base, column types and the constraint naming convention shared by all models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Enum, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

from casebridge import clock

# Stable constraint names make Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are aware and UTC in Python whatever the database keeps.

    SQLite has no time zones, so a naive value read back is UTC by construction; a naive
    value written is a bug (whose local time?) and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable), JSON text on SQLite. Python None is SQL NULL (not the JSON
# value null), so NOT NULL and "IS NOT NULL" checks see a missing document.
JSONDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# 64-bit keys on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(BigIntKey, primary_key=True)]
created_at = Annotated[datetime, mapped_column(UTCDateTime(), default=clock.now, nullable=False)]
updated_at = Annotated[
    datetime,
    mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now, nullable=False),
]


def enum_column(enum_cls: type[enum.Enum], **kwargs: Any) -> Any:
    """A VARCHAR plus a CHECK constraint listing the values: portable and migration-friendly."""
    return mapped_column(
        Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            name=enum_cls.__name__.lower(),
            validate_strings=True,
        ),
        **kwargs,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
        str: String(),
    }

    def __repr__(self) -> str:
        key = getattr(self, "id", None)
        return f"<{type(self).__name__} id={key}>"

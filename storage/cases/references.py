"""Human case references like ASB-2026-000123: short, unique, and readable over the phone."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.cases.models import ReferenceCounter


def next_reference(session: Session, prefix: str, year: int) -> str:
    """Take the next number for this prefix and year in one atomic upsert (no gaps from races)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(ReferenceCounter)
        .values(prefix=prefix, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=["prefix", "year"],
            set_={"last_value": ReferenceCounter.last_value + 1},
        )
        .returning(ReferenceCounter.last_value)
    )
    number = session.execute(statement).scalar_one()
    return f"{prefix}-{year}-{number:06d}"

"""Alembic environment: migrations run on the connection the caller hands in."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

import storage.models  # noqa: F401  (registers every table on the metadata)
from storage.base import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our type decorators as the plain column types they store."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


bound = config.attributes.get("connection")
if bound is None:
    raise RuntimeError("run migrations through `casebridge db ...`, which passes a connection")
if isinstance(bound, Engine):
    with bound.begin() as connection:
        run(connection)
else:
    run(bound)

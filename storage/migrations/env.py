"""Alembic environment: migrations run on the connection the caller hands in."""

from __future__ import annotations

from collections.abc import Callable
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


def only_on_its_dialect(dialect_name: str) -> Callable[..., bool]:
    """Leave out of the comparison an index the models declare for another kind of database.

    A PostgreSQL-only index (a GIN trigram index, say) is declared with
    `.ddl_if(dialect="postgresql")` and `info={"only_on_dialect": "postgresql"}`; alembic
    does not read ddl_if, so without this `alembic check` on SQLite would ask for it.
    """

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        if type_ != "index" or reflected:
            return True
        wanted = obj.info.get("only_on_dialect")
        return wanted is None or wanted == dialect_name

    return include_object


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        include_object=only_on_its_dialect(connection.dialect.name),
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

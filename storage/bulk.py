"""INSERT (optionally ... ON CONFLICT DO NOTHING) of thousands of rows at once, on both
databases.

On PostgreSQL the rows go as one array per column through `unnest`: one short statement
whatever the number of rows. (A multi-row VALUES list is as long as the rows, and the
driver re-parses it on every batch: that parsing was most of a deadline sweep's time.)
On SQLite, an executemany that SQLAlchemy pages within SQLite's limit on parameters.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, Row, Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *,
    skip_conflicts_on: str | None = None, returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert the rows (with `skip_conflicts_on`, only those whose value of that unique
    column is new) and return `returning` of the inserted ones. Every row gives the same
    columns: all the NOT NULL ones, as no Python-side default is applied here."""
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        statement = sqlite.insert(table)
        if skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
        result = session.connection().execute(statement, list(rows))
        return list(result) if returning else []
    names = list(rows[0])
    params, arrays, selected = {}, [], []
    for n, name in enumerate(names):
        array_type, cast = _postgresql_types(table.c[name].type)
        params[f"c{n}"] = [_plain(row[name]) for row in rows]
        arrays.append(f"CAST(:c{n} AS {array_type})")
        selected.append(f"CAST(t.c{n} AS {cast})" if cast else f"t.c{n}")
    sql = (f'INSERT INTO {table.name} ({", ".join(names)}) '  # noqa: S608 (names from the model)
           f'SELECT {", ".join(selected)} FROM unnest({", ".join(arrays)}) '
           f'AS t({", ".join(f"c{n}" for n in range(len(names)))})')
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    if returning:
        sql += f' RETURNING {", ".join(returning)}'
    result = session.execute(text(sql), params)
    return list(result) if returning else []


def _postgresql_types(column_type: Any) -> tuple[str, str | None]:
    """(the array type the rows travel in, the cast to the column type if it differs)."""
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, JSON) or isinstance(column_type, JSON):
        return "TEXT[]", "JSONB"
    if isinstance(impl, DateTime):
        return "TIMESTAMPTZ[]", None
    if isinstance(impl, BigInteger | Integer):
        return "BIGINT[]", None
    if isinstance(impl, Boolean):
        return "BOOLEAN[]", None
    return "TEXT[]", None


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value

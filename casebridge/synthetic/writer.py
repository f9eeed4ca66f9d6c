"""Bulk writing of synthetic rows: client-assigned ids, COPY on PostgreSQL, executemany on SQLite.

This is a bulk import, not the services: rows go straight into the tables, with the ids the
writer hands out (it reads max(id) of each table first and moves each PostgreSQL sequence past
what it wrote, so later inserts by the services carry on from there), and the reference
counters are moved on to the last number handed out. The database's check, unique and
not-null constraints judge every row; foreign keys too, row by row on SQLite, and on
PostgreSQL (where the per-row triggers are off for the import when the role may) by one
set-based query per key before each batch commits. Each committed batch is audited with one
entry in the hash chain (see runner.py), so the chain stays intact and says what was imported.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import storage.models  # noqa: F401 (every table registered on the metadata)
from casebridge.synthetic.histories import (
    VULNERABILITIES,
    ChunkRows,
    known_person_values,
)
from casebridge.synthetic.population import Population
from casebridge.synthetic.rows import COLUMNS, NULL, TABLE_ORDER, table_tails
from storage.base import Base
from storage.cases.models import ReferenceCounter


class ForeignKeyViolation(Exception):
    """A bulk-written row refers to a row that does not exist (the batch is rolled back)."""


ID_TABLES = ("locations", "people", "person_addresses", "vulnerabilities", "cases",
             "case_shares", "case_participants", "stage_instances", "actions")


def read_state(session: Session) -> tuple[dict[str, int], dict[tuple[str, int], int]]:
    """The highest id of each table and the reference counters, to carry on from."""
    tables = Base.metadata.tables
    last = {name: int(session.scalar(select(func.coalesce(func.max(tables[name].c.id), 0))))
            for name in ID_TABLES}
    counters = {(r.prefix, r.year): r.last_value
                for r in session.scalars(select(ReferenceCounter))}
    return last, counters


class BulkWriter:
    """Takes ChunkRows in case order, gives them ids and writes them table by table."""

    def __init__(self, dialect: str, last_ids: dict[str, int],
                 counters: dict[tuple[str, int], int], *, trust_keys: bool = True) -> None:
        self.dialect = dialect
        self.trust_keys = trust_keys
        self.checking_keys = False
        self.copy = dialect == "postgresql"
        self.last = dict(last_ids)
        self.counters = dict(counters)
        self.buffers: dict[str, list[Any]] = {name: [] for name in TABLE_ORDER}
        self.batch_start = dict(self.last)
        self.written = dict.fromkeys(TABLE_ORDER, 0)

    # -- ids --------------------------------------------------------------------------

    def _take(self, table: str, count: int) -> int:
        """Reserve `count` ids; returns the last id before them."""
        base = self.last[table]
        self.last[table] = base + count
        return base

    def add_population(self, population: Population, seed: int) -> None:
        """The pooled places and known people (their ids were given when they were built)."""
        tails = table_tails(self.dialect)
        places = [*population.homes, *population.places]
        if places:
            assert places[0].id == self.last["locations"] + 1
            self._take("locations", len(places))
        for place in places:
            self._row("locations", (place.id,), tails["locations"]((
                place.description, place.address_line_1, place.address_line_2, place.area,
                place.postcode, place.area, place.ward, population.since,
            )))
        people = [*population.victims, *population.perpetrators]
        if people:
            assert people[0].id == self.last["people"] + 1
            self._take("people", len(people))
        for person in people:
            self._row("people", (person.id,), tails["people"](known_person_values(person, seed)))
            address = self._take("person_addresses", 1) + 1
            self._row("person_addresses", (address, person.id), tails["person_addresses"]((
                person.home_id, "home", person.created_at.date(),
            )))
        rng = random.Random(f"{seed}:known-vulnerabilities")  # noqa: S311
        for person in population.victims:
            for kind in rng.sample(VULNERABILITIES, k=rng.choice((0, 1, 1, 2))):
                vid = self._take("vulnerabilities", 1) + 1
                self._row("vulnerabilities", (vid, person.id),
                          tails["vulnerabilities"]((kind, None, person.created_at)))

    def add_chunk(self, chunk: ChunkRows) -> None:
        """Give a chunk's rows their ids (ids of earlier chunks are known: they came first)."""
        buffers, take = self.buffers, self._take
        people = take("people", len(chunk.people))
        addresses = take("person_addresses", len(chunk.person_addresses))
        vulnerabilities = take("vulnerabilities", len(chunk.vulnerabilities))
        shares = take("case_shares", len(chunk.case_shares))
        participants = take("case_participants", len(chunk.case_participants))
        stages = take("stage_instances", len(chunk.stage_instances))
        actions = take("actions", len(chunk.actions))
        references = []
        counters = self.counters
        for prefix, year, _ in chunk.cases:
            number = counters.get((prefix, year), 0) + 1
            counters[(prefix, year)] = number
            references.append(f"{prefix}-{year}-{number:06d}")
        self.last["cases"] = max(self.last["cases"], _case_id_of(chunk))

        def person(ref: int | None) -> int | None:
            # local person k was encoded as -(k + 1); pooled people carry their own id
            return None if ref is None else people - ref if ref < 0 else ref

        if self.copy:
            buffers["people"] += [f"{people + k}\t{t}\n" for k, t in enumerate(chunk.people, 1)]
            buffers["person_addresses"] += [
                f"{addresses + k}\t{people + p + 1}\t{t}\n"
                for k, (p, t) in enumerate(chunk.person_addresses, 1)]
            buffers["vulnerabilities"] += [
                f"{vulnerabilities + k}\t{people + p + 1}\t{t}\n"
                for k, (p, t) in enumerate(chunk.vulnerabilities, 1)]
            buffers["cases"] += [f"{r}\t{t}\n"
                                 for r, (_, _, t) in zip(references, chunk.cases, strict=True)]
            buffers["case_shares"] += [f"{shares + k}\t{t}\n"
                                       for k, t in enumerate(chunk.case_shares, 1)]
            buffers["case_participants"] += [
                f"{participants + k}\t{NULL if p is None else person(p)}\t{t}\n"
                for k, (p, t) in enumerate(chunk.case_participants, 1)]
            buffers["stage_instances"] += [f"{stages + k}\t{t}\n"
                                           for k, t in enumerate(chunk.stage_instances, 1)]
            buffers["actions"] += [
                f"{actions + k}\t{NULL if s is None else stages + s + 1}\t{t}\n"
                for k, (s, t) in enumerate(chunk.actions, 1)]
        else:
            buffers["people"] += [(people + k, *t) for k, t in enumerate(chunk.people, 1)]
            buffers["person_addresses"] += [
                (addresses + k, people + p + 1, *t)
                for k, (p, t) in enumerate(chunk.person_addresses, 1)]
            buffers["vulnerabilities"] += [
                (vulnerabilities + k, people + p + 1, *t)
                for k, (p, t) in enumerate(chunk.vulnerabilities, 1)]
            buffers["cases"] += [(r, *t)
                                 for r, (_, _, t) in zip(references, chunk.cases, strict=True)]
            buffers["case_shares"] += [(shares + k, *t)
                                       for k, t in enumerate(chunk.case_shares, 1)]
            buffers["case_participants"] += [
                (participants + k, person(p), *t)
                for k, (p, t) in enumerate(chunk.case_participants, 1)]
            buffers["stage_instances"] += [(stages + k, *t)
                                           for k, t in enumerate(chunk.stage_instances, 1)]
            buffers["actions"] += [
                (actions + k, None if s is None else stages + s + 1, *t)
                for k, (s, t) in enumerate(chunk.actions, 1)]

    def _row(self, table: str, head: Sequence[Any], tail: Any) -> None:
        if self.copy:
            ids = "\t".join([NULL if v is None else str(v) for v in head])
            self.buffers[table].append(f"{ids}\t{tail}\n")
        else:
            self.buffers[table].append((*head, *tail))

    # -- writing ----------------------------------------------------------------------

    def flush(self, session: Session) -> None:
        for table in TABLE_ORDER:
            rows = self.buffers[table]
            if not rows:
                continue
            head, tail = COLUMNS[table]
            columns = (*head, *tail)
            if self.copy:
                _copy(session, table, columns, rows)
            else:
                model_table: Table = Base.metadata.tables[table]
                session.execute(model_table.insert(),
                                [dict(zip(columns, r, strict=True)) for r in rows])
            self.written[table] += len(rows)
            self.buffers[table] = []

    def begin_batch(self, session: Session) -> None:
        """Start a transaction's worth of rows. On PostgreSQL, when this role may and the
        tables have no triggers of their own, the per-row foreign-key triggers are switched off
        for the transaction (session_replication_role, as pg_restore loads data): finish_batch
        then checks every foreign key of the batch's rows in one query per key instead.
        Check, unique and not-null constraints are enforced as always."""
        self.batch_start = dict(self.last)
        self.checking_keys = False
        if not (self.copy and self.trust_keys) or _has_own_triggers(session):
            return
        try:
            with session.begin_nested():
                session.execute(text("SET LOCAL session_replication_role = replica"))
        except DBAPIError:
            return  # not allowed: the triggers check each row
        self.checking_keys = True

    def finish_batch(self, session: Session) -> None:
        """Reference counters and (PostgreSQL) sequences, so the services carry on after us."""
        self.flush(session)
        if self.checking_keys:
            self._check_foreign_keys(session)
            session.execute(text("SET LOCAL session_replication_role = origin"))
        insert = postgresql.insert if self.copy else sqlite.insert
        for (prefix, year), value in sorted(self.counters.items()):
            statement = insert(ReferenceCounter).values(prefix=prefix, year=year,
                                                        last_value=value)
            session.execute(statement.on_conflict_do_update(
                index_elements=["prefix", "year"], set_={"last_value": value}))
        if self.copy:
            for table in ID_TABLES:
                if self.last[table]:
                    session.execute(
                        text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"),
                        {"t": table, "v": self.last[table]},
                    )


    def _check_foreign_keys(self, session: Session) -> None:
        """Every reference the batch wrote points at a row: one anti-join per foreign key."""
        for table in TABLE_ORDER:
            low, high = self.batch_start[table], self.last[table]
            if high <= low:
                continue
            filled = set(COLUMNS[table][0]) | set(COLUMNS[table][1])
            for key in Base.metadata.tables[table].foreign_keys:
                column = key.parent.name
                if column not in filled:
                    continue
                target, target_column = key.column.table.name, key.column.name
                dangling = session.execute(text(
                    f"SELECT x.id, x.{column} FROM {table} x WHERE x.id > :low "  # noqa: S608
                    f"AND x.id <= :high AND x.{column} IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {target} r WHERE r.{target_column} = x.{column}) LIMIT 1"
                ), {"low": low, "high": high}).first()
                if dangling is not None:
                    raise ForeignKeyViolation(
                        f"{table}.{column} = {dangling[1]} (row {dangling[0]}) points at no "
                        f"{target} row"
                    )


def drop_secondary_indexes(session: Session) -> list[tuple[str, str]]:
    """Drop the bulk tables' non-unique indexes (PostgreSQL), returning (name, definition)
    of each to rebuild. Unique and primary-key indexes stay: they judge every row."""
    found = [(str(name), str(definition)) for name, definition in session.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisunique "
        "ORDER BY c.relname"), {"tables": list(TABLE_ORDER)})]
    for name, _ in found:
        session.execute(text(f'DROP INDEX "{name}"'))
    return found


def rebuild_indexes(session: Session, indexes: list[tuple[str, str]],
                    status: Callable[[str], None] | None = None) -> None:
    """Build the dropped indexes, each with one sort over its table."""
    session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    for done, (name, definition) in enumerate(indexes, 1):
        if status:
            status(f"Building index {done} of {len(indexes)} ({name})")
        session.execute(text(definition))


def _has_own_triggers(session: Session) -> bool:
    """Triggers other than the foreign keys' own (which replica mode would also skip)."""
    return bool(session.scalar(
        text("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal "
             "AND tgrelid = ANY(CAST(:tables AS regclass[]))"),
        {"tables": list(TABLE_ORDER)},
    ))


def _copy(session: Session, table: str, columns: Iterable[str], lines: list[str]) -> None:
    connection = session.connection().connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        step = 20_000
        for start in range(0, len(lines), step):
            copy.write("".join(lines[start:start + step]))


def _case_id_of(chunk: ChunkRows) -> int:
    """The id of the chunk's last case (its tail starts with the id)."""
    if not chunk.cases:
        return 0
    tail = chunk.cases[-1][2]
    return int(tail.split("\t", 1)[0]) if isinstance(tail, str) else int(tail[0])


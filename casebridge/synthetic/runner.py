"""Generating many synthetic cases: worker processes compute, this process writes.

Cases are split into chunks of consecutive numbers. Worker processes (multiprocessing,
`workers` of them) run each chunk's histories through the pure interpreter; the main process
takes the chunks back in order, gives their rows ids and writes them in batches, one
transaction and one audit entry per batch (a large first load on PostgreSQL: one transaction
for all its batches, see generate_cases). Because case i depends only on the seed and i,
the data is the same for any number of workers, chunk size or batch size.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from casebridge.synthetic import speedups
from casebridge.synthetic.histories import ChunkRows, World, WorldSpec, compute_chunk
from casebridge.synthetic.population import HISTORY_DAYS, build_population, opening_times
from casebridge.synthetic.writer import (
    BulkWriter,
    drop_secondary_indexes,
    read_state,
    rebuild_indexes,
)
from storage.actors import Actor
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.db import unit_of_work

CHUNK_SIZE = 500
# From this many cases, a first load builds the secondary indexes at the end (PostgreSQL).
DEFER_INDEXES_FROM = 50_000


@dataclass
class Generated:
    cases: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0


def generate_cases(
    sessions: sessionmaker[Session],
    actor: Actor,
    *,
    cases: int,
    seed: int,
    now: datetime,
    agencies: Sequence[tuple[int, str]],
    users: Sequence[tuple[int, int]],
    definitions: tuple[tuple[str, str, str], ...],
    workers: int = 2,
    batch_size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
    defer_indexes: bool | None = None,
) -> Generated:
    """Compute and write `cases` synthetic cases after whatever the database holds.

    A large first load into an empty PostgreSQL database (`defer_indexes`, by default from
    DEFER_INDEXES_FROM cases) builds the secondary indexes once at the end, as pg_restore
    does, instead of updating them row by row: a sort per index costs far less than millions
    of b-tree inserts. `status` hears about that step."""
    started = time.perf_counter()
    now = now.astimezone(UTC)
    with unit_of_work(sessions) as session:
        dialect = session.get_bind().dialect.name
        last_ids, counters = read_state(session)
    if batch_size is None:
        batch_size = 25_000 if dialect == "postgresql" else 5_000
    chunk_size = max(1, min(chunk_size, batch_size))
    population = build_population(
        seed, cases, location_base=last_ids["locations"], person_base=last_ids["people"],
        start=now - timedelta(days=HISTORY_DAYS),
    )
    spec = WorldSpec(
        seed=seed, now=now, dialect=dialect, definitions=definitions, agencies=tuple(agencies),
        users=tuple(users), population=population, case_base=last_ids["cases"],
    )
    times = opening_times(seed, cases, now)
    # Chunks never straddle a batch, so each transaction holds exactly batch_size cases.
    chunks, per_batch = [], []
    for start in range(0, cases, batch_size):
        end = min(start + batch_size, cases)
        firsts = range(start, end, chunk_size)
        chunks += [(first, times[first:min(first + chunk_size, end)]) for first in firsts]
        per_batch.append(len(firsts))
    writer = BulkWriter(dialect, last_ids, counters)
    result = Generated()
    if defer_indexes is None:
        defer_indexes = not last_ids["cases"] and cases >= DEFER_INDEXES_FROM
    defer_indexes = defer_indexes and dialect == "postgresql"
    results = _Computed(spec, chunks, workers)
    flush_every = max(chunk_size, batch_size // 5)
    try:
        with contextlib.ExitStack() as load:
            whole = deferred = None
            if defer_indexes:
                # One transaction for the whole load: a crash part way rolls the dropped
                # indexes back with the rows, so a database is never left without them.
                whole = load.enter_context(unit_of_work(sessions))
                deferred = drop_secondary_indexes(whole)
            for batch, count in enumerate(per_batch):
                with (contextlib.nullcontext(whole) if whole is not None
                      else unit_of_work(sessions)) as session:
                    _write_batch(session, writer, results, count, flush_every,
                                 population if batch == 0 else None, seed, actor, result,
                                 progress)
                result.batches += 1
            if whole is not None and deferred is not None:
                rebuild_indexes(whole, deferred, status)
    finally:
        results.close()
    result.rows = dict(writer.written)
    result.seconds = time.perf_counter() - started
    return result


def _write_batch(session: Session, writer: BulkWriter, results: Iterator[ChunkRows], count: int,
                 flush_every: int, population: Any, seed: int, actor: Actor,
                 result: Generated, progress: Callable[[int], None] | None) -> None:
    """`count` chunks as one batch, audited with one entry saying which cases it holds."""
    writer.begin_batch(session)
    if population is not None:
        writer.add_population(population, seed)
    first_case = writer.last["cases"] + 1
    in_batch = since_flush = 0
    for chunk in islice(results, count):
        writer.add_chunk(chunk)
        in_batch += chunk.count
        since_flush += chunk.count
        for status, n in chunk.stats.items():
            result.statuses[status] = result.statuses.get(status, 0) + n
        if since_flush >= flush_every:
            writer.flush(session)
            since_flush = 0
        result.cases += chunk.count
        if progress:
            progress(result.cases)
    writer.finish_batch(session)
    record(session, actor, AuditAction.CREATE, entity_type="synthetic_batch",
           entity_id=f"{first_case}-{writer.last['cases']}",
           detail={"seed": seed, "first_case_id": first_case,
                   "last_case_id": writer.last["cases"], "cases": in_batch})


# --- computing chunks, here or in worker processes ----------------------------------------

_world: World | None = None


def _start_worker(spec: WorldSpec) -> None:
    global _world
    speedups.install()
    _world = World(spec)
    # The pools and definitions live as long as the worker: keep them out of the cyclic
    # garbage collector's way.
    gc.freeze()


def _compute(first: int, opened: list[int]) -> ChunkRows:
    assert _world is not None, "worker not started"
    return compute_chunk(_world, first, opened)


class _Computed:
    """The chunks' rows in order, computed by `workers` processes (0, or a single chunk: here).

    The worker processes start, and get their first chunks, as soon as this is made, so they
    are busy while the writer prepares the pooled places and people.
    """

    def __init__(self, spec: WorldSpec, chunks: list[tuple[int, list[int]]],
                 workers: int) -> None:
        self.queued = iter(chunks)
        self.pending: deque[Any] = deque()
        self.pool: Any = None
        self.world: World | None = None
        if workers <= 0 or len(chunks) <= 1:
            self.world = World(spec)
            return
        context = multiprocessing.get_context(_start_method())
        self.pool = context.Pool(workers, initializer=_start_worker, initargs=(spec,))
        # A bounded window: workers stay ahead of the writer without filling the memory.
        for args in islice(self.queued, workers * 8):
            self.pending.append(self.pool.apply_async(_compute, args))

    def __iter__(self) -> Iterator[ChunkRows]:
        return self

    def __next__(self) -> ChunkRows:
        if self.world is not None:
            first, opened = next(self.queued)
            return compute_chunk(self.world, first, opened)
        if not self.pending:
            raise StopIteration
        done = self.pending.popleft().get()
        following = next(self.queued, None)
        if following is not None:
            self.pending.append(self.pool.apply_async(_compute, following))
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def _start_method() -> str:
    # fork is cheapest (the workers inherit the pools) and safe here: the children touch no
    # database connection. Elsewhere (macOS, Windows) spawn.
    return "fork" if sys.platform.startswith("linux") else "spawn"

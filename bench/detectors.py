"""The repeat-victim check at intake: p50/p95 of the real detector query
(`storage.detections.queries.find_hits` for one person, their newest report as the trigger)
on PostgreSQL with 1,000,000 people and 5,000,000 reports, against the same query answered
by full scans (index and bitmap scans switched off) in the same run. Target: p95 under 20 ms.

Set-up: a fresh database (bench.database), migrated; agencies through the services; people,
cases (the reports), their victim participants and some same-incident links generated from
fixed seeds and loaded with COPY (foreign-key triggers off for the load, secondary indexes
dropped and rebuilt after it, as a restore would), then VACUUM ANALYZE. Reports span five
years; 30% of them come from a "repeat" pool of 5% of the people, so some people have dozens
of reports and most have a handful. Lookups: half from the repeat pool, half from everyone.
Each lookup is its own transaction, timed end to end (statement and rows into hits).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.database import lookup_engines
from bench.harness import Result, percentile, progress
from rules.detectors import config as detector_config
from storage import migrate
from storage.actors import Actor
from storage.agencies.models import AgencyType
from storage.agencies.services import create_agency
from storage.db import make_session_factory, unit_of_work
from storage.detections.queries import find_hits

TARGET_MS = 20.0
SEED = 20261126
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPAN_DAYS = 5 * 365
AGENCIES = 20
REPEAT_POOL = 0.05  # of the people
FROM_POOL = 0.30  # of the reports
LINKED = 0.01  # of the reports: linked to another as the same incident
WARMUP = 20
LOOKUP_TIMEOUT_MS = 120_000
MAX_SECONDS = 60 * 60
BATCH = 100_000
HASH = "0" * 64
TABLES = ("people", "cases", "case_participants", "case_links")
TRIGRAM = "ix_people_search_trgm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--det-people", type=int, default=1_000_000,
                        help="people in the detector database (default 1,000,000)")
    parser.add_argument("--det-reports", type=int, default=5_000_000,
                        help="reports (cases with a victim) (default 5,000,000)")
    parser.add_argument("--det-lookups", type=int, default=300,
                        help="timed repeat-victim checks through the indexes (default 300)")
    parser.add_argument("--det-scan-lookups", type=int, default=10,
                        help="the same checks by full scan, the baseline (default 10)")


def run(options: argparse.Namespace) -> list[Result]:
    people = int(getattr(options, "det_people", 1_000_000))
    reports = int(getattr(options, "det_reports", 5_000_000))
    lookups = int(getattr(options, "det_lookups", 300))
    scans = min(lookups, int(getattr(options, "det_scan_lookups", 10)))
    deadline = time.monotonic() + MAX_SECONDS
    with lookup_engines("det", LOOKUP_TIMEOUT_MS * 10) as (engine, scan_engine):
        return _run(engine, scan_engine, people, reports, lookups, scans, deadline)


def _run(engine: Engine, scan_engine: Engine, people: int, reports: int, lookups: int,
         scans: int, deadline: float) -> list[Result]:
    progress("migrating")
    migrate.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        agency_ids = [create_agency(session, Actor.system("bench"), name=f"Bench Agency {n}",
                                    code=f"BA{n}", agency_type=AgencyType.POLICE).id
                      for n in range(1, AGENCIES + 1)]
    rng = random.Random(SEED)
    pool = max(1, int(people * REPEAT_POOL))
    _load(engine, people, reports, pool, agency_ids, rng, deadline)
    everyone = _plan(engine, people, pool, lookups, random.Random(SEED + 1))
    warmup, plan = everyone[:WARMUP], everyone[WARMUP:]
    config = detector_config.load()

    progress(f"{len(warmup)} warm-up checks, then {len(plan)} timed repeat-victim checks")
    for person_id, case_id in warmup:
        _check(engine, config, person_id, case_id, full_scan=False)
    indexed, answers = [], []
    for person_id, case_id in plan:
        _stop_if_late(deadline)
        ms, found = _check(engine, config, person_id, case_id, full_scan=False)
        indexed.append(ms)
        answers.append(found)
    hits = sum(1 for a in answers if a)
    progress(f"{hits} of {len(plan)} checked people are repeat victims (3 in 6 months); "
             f"reports in their window: max {max((a[0] for a in answers if a), default=0)}")
    _all_detectors(engine, config, plan[:100])

    progress(f"{scans} of the same checks by full scan (indexes off), after 1 warm-up")
    _check(scan_engine, config, *plan[0], full_scan=True)
    scanned, same = [], 0
    for (person_id, case_id), answer in zip(plan[:scans], answers, strict=False):
        _stop_if_late(deadline)
        ms, found = _check(scan_engine, config, person_id, case_id, full_scan=True)
        scanned.append(ms)
        same += found == answer
    progress(f"full-scan answers identical to the indexed ones: {same} of {scans}")
    size = f"{_label(people)} people, {_label(reports)} reports, PostgreSQL"
    p95, p50 = percentile(indexed, 95), percentile(indexed, 50)
    return [
        Result(f"repeat-victim check at intake p95 ({size})", p95, "ms",
               f"full scan p95 ({len(scanned)} checks)", percentile(scanned, 95),
               target=f"< {TARGET_MS:g} ms", passed=p95 < TARGET_MS),
        Result(f"repeat-victim check at intake p50 ({size})", p50, "ms",
               f"full scan p50 ({len(scanned)} checks)", percentile(scanned, 50)),
    ]


def _check(engine: Engine, config: detector_config.DetectorsConfig, person_id: int,
           case_id: int, *, full_scan: bool) -> tuple[float, list[int]]:
    with Session(engine) as session, session.begin():
        if full_scan:
            for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                session.execute(text(f"SET LOCAL {setting} = off"))
        session.execute(text(f"SET LOCAL statement_timeout = {LOOKUP_TIMEOUT_MS}"))
        started = time.perf_counter()
        hits = find_hits(session, config, config["repeat_victim"], NOW, person_ids=[person_id],
                         location_ids=[], trigger_case_id=case_id)
        elapsed = (time.perf_counter() - started) * 1000
        session.rollback()
    return elapsed, [h.reports for h in hits]


def _all_detectors(engine: Engine, config: detector_config.DetectorsConfig,
                   plan: list[tuple[int, int]]) -> None:
    """For the record: every detector's query for the same person (what intake runs)."""
    times = []
    for person_id, case_id in plan:
        with Session(engine) as session, session.begin():
            started = time.perf_counter()
            for detector in config.enabled:
                find_hits(session, config, detector, NOW, person_ids=[person_id],
                          location_ids=[], trigger_case_id=case_id)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    progress(f"all {len(config.enabled)} detectors' queries for one person at intake: "
             f"p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms "
             f"({len(times)} checks)")


def _plan(engine: Engine, people: int, pool: int, count: int,
          rng: random.Random) -> list[tuple[int, int]]:
    """Whom to check (half from the repeat pool) and their newest report (the trigger)."""
    chosen = [rng.randint(1, pool) if i % 2 == 0 else rng.randint(1, people)
              for i in range(count + WARMUP)]
    with engine.connect() as connection:
        newest = dict(connection.execute(text(
            "SELECT DISTINCT ON (p.person_id) p.person_id, c.id FROM case_participants p"
            " JOIN cases c ON c.id = p.case_id WHERE p.person_id = ANY(:ids)"
            " ORDER BY p.person_id, c.opened_at DESC, c.id DESC"), {"ids": chosen}).all())
    return [(p, newest[p]) for p in chosen if p in newest]


# --- the load -------------------------------------------------------------------------------


class Bar:
    """A progress bar on stderr: [#####.....] 50% 2,500,000 of 5,000,000 reports (.../s)."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.started = what, total, time.monotonic()

    def show(self, done: int) -> None:
        filled = int(30 * done / max(self.total, 1))
        rate = done / max(time.monotonic() - self.started, 1e-9)
        end = "\n" if done >= self.total else ""
        print(f"\r  .. [{'#' * filled}{'.' * (30 - filled)}] {100 * done / self.total:3.0f}% "
              f"{done:,} of {self.total:,} {self.what} ({rate:,.0f}/s)", end=end,
              file=sys.stderr, flush=True)


def _load(engine: Engine, people: int, reports: int, pool: int, agency_ids: list[int],
          rng: random.Random, deadline: float) -> None:
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
                " AND indexname NOT LIKE 'pk_%%' AND indexname NOT LIKE 'uq_%%'",
                (list(TABLES),))
            indexes = cursor.fetchall()
            progress(f"dropping {len(indexes)} secondary indexes for the load (rebuilt after,"
                     f" but the duplicate check's {TRIGRAM}: the detectors do not read it);"
                     " foreign-key triggers off for it")
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            indexes = [(name, definition) for name, definition in indexes if name != TRIGRAM]
            cursor.execute("SET session_replication_role = replica")
            now = NOW.isoformat()

            bar = Bar("people", people)
            for start in range(1, people + 1, BATCH):
                end = min(people, start + BATCH - 1)
                with cursor.copy("COPY people (id, given_name, family_name, search_given,"
                                 " search_family, needs_interpreter, restricted, created_at,"
                                 " updated_at) FROM STDIN") as copy:
                    copy.write("".join(
                        f"{i}\tBench\tPerson{i}\tbench\tperson{i}\tf\tf\t{now}\t{now}\n"
                        for i in range(start, end + 1)))
                bar.show(end)

            bar = Bar("reports (cases and their victims)", reports)
            first = NOW - timedelta(days=SPAN_DAYS)
            span = SPAN_DAYS * 86_400
            linked: list[tuple[int, int]] = []
            for start in range(1, reports + 1, BATCH):
                _stop_if_late(deadline)
                end = min(reports, start + BATCH - 1)
                cases, victims = [], []
                for i in range(start, end + 1):
                    opened = (first + timedelta(seconds=rng.randrange(span))).isoformat()
                    agency = agency_ids[i % len(agency_ids)]
                    victim = (rng.randint(1, pool) if rng.random() < FROM_POOL
                              else rng.randint(1, people))
                    cases.append(f"{i}\tASB-B-{i:08d}\tasb\t1\t{HASH}\tBench report\topen\t"
                                 f"{agency}\tf\t{{}}\t{opened}\t{opened}\t{opened}\t1\n")
                    victims.append(f"{i}\t{i}\tvictim\t{victim}\t{opened}\n")
                    if i > 1 and rng.random() < LINKED:
                        linked.append((i, rng.randint(max(1, i - 1000), i - 1)))
                with cursor.copy("COPY cases (id, reference, case_type, definition_version,"
                                 " definition_hash, title, status, owning_agency_id, restricted,"
                                 " workflow_state, opened_at, created_at, updated_at, version)"
                                 " FROM STDIN") as copy:
                    copy.write("".join(cases))
                with cursor.copy("COPY case_participants (id, case_id, role, person_id,"
                                 " added_at) FROM STDIN") as copy:
                    copy.write("".join(victims))
                bar.show(end)
            with cursor.copy("COPY case_links (id, from_case_id, to_case_id, kind, linked_at)"
                             " FROM STDIN") as copy:
                copy.write("".join(f"{n}\t{a}\t{b}\tsame_incident\t{now}\n"
                                   for n, (a, b) in enumerate(linked, start=1)))
            progress(f"{len(linked):,} same-incident links")
            cursor.execute("SET session_replication_role = DEFAULT")
            for table in TABLES:  # fixed names
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                               f" (SELECT coalesce(max(id), 1) FROM {table}))")
            connection.commit()
            cursor.execute("SET maintenance_work_mem = '512MB'")
            bar = Bar("indexes rebuilt", len(indexes))
            for n, (_, definition) in enumerate(indexes, start=1):
                _stop_if_late(deadline)
                cursor.execute(definition)
                connection.commit()
                bar.show(n)
        connection.autocommit = True
        progress("VACUUM ANALYZE")
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
        connection.autocommit = False
    finally:
        raw.close()


def _stop_if_late(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"detector benchmark ran past {MAX_SECONDS} s; stopped")


def _label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"

"""The duplicate-person check at intake: p50/p95 of `find_possible_duplicates` on PostgreSQL
with 1,000,000 people, against the same check answered by full scans (index and bitmap
scans switched off) in the same run. Target: p95 under 50 ms.

Set-up: a fresh database (bench.database), migrated; people generated from fixed seeds
(ordinary first names in the spellings people mix up, invented family names with variant
spellings, Zipf-like frequencies so common names are common; ~40% with a home address at an
invented "NS" postcode) and loaded with COPY; the trigram index built after the load, then
VACUUM ANALYZE. Lookups: a fixed mix of a typo'd name of someone on the system (one dropped,
doubled, swapped or changed letter), someone's names swapped, someone's known-as name or
their name in other case and spacing, and new people; most give a date of birth, some a
postcode. Each lookup is its own transaction, timed end to end (query and scoring).
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.database import lookup_engines
from bench.harness import Result, percentile, progress
from storage import migrate
from storage.people.duplicates import PossibleDuplicate, find_possible_duplicates
from storage.people.names import normalise_name

TARGET_MS = 50.0
SEED = 20260301
MAX_SECONDS = 45 * 60  # the whole run, load included; it stops itself past this
LOOKUP_TIMEOUT_MS = 120_000  # one full-scan lookup at most
WARMUP = 20
ADDRESSED = 0.4
PEOPLE_PER_LOCATION = 2.2
LOCATIONS_PER_POSTCODE = 15
INDEX = "ix_people_search_trgm"  # migration 0002

GIVEN_NAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("John", "Jon", "Jonathan"), ("Steven", "Stephen", "Stephan"), ("Sean", "Shaun", "Shawn"),
    ("Philip", "Phillip"), ("Catherine", "Katherine", "Kathryn"), ("Claire", "Clare"),
    ("Sarah", "Sara"), ("Rebecca", "Rebekah"), ("Ann", "Anne", "Anna"), ("Tracy", "Tracey"),
    ("Mohammed", "Muhammad", "Mohammad"), ("Zoe", "Zoë", "Zoey"), ("Isabel", "Isobel"),
    ("Amy", "Aimee"), ("Nicola", "Nichola"), ("Leigh", "Lee"), ("Carl", "Karl"),
    ("Marc", "Mark"), ("Graham", "Graeme"), ("Alan", "Allan", "Allen"), ("Brian", "Bryan"),
    ("Sophie", "Sophia"), ("Hannah", "Hanna"), ("Megan", "Meghan"), ("Aaron", "Aron"),
    ("Connor", "Conor"), ("Callum", "Calum"), ("Louise", "Louisa"), ("Teresa", "Theresa"),
    ("Anne-Marie", "Annemarie"), ("Chloe", "Chloé"), ("Siân", "Sian"), ("Michael", "Micheal"),
    ("Matthew", "Mathew"), ("Christopher", "Kristopher"), ("Rachel", "Rachael"),
    ("Elizabeth", "Elisabeth"), ("Deborah", "Debra"), ("Natalie", "Nathalie"),
)
GIVEN_NAME_SINGLES: tuple[str, ...] = (
    "Aisha", "Adam", "Abdul", "Agnes", "Alfie", "Alice", "Amara", "Amelia", "Andrew", "Anika",
    "Arjun", "Ava", "Barry", "Beatrice", "Bethany", "Bilal", "Bogdan", "Brenda", "Chidi",
    "Colin", "Craig", "Daniel", "Darren", "Declan", "Denise", "Dylan", "Elif", "Ellie", "Emma",
    "Ewan", "Fatima", "Finley", "Fiona", "Freya", "Gareth", "Gemma", "George", "Grace", "Hamza",
    "Harriet", "Harry", "Hassan", "Ibrahim", "Imran", "Irene", "Jack", "Jade", "Jakub", "James",
    "Janet", "Jasmine", "Joanne", "Joseph", "Julie", "Kareem", "Kayleigh", "Keith", "Kelly",
    "Kevin", "Kwame", "Laura", "Leah", "Liam", "Lily", "Lucy", "Maja", "Malik", "Margaret",
    "Maria", "Martin", "Maureen", "Milena", "Nadia", "Nathan", "Neil", "Noah", "Olivia",
    "Oskar", "Owen", "Patricia", "Paul", "Pauline", "Priya", "Rahul", "Ravi", "Rhys", "Robert",
    "Rosa", "Ruby", "Ryan", "Samira", "Sandra", "Scott", "Simone", "Stacey", "Susan", "Tariq",
    "Thomas", "Tomasz", "Usman", "Valerie", "Wayne", "Yusuf", "Zara", "Peter", "David",
    "Richard", "Anthony", "Simon", "Ian", "Kevin", "Jason", "Dean", "Oliver", "Charlie",
    "Jacob", "Joshua", "Luke", "Kieran", "Jamie", "Omar", "Piotr", "Andrei", "Emeka", "Ngozi",
    "Niamh", "Aoife", "Róisín", "Helen", "Karen", "Michelle", "Victoria", "Charlotte",
    "Jennifer", "Lauren", "Jessica", "Emily", "Mia", "Isla", "Evie", "Poppy", "Esther",
)
# Invented family names: a head and a tail ("Brack" + "well"), so no real family is named.
FAMILY_HEADS: tuple[str, ...] = (
    "Ash", "Brack", "Corr", "Dun", "Els", "Farr", "Gild", "Har", "Ing", "Jess", "Kell", "Lark",
    "Marl", "Nor", "Orch", "Pen", "Quar", "Rush", "Stann", "Toll", "Up", "Venn", "Weth", "Yar",
    "Bal", "Cald", "Dray", "Fenn", "Gorr", "Hask", "Lind", "Mott", "Pell", "Rid", "Sell",
    "Thorn", "Wick", "Ald", "Brom", "Cran", "Dew", "Esk", "Fal", "Grim", "Holl", "Kin", "Lod",
    "Mab", "Nett", "Osk", "Pry", "Rook", "Sand", "Tarr", "Ulv", "Wynd", "Beck", "Chad", "Dorr",
    "Frith", "Garr", "Hob", "Jarr", "Kestr", "Lud", "Morr", "Ness", "Ottr", "Pask", "Rim",
)
FAMILY_TAILS: tuple[str, ...] = (
    "down", "well", "in", "more", "worth", "ow", "en", "wick", "ram", "op", "away", "lowe",
    "cott", "ard", "hale", "ry", "mere", "ey", "wood", "by", "ford", "stead", "gate", "ton",
    "ridge", "holme", "shaw", "croft", "lake", "ington", "son", "er", "ley", "ing", "ith",
    "ett", "ick", "ell", "iss", "ane",
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
VOWELS = "aeiou"


@dataclass(frozen=True)
class Someone:
    id: int
    given: str
    family: str
    known_as: str | None
    born: date | None
    postcode: str | None


@dataclass(frozen=True)
class Lookup:
    kind: str  # typo, swapped, known_as, case_spacing, new
    given: str
    family: str
    born: date | None
    postcode: str | None
    target: int | None  # the person it should find, if they exist


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people", type=int, default=1_000_000,
                        help="people in the duplicate-check database (default 1,000,000)")
    parser.add_argument("--dup-lookups", type=int, default=300,
                        help="timed duplicate checks through the index (default 300)")
    parser.add_argument("--dup-scan-lookups", type=int, default=20,
                        help="the same checks by full scan, the baseline (default 20)")


def run(options: argparse.Namespace) -> list[Result]:
    people = int(getattr(options, "people", 1_000_000))
    lookups = int(getattr(options, "dup_lookups", 300))
    scan_lookups = min(lookups, int(getattr(options, "dup_scan_lookups", 20)))
    deadline = time.monotonic() + MAX_SECONDS
    with lookup_engines("dup", LOOKUP_TIMEOUT_MS * 10) as (engine, scan_engine):
        return _run(engine, scan_engine, people, lookups, scan_lookups, deadline)


def _run(engine: Engine, scan_engine: Engine, people: int, lookups: int, scan_lookups: int,
         deadline: float) -> list[Result]:
    rng = random.Random(SEED)
    progress("migrating")
    migrate.upgrade(engine)
    targets = _load(engine, people, rng, deadline)
    plan = _lookups(targets, lookups, random.Random(SEED + 1))

    progress(f"{WARMUP} warm-up checks, then {lookups} timed checks through the index")
    for lookup in plan[:WARMUP]:
        _check(engine, lookup, full_scan=False)
    indexed: list[float] = []
    answers: list[list[PossibleDuplicate]] = []
    for lookup in plan:
        _stop_if_late(deadline)
        ms, found = _check(engine, lookup, full_scan=False)
        indexed.append(ms)
        answers.append(found)

    progress(f"{scan_lookups} of the same checks by full scan (indexes off), after 2 warm-up")
    for lookup in plan[:2]:
        _check(scan_engine, lookup, full_scan=True)
    scanned: list[float] = []
    same_answers = 0
    for lookup, answer in zip(plan[:scan_lookups], answers, strict=False):
        _stop_if_late(deadline)
        ms, found = _check(scan_engine, lookup, full_scan=True)
        scanned.append(ms)
        same_answers += found == answer

    _summary(plan, answers, indexed, same_answers, scan_lookups)
    size = _people_label(people)
    p95, scan_p95 = percentile(indexed, 95), percentile(scanned, 95)
    p50, scan_p50 = percentile(indexed, 50), percentile(scanned, 50)
    return [
        Result(f"duplicate check p95 ({size} people, PostgreSQL)", p95, "ms",
               f"full scan p95 ({len(scanned)} checks)", scan_p95,
               target=f"< {TARGET_MS:g} ms", passed=p95 < TARGET_MS),
        Result(f"duplicate check p50 ({size} people, PostgreSQL)", p50, "ms",
               f"full scan p50 ({len(scanned)} checks)", scan_p50),
    ]


def _check(engine: Engine, lookup: Lookup, *, full_scan: bool
           ) -> tuple[float, list[PossibleDuplicate]]:
    with Session(engine) as session, session.begin():
        if full_scan:
            for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                session.execute(text(f"SET LOCAL {setting} = off"))
        session.execute(text(f"SET LOCAL statement_timeout = {LOOKUP_TIMEOUT_MS}"))
        started = time.perf_counter()
        found = find_possible_duplicates(
            session, given_name=lookup.given, family_name=lookup.family,
            date_of_birth=lookup.born, postcode=lookup.postcode,
        )
        return (time.perf_counter() - started) * 1000, found


def _summary(plan: list[Lookup], answers: list[list[PossibleDuplicate]], indexed: list[float],
             same_answers: int, scan_lookups: int) -> None:
    existing = [(lk, a) for lk, a in zip(plan, answers, strict=True) if lk.target is not None]
    with_birth = [(lk, a) for lk, a in existing if lk.born is not None]

    def share(pairs: list[tuple[Lookup, list[PossibleDuplicate]]], top: int) -> str:
        if not pairs:
            return "-"
        hits = sum(lk.target in [d.person_id for d in a[:top]] for lk, a in pairs)
        return f"{100 * hits / len(pairs):.0f}% of {len(pairs)}"

    progress(f"someone on the system: found first {share(existing, 1)}, in the top 10 "
             f"{share(existing, 10)}; with a date of birth: first {share(with_birth, 1)}, "
             f"in the top 10 {share(with_birth, 10)}")
    by_kind: dict[str, list[float]] = {}
    for lookup, ms in zip(plan, indexed, strict=True):
        by_kind.setdefault(lookup.kind, []).append(ms)
    progress("p95 by kind: " + ", ".join(
        f"{kind} {percentile(times, 95):.1f} ms ({len(times)})" for kind, times in by_kind.items()
    ))
    progress(f"full-scan answers identical to the indexed ones: {same_answers} of {scan_lookups}")


def _stop_if_late(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"duplicate benchmark ran past {MAX_SECONDS} s; stopped")


def _people_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


# --- the population -----------------------------------------------------------------------------


def _zipf_weights(count: int, offset: float) -> list[float]:
    return [1 / (rank + offset) for rank in range(1, count + 1)]


def _given_names(rng: random.Random) -> list[str]:
    names = sorted({n for group in GIVEN_NAME_GROUPS for n in group} | set(GIVEN_NAME_SINGLES))
    rng.shuffle(names)
    return names


def _family_names(rng: random.Random) -> list[str]:
    """Invented names, about one in eight with a variant spelling alongside (Smith/Smyth)."""
    names = sorted({h + t for h in FAMILY_HEADS for t in FAMILY_TAILS})
    variants = []
    for name in names:
        if rng.random() < 0.125:
            variant = name.replace("i", "y", 1) if "i" in name[1:] else name + "e"
            variants.append(variant)
    names = sorted(set(names) | set(variants))
    rng.shuffle(names)
    return names


def _postcodes(count: int, rng: random.Random) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        found.add(f"NS{rng.randint(1, 99)} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}"
                  f"{rng.choice(INWARD_LETTERS)}")
    return sorted(found)


def _load(engine: Engine, count: int, rng: random.Random, deadline: float) -> list[Someone]:
    """COPY `count` people (and homes for ~40%) in; return a sample to look up later."""
    given_names, family_names = _given_names(rng), _family_names(rng)
    given_weights = _zipf_weights(len(given_names), 20)
    family_weights = _zipf_weights(len(family_names), 20)
    locations = max(1, round(count * ADDRESSED / PEOPLE_PER_LOCATION))
    postcodes = _postcodes(max(1, locations // LOCATIONS_PER_POSTCODE), rng)
    location_postcode = [rng.choice(postcodes) for _ in range(locations)]
    sample = set(rng.sample(range(1, count + 1), k=min(count, 2_000)))
    kept: list[Someone] = []
    normalised = lru_cache(maxsize=None)(normalise_name)
    now = datetime.now(UTC)
    first_day, days = date(1935, 1, 1).toordinal(), (date(2024, 12, 31) - date(1935, 1, 1)).days
    batch = 5_000

    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        with connection.cursor() as cursor:
            progress("dropping the trigram index for the load (rebuilt after)")
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (INDEX,))
            row = cursor.fetchone()
            assert row is not None, "migration 0002 did not create the trigram index"
            index_definition = row[0]
            cursor.execute(f"DROP INDEX {INDEX}")
            with cursor.copy("COPY locations (id, address_line_1, town, postcode, created_at)"
                             " FROM STDIN") as copy:
                for i, postcode in enumerate(location_postcode, start=1):
                    copy.write_row((i, f"{i} Generated Street", "Northshire", postcode, now))
            connection.commit()
            columns = ("id, given_name, family_name, known_as, search_given, search_family,"
                       " date_of_birth, needs_interpreter, restricted, created_at, updated_at")
            started = time.monotonic()
            homes: list[tuple[int, int, int]] = []
            for start in range(1, count + 1, batch):
                _stop_if_late(deadline)
                end = min(count, start + batch - 1)
                n = end - start + 1
                givens = rng.choices(given_names, weights=given_weights, k=n)
                families = rng.choices(family_names, weights=family_weights, k=n)
                with cursor.copy(f"COPY people ({columns}) FROM STDIN") as copy:
                    for offset in range(n):
                        person_id = start + offset
                        given, family = givens[offset], families[offset]
                        known_as = _nickname(given, rng) if rng.random() < 0.05 else None
                        born = (None if rng.random() < 0.05
                                else date.fromordinal(first_day + rng.randrange(days)))
                        search_given = " ".join(
                            p for p in (normalised(given), normalised(known_as)) if p
                        )
                        copy.write_row((person_id, given, family, known_as, search_given,
                                        normalised(family), born, False, False, now, now))
                        location = (rng.randrange(locations) + 1
                                    if rng.random() < ADDRESSED else None)
                        if location is not None:
                            homes.append((len(homes) + 1, person_id, location))
                        if person_id in sample:
                            kept.append(Someone(
                                person_id, given, family, known_as, born,
                                location_postcode[location - 1] if location else None,
                            ))
                if end % 100_000 == 0 or end == count:
                    rate = end / max(time.monotonic() - started, 1e-9)
                    progress(f"loaded {end:,} of {count:,} people ({rate:,.0f}/s)")
            with cursor.copy("COPY person_addresses (id, person_id, location_id, kind)"
                             " FROM STDIN") as copy:
                for home in homes:
                    copy.write_row((*home, "home"))
            for table in ("people", "locations", "person_addresses"):  # fixed names
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                               f" (SELECT max(id) FROM {table}))")
            connection.commit()
            progress(f"{len(homes):,} home addresses at {len(postcodes):,} postcodes; "
                     "building the trigram index")
            _stop_if_late(deadline)
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute(index_definition)
            connection.commit()
        connection.autocommit = True
        progress("VACUUM ANALYZE")
        with connection.cursor() as cursor:
            for table in ("people", "locations", "person_addresses"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        connection.autocommit = False
    finally:
        raw.close()
    return kept


def _nickname(given: str, rng: random.Random) -> str:
    short = given[:3] if len(given) > 4 else given
    return short + rng.choice(("", "ie", "y", "s"))


# --- the lookups --------------------------------------------------------------------------------


def _lookups(people: list[Someone], count: int, rng: random.Random) -> list[Lookup]:
    kinds = rng.choices(("typo", "swapped", "known_as", "case_spacing", "new"),
                        weights=(40, 20, 5, 5, 30), k=count)
    with_known_as = [p for p in people if p.known_as]
    given_pool = [p.given for p in people]
    family_pool = [p.family for p in people]
    plan = []
    for kind in kinds:
        if kind == "known_as" and not with_known_as:
            kind = "typo"
        if kind == "new":
            born = date(1935, 1, 1) + timedelta(days=rng.randrange(32_000))
            plan.append(Lookup(kind, rng.choice(given_pool), rng.choice(family_pool),
                               born if rng.random() < 0.7 else None, None, None))
            continue
        who = rng.choice(with_known_as if kind == "known_as" else people)
        given, family = who.given, who.family
        if kind == "typo":
            if rng.random() < 0.5:
                given = _typo(given, rng)
            else:
                family = _typo(family, rng)
        elif kind == "swapped":
            given, family = family, given
        elif kind == "known_as":
            given = who.known_as or given
        else:
            given, family = f"  {given.upper()} ", family.lower().replace("-", " ")
        born = who.born
        if born is not None and rng.random() < 0.3:
            born = None if rng.random() < 0.5 else _swap_day_month(born)
        postcode = who.postcode if rng.random() < 0.3 else None
        plan.append(Lookup(kind, given, family, born, postcode, who.id))
    return plan


def _typo(name: str, rng: random.Random) -> str:
    """One dropped, doubled, swapped or changed letter, never the first."""
    if len(name) < 3:
        return name + name[-1]
    i = rng.randint(1, len(name) - 2)
    kind = rng.random()
    if kind < 0.3:
        return name[:i] + name[i + 1:]
    if kind < 0.5:
        return name[:i] + name[i] + name[i:]
    if kind < 0.8:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    vowels = [j for j in range(1, len(name)) if name[j] in VOWELS]
    if not vowels:
        return name[:i] + name[i + 1:]
    j = rng.choice(vowels)
    return name[:j] + rng.choice([v for v in VOWELS if v != name[j]]) + name[j + 1:]


def _swap_day_month(born: date) -> date | None:
    if born.day > 12 or born.day == born.month:
        return born
    return born.replace(month=born.day, day=born.month)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates", description=__doc__)
    add_arguments(parser)
    options = parser.parse_args(argv)
    failed = False
    for result in run(options):
        print(result.line(), flush=True)
        failed |= result.passed is False
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What one search box finds, each kind in a bounded number of set-based queries.

- Cases (only those storage.access.visible_cases lets the user see): by reference, exact or
  the start of one, any case (the unique index on cases.reference), and by words of the title.
- People (profiles are shared): by name through the normalised search names
  (`people.search_given`, "given known-as", and `people.search_family`). First everyone
  whose every typed word starts a word of their names (one query; LIKE, which the two-column
  GIN trigram index answers on PostgreSQL); if they are fewer than a page, also names spelt
  alike (candidates from that index's word similarity on PostgreSQL, or by first letters on
  SQLite; accepted and ranked by the same `name_score` in Python on both). Or by
  date of birth when the text is a date. A restricted
  person the user does not work with is listed by name only, and never found by date of birth
  (that would tell a stranger their date of birth).
- Locations: by postcode (typed with or without the space, or just its first half), or by
  words of the address.

Reading only: the view audits the search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, text
from sqlalchemy.orm import Session

from storage.access import can_see_case, visible_cases
from storage.accounts.models import User
from storage.agencies.models import Agency
from storage.cases.models import Case, CaseStatus, RiskLevel
from storage.people.models import Location, Person
from storage.people.names import jaro_winkler, normalise_name
from storage.people.services import POSTCODE_SHAPE, normalise_postcode
from web.profiles.records import person_open_to, type_join, type_name

RESULT_LIMIT = 20
# Name search: how alike a misspelt word must be to a word of the name (Jaro-Winkler, with
# the same first letter): Jhon/John 0.93, Smyth/Smith 0.89, Stephen/Steven 0.89.
WORD_SIMILARITY = 0.84
# PostgreSQL: pg_trgm word_similarity a name needs to be a candidate ("smyth" in "john smith"
# is 0.33, "jhon smith" 0.55; one swapped letter in a short single name, "jhon" alone, is only
# 0.2: the family name finds it). Lower finds more and checks more rows.
TRIGRAM_WORD_THRESHOLD = 0.3
# Most candidates handed to the scoring; reaching it says "more than".
TRIGRAM_CANDIDATES = 500
PREFIX_CANDIDATES = 20_000

_REFERENCE = re.compile(r"[A-Za-z]{2,}(-[A-Za-z0-9]*)*")
_OUTWARD_CODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_WORD = re.compile(r"\w+")
_RANGE_SAFE = re.compile(r"[A-Z0-9 -]+")
_TRAILING_SEPARATORS = re.compile(r"[ -]+$")

T = TypeVar("T")


@dataclass
class Found(Generic[T]):
    items: list[T] = field(default_factory=list)
    count: int = 0
    more: bool = False  # there are more than `count` (a candidate limit was reached)

    @property
    def shown(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class CaseHit:
    reference: str
    title: str
    case_type: str
    status: CaseStatus
    risk_level: RiskLevel | None
    agency: str
    opened_at: datetime


@dataclass(frozen=True)
class PersonHit:
    id: int
    name: str
    known_as: str | None
    date_of_birth: date | None  # None for a locked profile
    restricted: bool
    locked: bool  # the user sees only the name


@dataclass(frozen=True)
class LocationHit:
    id: int
    address: str
    area: str | None
    ward: str | None


def parse_date(raw: str) -> date | None:
    """A date typed as dd/mm/yyyy (or with dots or dashes) or yyyy-mm-dd, else None."""
    term = raw.strip()
    if match := _YMD.fullmatch(term):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DMY.fullmatch(term):
        day, month, year = (int(g) for g in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: Any, word: str) -> ColumnElement[bool]:
    return column.ilike(f"%{_escape(word)}%", escape="\\")


def _longest_first(words: list[str]) -> list[str]:
    return sorted(dict.fromkeys(w.lower() for w in words), key=len, reverse=True)


# --- cases ------------------------------------------------------------------------------------


def find_cases(session: Session, user: User, raw: str) -> Found[CaseHit]:
    term = raw.strip()
    if parse_date(term):
        return Found()
    routes: list[ColumnElement[bool]] = []
    reference = term.upper() if _REFERENCE.fullmatch(term) else None
    if reference:
        # The reference's own (unique) index answers both exact and prefix.
        routes.append(starts_with(Case.reference, reference))
    words = [w for w in _WORD.findall(term) if len(w) >= 2]
    if words and not (reference and any(c.isdigit() for c in term)):
        # No index on titles (yet): a scan, testing the likeliest to fail (longest) word first.
        routes.append(and_(*(_contains(Case.title, w) for w in _longest_first(words))))
    if not routes:
        return Found()
    rank = case((Case.reference == reference, 0), else_=1) if reference else literal(1)
    rows = session.execute(
        select(Case.reference, Case.title, type_name(), Case.status, Case.risk_level,
               Agency.name.label("agency"), Case.opened_at, func.count().over().label("total"))
        .join(Agency, Agency.id == Case.owning_agency_id)
        .outerjoin(*type_join())
        .where(or_(*routes), visible_cases(user))
        .order_by(rank, Case.opened_at.desc(), Case.id.desc())
        .limit(RESULT_LIMIT)
    ).all()
    return Found([CaseHit(r.reference, r.title, r.type_name, r.status, r.risk_level, r.agency,
                          r.opened_at) for r in rows], rows[0].total if rows else 0)


@dataclass(frozen=True)
class RestrictedHit:
    """A restricted case the user may not open: only that it exists and whom to ask."""

    reference: str
    agency: str


def restricted_case(session: Session, user: User, raw: str) -> RestrictedHit | None:
    """The exact reference of a restricted case the user may not see (the case page tells
    them whom to contact and lets them ask for access); nothing for any other search."""
    term = raw.strip().upper()
    if not _REFERENCE.fullmatch(term):
        return None
    found = session.scalar(select(Case).where(Case.reference == term,
                                              Case.restricted.is_(True)))
    if found is None or can_see_case(session, user, found):
        return None
    return RestrictedHit(found.reference, found.owning_agency.name)


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column LIKE 'prefix%'` that an ordinary b-tree index can answer whatever the collation.

    PostgreSQL uses a b-tree for LIKE only under the C collation, so a range that holds every
    string starting with the prefix goes with it (the LIKE stays the exact test).
    """
    like = column.like(f"{_escape(prefix)}%", escape="\\")
    bounds = _prefix_range(prefix)
    if bounds is None:
        return like
    low, high = bounds
    return and_(column >= low, column < high, like) if high else and_(column >= low, like)


def _prefix_range(prefix: str) -> tuple[str, str | None] | None:
    """Bounds around every string of capitals, digits, spaces and hyphens that starts with
    `prefix`, in code-point order and in the usual collations (which ignore spaces and
    hyphens at first): the prefix without its trailing separators, and it with its last
    letter or digit counted up ("ASB-2026-0001" < "ASB-2026-0002"; "AB1 " < "AB2")."""
    if not _RANGE_SAFE.fullmatch(prefix):
        return None
    low = _TRAILING_SEPARATORS.sub("", prefix)
    if not low:
        return None
    chars = list(low)
    while chars and (chars[-1] in "9Z" or not chars[-1].isalnum()):
        chars.pop()
    if not chars:
        return low, None
    chars[-1] = chr(ord(chars[-1]) + 1)
    return low, "".join(chars)


# --- people -----------------------------------------------------------------------------------


def find_people(session: Session, user: User, raw: str) -> Found[PersonHit]:
    """People whose every typed word starts a word of their name (exact words first); and, if
    those are fewer than a page, people whose names are spelt alike (best first)."""
    born = parse_date(raw)
    if born is not None:
        return _people_born_on(session, user, born)
    words = list(dict.fromkeys(normalise_name(raw).split()))
    if not words or any(c.isdigit() for c in raw):
        return Found()  # names have no digits: a reference or a postcode is not a name
    exact = sum((case((_word_is(w), 1), else_=0) for w in words), literal(0))
    rows = session.execute(
        select(Person.id, func.count().over().label("total"))
        .where(*(_word_starts(w) for w in words))
        .order_by(exact.desc(), Person.family_name, Person.given_name, Person.id)
        .limit(RESULT_LIMIT)
    ).all()
    ids = [r.id for r in rows]
    count = rows[0].total if rows else 0
    more = False
    if count < RESULT_LIMIT:
        if session.get_bind().dialect.name == "postgresql":
            candidates, limit = _trigram_candidates(session, words), TRIGRAM_CANDIDATES
        else:
            candidates, limit = _prefix_candidates(session, words), PREFIX_CANDIDATES
        known = set(ids)
        scored = []
        for person_id, name in candidates:
            if person_id in known:
                continue
            score = name_score(words, name.split())
            if score is not None:
                scored.append((-score, name, person_id))
        scored.sort()
        ids += [person_id for _, _, person_id in scored[:RESULT_LIMIT - len(ids)]]
        count += len(scored)
        more = len(candidates) >= limit
    details = {hit.id: hit for hit in _people(session, user, Person.id.in_(ids))} if ids else {}
    return Found([details[i] for i in ids if i in details], count, more)


def _names() -> tuple[Any, Any]:
    return Person.search_given, Person.search_family


def _word_starts(word: str) -> ColumnElement[bool]:
    """A word of their search names starts with `word` (the trigram index answers LIKE)."""
    escaped = _escape(word)
    return or_(*(test for column in _names() for test in (
        column.like(f"{escaped}%", escape="\\"), column.like(f"% {escaped}%", escape="\\"))))


def _word_is(word: str) -> ColumnElement[bool]:
    escaped = _escape(word)
    return or_(*(test for column in _names() for test in (
        column == word, column.like(f"{escaped} %", escape="\\"),
        column.like(f"% {escaped}", escape="\\"), column.like(f"% {escaped} %", escape="\\"))))


def name_score(query: list[str], name: list[str]) -> float | None:
    """How well every word typed fits a word of the name (0..1), or None if one does not.

    A word fits a word of the name that is the same (1), starts with it (a little less), or
    is spelt alike with the same first letter (Jaro-Winkler at least WORD_SIMILARITY).
    """
    total = 0.0
    for typed in query:
        best = 0.0
        for word in name:
            if word == typed:
                best = 1.0
                break
            if word.startswith(typed):
                best = max(best, 0.9 + 0.05 * len(typed) / len(word))
            elif len(typed) >= 3 and word[0] == typed[0]:
                similarity = jaro_winkler(typed, word)
                if similarity >= WORD_SIMILARITY:
                    best = max(best, similarity)
        if not best:
            return None
        total += best
    return total / len(query)


def _whole_name() -> ColumnElement[str]:
    return Person.search_given.concat(" ").concat(Person.search_family)


def _trigram_candidates(session: Session, words: list[str]) -> list[tuple[int, str]]:
    """PostgreSQL: the GIN trigram index on (search_given, search_family) (`%>`: word
    similarity), best first, among names with a word starting with each typed word's first
    letter (as name_score requires; tested first, it spares most of the costly similarity
    checks)."""
    typed = " ".join(words)
    # Both settings are local to this transaction. The planner misjudges how many rows `%>`
    # keeps and may scan the table instead, computing the similarity for every row (5x
    # slower at 300,000 people): the index is always the better way here, so it is told so
    # for this one statement.
    scans = session.execute(text(
        "SELECT current_setting('enable_seqscan'),"
        " set_config('pg_trgm.word_similarity_threshold', :threshold, true),"
        " set_config('enable_seqscan', 'off', true)"
    ), {"threshold": str(TRIGRAM_WORD_THRESHOLD)}).one()[0]
    given, family = _names()
    try:
        rows = session.execute(
            select(Person.id, _whole_name().label("name"))
            .where(*_first_letters(words), or_(given.op("%>")(typed), family.op("%>")(typed)))
            .order_by(func.greatest(func.word_similarity(typed, given),
                                    func.word_similarity(typed, family)).desc(), Person.id)
            .limit(TRIGRAM_CANDIDATES)
        ).all()
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :scans, true)"),
                        {"scans": scans})
    return [(r.id, r.name) for r in rows]


def _first_letters(words: list[str]) -> list[ColumnElement[bool]]:
    return [_word_starts(letter) for letter in dict.fromkeys(w[0] for w in words)]


def _prefix_candidates(session: Session, words: list[str]) -> list[tuple[int, str]]:
    """SQLite (no trigram index): names with a word starting with each typed word's first
    letter, everything name_score can accept."""
    rows = session.execute(
        select(Person.id, _whole_name().label("name"))
        .where(*_first_letters(words))
        .order_by(Person.id)
        .limit(PREFIX_CANDIDATES)
    )
    return [(r.id, r.name) for r in rows]


def _people_born_on(session: Session, user: User, born: date) -> Found[PersonHit]:
    rows = session.execute(
        select(Person.id, func.count().over().label("total"))
        .where(Person.date_of_birth == born, person_open_to(user))
        .order_by(Person.family_name, Person.given_name, Person.id)
        .limit(RESULT_LIMIT)
    ).all()
    if not rows:
        return Found()
    ids = [r.id for r in rows]
    details = {hit.id: hit for hit in _people(session, user, Person.id.in_(ids))}
    return Found([details[i] for i in ids], rows[0].total)


def _people(session: Session, user: User, where: ColumnElement[bool]) -> list[PersonHit]:
    open_to = case((person_open_to(user), literal(True)), else_=literal(False))
    hits = []
    for r in session.execute(
        select(Person.id, Person.given_name, Person.family_name, Person.known_as,
               Person.date_of_birth, Person.restricted, open_to.label("open")).where(where)
    ):
        locked = r.restricted and not r.open
        hits.append(PersonHit(
            r.id, " ".join(p for p in (r.given_name, r.family_name) if p),
            None if locked else r.known_as, None if locked else r.date_of_birth,
            bool(r.restricted), bool(locked),
        ))
    return hits


# --- locations --------------------------------------------------------------------------------


def find_locations(session: Session, raw: str) -> Found[LocationHit]:
    term = raw.strip()
    if parse_date(term):
        return Found()
    compact = re.sub(r"\s+", "", term).upper()
    postcode = normalise_postcode(term)
    if POSTCODE_SHAPE.fullmatch(postcode):
        where: ColumnElement[bool] = Location.postcode == postcode
    elif _OUTWARD_CODE.fullmatch(compact):
        where = starts_with(Location.postcode, f"{compact} ")
    else:
        words = _WORD.findall(term)
        if not words:
            return Found()
        # One column at a time, so trigram indexes on them would serve (there are none yet).
        where = and_(*(
            or_(*(_contains(column, w) for column in (
                Location.address_line_1, Location.description, Location.town,
                Location.address_line_2)))
            for w in _longest_first(words)
        ))
    rows = session.execute(
        select(Location, func.count().over().label("total")).where(where)
        .order_by(Location.postcode, Location.address_line_1, Location.description, Location.id)
        .limit(RESULT_LIMIT)
    ).all()
    return Found([LocationHit(r.Location.id, r.Location.one_line(), r.Location.area,
                              r.Location.ward) for r in rows], rows[0].total if rows else 0)

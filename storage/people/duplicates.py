"""Who might already be on the system: the check a practitioner sees before adding a person.

Repeat victims are the people partnerships most need to recognise, and the easiest to key in
twice (Jon for John, Smyth for Smith, names the wrong way round, a day and month swapped).
`find_possible_duplicates` answers in two steps.

1. Candidates from the database, by routes unioned in one statement:
   - by name, assuming at most one of the two names was keyed wrong (`_ways`): one name is
     found as keyed, in their `search_given` ("given known-as") or `search_family`; the
     other must be like a word or run of words of the other column, at least
     `typo_threshold` similar. Keeping the two names in separate columns is what keeps this
     narrow: the Michelles whose family name is like "Holelle", not every Michelle (whose
     given name alone shares three of Holelle's eight trigrams). On PostgreSQL each way is
     one scan of a two-column GIN trigram index (`search_given LIKE '%michelle%' AND
     search_family %>> 'holelle'`), most similar first. SQLite (small partnerships, no
     trigram index) asks every row what the index asks before PostgreSQL rechecks a row:
     the LIKE, and enough of the other name's trigrams (LIKE tests too).
   - by date of birth: the same date, or the date with day and month swapped (btree index);
   - by postcode: anyone with an address at the same (normalised) postcode.
2. Scoring in Python (`_assess`), the same on both databases: which arrangement of the names
   fits best (as keyed, swapped, or with the known-as name), how the date of birth compares,
   whether the postcode is shared. The rule for accepting a candidate by name
   (`_found_by_name`) asks as much as either database's name route or more, so both find
   everything it accepts and give the same answers (tests/storage/people/test_duplicates.py
   runs both routes on PostgreSQL and compares them).

Reading only: nothing is written or audited here (the caller audits a search if it must).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import Session

from storage.errors import InvalidRequest
from storage.people.models import Location, Person, PersonAddress
from storage.people.names import (
    best_span_similarity,
    jaro_winkler,
    name_key,
    normalise_name,
    search_name_for,
    trigrams,
)
from storage.people.services import POSTCODE_SHAPE, normalise_postcode

# How similar (trigram similarity against a run of their words) a name keyed wrongly must
# still be. One dropped, added, changed or swapped letter changes at most TYPO_TRIGRAMS of a
# name's n trigrams, leaving it at least (n - 4) / (n + 4) similar to the name it was meant
# to be (Jhon/John 0.11, Smyth/Smith 0.2, Kingatte/Kingate 0.38): the threshold is that, less
# a little, rounded down.
TYPO_TRIGRAMS = 4
TYPO_MARGIN = 0.01
TYPO_FLOOR = 0.001  # at least one trigram in common, for names of up to 3 letters
# Name agreement (0..1, Jaro-Winkler averaged over given and family name) needed with...
NAME_ALONE = 0.85  # ...nothing else in common (and found by name, as above);
NAME_WITH_BIRTH_DATE = 0.7  # ...the same date of birth, or it with day and month swapped;
NAME_WITH_POSTCODE = 0.8  # ...an address at the same postcode.
# How the parts add up to the score (at most 1).
WEIGHT_NAME = 0.65
BONUS_SAME_BIRTH_DATE = 0.25
BONUS_SWAPPED_BIRTH_DATE = 0.2
BONUS_SAME_BIRTH_YEAR = 0.08
PENALTY_OTHER_BIRTH_DATE = 0.1
BONUS_SAME_POSTCODE = 0.1
# Most candidates each route hands to the scoring.
NAME_CANDIDATES = 40  # per way by name
BIRTH_DATE_CANDIDATES = 300
POSTCODE_CANDIDATES = 300
SCAN_CANDIDATES = 2000  # SQLite's name route, all ways together
MAX_LIMIT = 100


@dataclass(frozen=True)
class PossibleDuplicate:
    person_id: int
    score: float  # 0..1, higher is more likely the same person
    reasons: tuple[str, ...]  # plain English, strongest first


@dataclass(frozen=True)
class _Query:
    given: str  # name_key: normalised, no spaces
    family: str
    search_name: str  # "given family", normalised: ranks the name route's candidates
    parts: tuple[str, ...]  # the given and the family name, normalised, those not empty
    thresholds: tuple[float, ...]  # typo_threshold of each part
    date_of_birth: date | None
    postcode: str | None
    ways: tuple[_Way, ...] = ()  # to find them by name (`_ways`)


def find_possible_duplicates(
    session: Session,
    *,
    given_name: str,
    family_name: str,
    date_of_birth: date | None = None,
    postcode: str | None = None,
    limit: int = 10,
) -> list[PossibleDuplicate]:
    """People who may be the person about to be created, most likely first (at most `limit`).

    One name is enough, as for creating a person; none is refused (InvalidRequest).
    """
    query = _query(given_name, family_name, date_of_birth, postcode, limit)
    use_trigram_index = session.get_bind().dialect.name == "postgresql"
    return _search(session, query, limit=limit, use_trigram_index=use_trigram_index)


def _query(given_name: str, family_name: str, date_of_birth: date | None,
           postcode: str | None, limit: int) -> _Query:
    errors: dict[str, str] = {}
    given, family = name_key(given_name), name_key(family_name)
    if not given and not family:
        errors["family_name"] = "Enter a name to look for (a first name or a last name is enough)"
    if postcode and postcode.strip():
        postcode = normalise_postcode(postcode)
        if not POSTCODE_SHAPE.match(postcode):
            errors["postcode"] = "Enter a real postcode, like AB1 2CD"
    else:
        postcode = None
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = f"Ask for between 1 and {MAX_LIMIT} possible duplicates"
    if errors:
        raise InvalidRequest(errors)
    parts = tuple(p for p in (normalise_name(given_name), normalise_name(family_name)) if p)
    thresholds = tuple(typo_threshold(p) for p in parts)
    return _Query(given, family, search_name_for(given_name, family_name), parts, thresholds,
                  date_of_birth, postcode, _ways(parts, thresholds))


def typo_threshold(name: str) -> float:
    """How like a run of a person's words `name` must be, if it is the one keyed wrong."""
    n = len(trigrams(name))
    typo_proof = (n - TYPO_TRIGRAMS) / (n + TYPO_TRIGRAMS) - TYPO_MARGIN
    return math.floor(max(TYPO_FLOOR, typo_proof) * 1000) / 1000


# --- the ways to find someone by name ---------------------------------------------------------


@dataclass(frozen=True)
class _Way:
    """`keyed_right` is in their `in_column` as keyed; `other` (if any) is like a run of words
    of their `other_column`: tested with %>> (strict word similarity, which is exactly
    best_span_similarity) or %> (word similarity, never less)."""

    keyed_right: str
    in_column: str
    other: str | None = None
    other_column: str = ""
    threshold: float = 1.0
    strict: bool = False


def _searchable(name: str) -> bool:
    """Whether LIKE '%name%' can use a trigram index (it needs a word of 3 letters)."""
    return any(len(word) >= 3 for word in name.split())


def _ways(parts: tuple[str, ...], thresholds: tuple[float, ...]) -> tuple[_Way, ...]:
    if len(parts) == 1:
        [name] = parts
        if not _searchable(name):
            return ()
        return (_Way(name, "search_given"), _Way(name, "search_family"))
    (given, family), (given_threshold, family_threshold) = parts, thresholds
    ways = []
    if _searchable(given):  # the family name may be wrong: as keyed, or the names swapped
        ways.append(_Way(given, "search_given", family, "search_family", family_threshold, True))
        ways.append(_Way(given, "search_family", family, "search_given", family_threshold, True))
    if _searchable(family):  # the given name may be wrong: as keyed, or the names swapped
        ways.append(_Way(family, "search_family", given, "search_given", given_threshold))
        ways.append(_Way(family, "search_given", given, "search_family", given_threshold))
    return tuple(ways)


def _found_by_name(query: _Query, row: Any) -> bool:
    """Found one of the `_ways`: what both databases' name routes find, or less."""
    columns = {"search_given": row.search_given, "search_family": row.search_family}
    return any(
        way.keyed_right in columns[way.in_column]
        and (way.other is None
             or best_span_similarity(way.other, columns[way.other_column]) >= way.threshold)
        for way in query.ways
    )


# --- candidates -------------------------------------------------------------------------------


def _search(session: Session, query: _Query, *, limit: int,
            use_trigram_index: bool) -> list[PossibleDuplicate]:
    if use_trigram_index and len(query.thresholds) == 2:
        # Local to this transaction: what %>> and %> mean in the index scans below (a family
        # name keyed wrong is tested with one, a given name keyed wrong with the other).
        given_threshold, family_threshold = query.thresholds
        session.execute(
            text("SELECT set_config('pg_trgm.strict_word_similarity_threshold', :family, true),"
                 " set_config('pg_trgm.word_similarity_threshold', :given, true)"),
            {"family": str(family_threshold), "given": str(given_threshold)},
        )
    rows = session.execute(_candidates(query, use_trigram_index)).all()
    found = [d for d in (_assess(query, row) for row in rows) if d is not None]
    found.sort(key=lambda d: (-d.score, d.person_id))
    return found[:limit]


def _candidates(query: _Query, use_trigram_index: bool) -> Select[Any]:
    people = Person.__table__
    routes: list[Select[Any]] = []
    if use_trigram_index:
        routes.extend(_by_trigrams(query))
    elif query.ways:
        routes.append(_by_trigram_counts(query))
    birth_dates = _birth_dates(query.date_of_birth)
    if birth_dates:
        routes.append(
            select(people.c.id)
            .where(people.c.date_of_birth.in_(birth_dates))
            .limit(BIRTH_DATE_CANDIDATES)
        )
    if query.postcode:
        routes.append(
            select(PersonAddress.person_id.label("id"))
            .join(Location, Location.id == PersonAddress.location_id)
            .where(Location.postcode == query.postcode)
            .limit(POSTCODE_CANDIDATES)
        )
    at_postcode: ColumnElement[bool]
    if query.postcode:
        at_postcode = exists().where(
            PersonAddress.person_id == people.c.id,
            Location.id == PersonAddress.location_id,
            Location.postcode == query.postcode,
        )
    else:
        at_postcode = literal(False)
    columns = (
        people.c.id, people.c.given_name, people.c.family_name, people.c.known_as,
        people.c.search_given, people.c.search_family, people.c.date_of_birth,
        at_postcode.label("at_postcode"),
    )
    if not routes:  # a name too short to search by, and nothing else
        return select(*columns).where(literal(False))
    # Each route is a subquery so its ORDER BY / LIMIT is legal inside the UNION on SQLite too.
    ids = union(*(select(r.subquery().c.id) for r in routes)).subquery()
    return select(*columns).where(people.c.id.in_(select(ids.c.id)))


def _by_trigrams(query: _Query) -> list[Select[Any]]:
    """PostgreSQL: each way, one scan of the GIN trigram index on (search_given,
    search_family), most similar first (a same birth year breaks ties)."""
    people = Person.__table__
    whole_name = people.c.search_given.concat(" ").concat(people.c.search_family)
    rank = func.similarity(whole_name, query.search_name)
    if query.date_of_birth is not None:
        year = query.date_of_birth.year
        rank = rank + case(
            (people.c.date_of_birth.between(date(year, 1, 1), date(year, 12, 31)), 0.1),
            else_=0.0,
        )
    selects = []
    for way in query.ways:
        tests = [people.c[way.in_column].like(f"%{way.keyed_right}%")]
        if way.other is not None:
            operator = "%>>" if way.strict else "%>"
            tests.append(people.c[way.other_column].op(operator)(way.other))
        selects.append(
            select(people.c.id).where(*tests).order_by(rank.desc(), people.c.id)
            .limit(NAME_CANDIDATES)
        )
    return selects


def _by_trigram_counts(query: _Query) -> Select[Any]:
    """SQLite: what the trigram index checks before PostgreSQL rechecks a row, by LIKE.

    A name at least t similar to a run of their words shares at least t x (its trigram count)
    of its trigrams with that column; each trigram is a LIKE test on " column ": "  jo" a
    word starting "jo", "ohn" those letters, "hn " a word ending "hn".
    """
    people = Person.__table__
    ways = []
    for way in query.ways:
        tests = [people.c[way.in_column].like(f"%{way.keyed_right}%")]
        if way.other is not None:
            padded = literal(" ").concat(people.c[way.other_column]).concat(" ")
            grams = sorted(trigrams(way.other))
            needed = max(1, math.floor(way.threshold * len(grams)))
            present = sum(
                (case((padded.like(f"%{_like_pattern(g)}%"), 1), else_=0) for g in grams),
                start=literal(0),
            )
            tests.append(present >= needed)
        ways.append(and_(*tests))
    return select(people.c.id).where(or_(*ways)).order_by(people.c.id).limit(SCAN_CANDIDATES)


def _like_pattern(gram: str) -> str:
    core = gram.strip(" ")
    return (" " if gram.startswith(" ") else "") + core + (" " if gram.endswith(" ") else "")


def _birth_dates(born: date | None) -> list[date]:
    if born is None:
        return []
    dates = [born]
    if born.day <= 12 and born.day != born.month:
        dates.append(born.replace(month=born.day, day=born.month))
    return dates


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NameFit:
    score: float  # 0..1
    arrangement: str  # "as keyed", "swapped", "known as"
    exact: bool


def _name_fit(query: _Query, given: str, family: str, known_as: str | None) -> _NameFit:
    """The best way the query's names line up with a person's recorded names."""
    arrangements: list[tuple[str, str, str]] = [("as keyed", given, family)]
    if given or family:
        arrangements.append(("swapped", family, given))
    known = normalise_name(known_as).split()
    if len(known) == 1:
        arrangements.append(("known as", known[0], family))
    elif len(known) > 1:
        arrangements.append(("known as", "".join(known[:-1]), known[-1]))
    best: _NameFit | None = None
    for arrangement, their_given, their_family in arrangements:
        pairs = [
            (ours, name_key(theirs))
            for ours, theirs in ((query.given, their_given), (query.family, their_family))
            if ours
        ]
        # A name they have no record of counts for half: not a match, not a mismatch.
        sims = [jaro_winkler(ours, theirs) if theirs else 0.5 for ours, theirs in pairs]
        fit = _NameFit(sum(sims) / len(sims), arrangement,
                       all(ours == theirs for ours, theirs in pairs))
        if best is None or (fit.score, fit.exact) > (best.score, best.exact):
            best = fit
    assert best is not None
    return best


def _name_reason(fit: _NameFit, row: Any) -> str:
    recorded = " ".join(p for p in (row.given_name, row.family_name) if p)
    if fit.arrangement == "swapped":
        swapped = "given and family names swapped"
        return f"{swapped} ({recorded})" if fit.exact else f"similar name, {swapped} ({recorded})"
    if fit.arrangement == "known as":
        if fit.exact:
            return f"known as {row.known_as} ({recorded})"
        return f"similar to the name they are known by, {row.known_as} ({recorded})"
    return "same name" if fit.exact else f"similar name ({recorded})"


def _assess(query: _Query, row: Any) -> PossibleDuplicate | None:
    """Score one candidate, or None if it is not a possible duplicate."""
    born, theirs = query.date_of_birth, row.date_of_birth
    same_birth_date = born is not None and theirs == born
    swapped_birth_date = (born is not None and theirs is not None and not same_birth_date
                          and theirs in _birth_dates(born))
    same_postcode = bool(row.at_postcode)
    found_by_name = _found_by_name(query, row)
    if not (found_by_name or same_birth_date or swapped_birth_date or same_postcode):
        return None  # most candidates: no need to compare names letter by letter

    fit = _name_fit(query, row.given_name, row.family_name, row.known_as)
    name_alone = found_by_name and fit.score >= NAME_ALONE
    with_birth_date = (same_birth_date or swapped_birth_date) and fit.score >= NAME_WITH_BIRTH_DATE
    with_postcode = same_postcode and fit.score >= NAME_WITH_POSTCODE
    if not (name_alone or with_birth_date or with_postcode):
        return None

    score = WEIGHT_NAME * fit.score
    reasons = [_name_reason(fit, row)]
    if same_birth_date:
        score += BONUS_SAME_BIRTH_DATE
        reasons.append("same date of birth")
    elif swapped_birth_date:
        score += BONUS_SWAPPED_BIRTH_DATE
        reasons.append("date of birth with day and month swapped")
    elif born is not None and theirs is not None:
        if theirs.year == born.year:
            score += BONUS_SAME_BIRTH_YEAR
            reasons.append("same year of birth")
        else:
            score -= PENALTY_OTHER_BIRTH_DATE
    if same_postcode:
        score += BONUS_SAME_POSTCODE
        reasons.append("same postcode")
    return PossibleDuplicate(row.id, round(min(1.0, max(0.0, score)), 3), tuple(reasons))

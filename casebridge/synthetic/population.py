"""The places and the people a synthetic partnership's cases are about, and when they come in.

Sized from the number of cases and built from the seed alone, before any case is worked, so
every worker process sees the same pools:

- addresses: homes in nine areas of Northshire (postcodes NS1 to NS9), and public places
  (parks, parades, stairwells) whose popularity falls off like Zipf's law: a few hot spots
  collect many incidents;
- known people: victims who report again and again (a few of them many times, to several
  agencies) and perpetrators who turn up on several cases, also Zipf-like. Each known person
  is "anchored" to one case so that nobody in the pool is left without a case;
- the timeline: when each case is reported, over the two years before `now`, with more
  reports in summer and in the evening.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from casebridge.synthetic import names

LONDON = ZoneInfo("Europe/London")
HISTORY_DAYS = 730


@dataclass(frozen=True)
class Place:
    id: int
    area: str
    ward: str
    postcode: str
    address_line_1: str | None
    address_line_2: str | None
    description: str | None


@dataclass(frozen=True)
class KnownPerson:
    id: int
    given_name: str
    family_name: str
    gender: str
    date_of_birth: date
    home_id: int  # a Place id
    created_at: datetime


class Zipf:
    """Draw index k in [0, n) with weight 1 / (k + 1 + offset) ** s, by bisection."""

    def __init__(self, n: int, s: float = 1.0, offset: float = 0.0) -> None:
        self.cum = list(accumulate(1.0 / (k + 1 + offset) ** s for k in range(n)))
        self.total = self.cum[-1] if self.cum else 0.0

    def draw(self, rng: random.Random) -> int:
        return min(bisect_right(self.cum, rng.random() * self.total), len(self.cum) - 1)


@dataclass
class Population:
    homes: list[Place]
    places: list[Place]
    victims: list[KnownPerson]
    perpetrators: list[KnownPerson]
    place_zipf: Zipf
    victim_zipf: Zipf
    perpetrator_zipf: Zipf
    cases: int
    since: datetime  # when the pooled places and people were first recorded

    def anchored_victim(self, i: int) -> KnownPerson | None:
        return _anchored(self.victims, i, self.cases)

    def anchored_perpetrator(self, i: int) -> KnownPerson | None:
        return _anchored(self.perpetrators, i, self.cases)


def _anchored(pool: list[KnownPerson], i: int, cases: int) -> KnownPerson | None:
    """Known person j is the subject of case floor((j + 0.5) * cases / len(pool))."""
    n = len(pool)
    if not n:
        return None
    j = int(i * n / cases)
    for k in (j - 1, j, j + 1):
        if 0 <= k < n and int((k + 0.5) * cases / n) == i:
            return pool[k]
    return None


def pool_sizes(cases: int) -> dict[str, int]:
    return {
        "homes": cases // 4 + 40,
        "places": cases // 150 + 12,
        "victims": max(3, cases // 22),
        "perpetrators": max(2, cases // 40),
    }


def build_population(
    seed: int, cases: int, *, location_base: int, person_base: int, start: datetime
) -> Population:
    """Every pooled place and person, with their database ids (bases from the writer)."""
    rng = random.Random(f"{seed}:population")  # noqa: S311 (reproducible synthetic data)
    sizes = pool_sizes(cases)
    area_pick = list(accumulate(names.AREA_WEIGHTS))
    next_id = location_base

    def area() -> tuple[str, str, str]:
        name, district, wards = names.AREAS[bisect_right(area_pick, rng.random() * area_pick[-1])]
        return name, district, rng.choice(wards)

    homes = []
    for _ in range(sizes["homes"]):
        next_id += 1
        name, district, ward = area()
        street = rng.choice(names.STREETS)
        if rng.random() < 0.3:
            line_1, line_2 = f"Flat {rng.randint(1, 60)}, {rng.choice(names.BLOCKS)}", street
        else:
            line_1, line_2 = f"{rng.randint(1, 180)} {street}", None
        homes.append(Place(next_id, name, ward, names.postcode(district, rng), line_1, line_2,
                           None))
    places = []
    for _ in range(sizes["places"]):
        next_id += 1
        name, district, ward = area()
        street = rng.choice(names.STREETS)
        kind = rng.choice(names.PLACE_KINDS)
        what = (f"{kind}, {rng.choice(names.BLOCKS)}" if kind == "Stairwell"
                else f"{kind} off {street}")
        places.append(Place(next_id, name, ward, names.postcode(district, rng), None, None,
                            what))
    person_id = person_base

    def person(kind: str) -> KnownPerson:
        nonlocal person_id
        person_id += 1
        female = rng.random() < (0.68 if kind == "victim" else 0.2)
        given = rng.choice(names.FEMALE_NAMES if female else names.MALE_NAMES)
        oldest, youngest = (1940, 2008) if kind == "victim" else (1958, 2009)
        born = date(rng.randint(oldest, youngest), rng.randint(1, 12), rng.randint(1, 28))
        return KnownPerson(
            person_id, given, rng.choice(names.FAMILY_NAMES), "female" if female else "male",
            born, rng.choice(homes).id, start - timedelta(days=rng.randint(30, 2000)),
        )

    victims = [person("victim") for _ in range(sizes["victims"])]
    perpetrators = [person("perpetrator") for _ in range(sizes["perpetrators"])]
    return Population(
        homes=homes, places=places, victims=victims, perpetrators=perpetrators,
        # The offsets flatten the head: the most reported place or person has many cases,
        # not a fixed share of all of them (for a million cases: a hot spot with about 2,000
        # incidents in two years, a victim with about 80 reports).
        place_zipf=Zipf(len(places), s=1.05, offset=2 + len(places) / 100),
        victim_zipf=Zipf(len(victims), s=1.15, offset=max(3.0, len(victims) / 40)),
        perpetrator_zipf=Zipf(len(perpetrators), s=1.1, offset=max(3.0, len(perpetrators) / 40)),
        cases=cases,
        since=start - timedelta(days=2000),
    )


# --- the timeline -----------------------------------------------------------------------

# Reports by hour of the day (local time): quiet at night, busiest in the evening.
HOUR_WEIGHTS = (2, 1.5, 1, 0.6, 0.4, 0.4, 0.6, 1.2, 2.5, 3.5, 3.8, 3.8, 3.9, 3.8, 3.7, 3.8,
                4.2, 4.8, 5.6, 6.2, 6.4, 5.8, 4.6, 3.2)
# Monday first: more reports at the end of the week.
WEEKDAY_WEIGHTS = (0.95, 0.93, 0.95, 0.98, 1.1, 1.12, 0.97)


def opening_times(seed: int, cases: int, end: datetime) -> list[int]:
    """When each case is reported, as sorted POSIX seconds over the two years before `end`."""
    rng = random.Random(f"{seed}:timeline")  # noqa: S311
    end = end.astimezone(UTC)
    first = (end - timedelta(days=HISTORY_DAYS)).astimezone(LONDON).date()
    days = [first + timedelta(days=k) for k in range(HISTORY_DAYS + 1)]
    # Summer peak (mid July) about 1.6 times the winter trough.
    day_weights = [
        (1 + 0.23 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 196) / 365.25))
        * WEEKDAY_WEIGHTS[d.weekday()]
        for d in days
    ]
    # Midnight of each local day in POSIX seconds, and its offset from UTC (BST or GMT).
    midnights = [int(datetime.combine(d, time(0), tzinfo=LONDON).timestamp()) for d in days]
    latest = int(end.timestamp()) - 60
    earliest = int((end - timedelta(days=HISTORY_DAYS)).timestamp())
    day_cum = list(accumulate(day_weights))
    hour_cum = list(accumulate(HOUR_WEIGHTS))
    picked_days = rng.choices(range(len(days)), cum_weights=day_cum, k=cases)
    picked_hours = rng.choices(range(24), cum_weights=hour_cum, k=cases)
    times = []
    for d, h in zip(picked_days, picked_hours, strict=True):
        # Wall-clock hour h on day d: 3600 s per hour from midnight is right except on the
        # two clock-change days, where being an hour out does no harm.
        moment = midnights[d] + h * 3600 + rng.randrange(3600)
        times.append(min(max(moment, earliest), latest))
    times.sort()
    return times

"""The pieces of the synthetic data generator that must be exactly the real thing, faster."""

import dataclasses
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from casebridge.synthetic import names, speedups
from casebridge.synthetic.answers import (
    CaseContext,
    FormSampler,
    condition,
    marac_meeting_after,
)
from casebridge.synthetic.calendar import memo_calendar
from casebridge.synthetic.histories import World, WorldSpec, compute_chunk
from casebridge.synthetic.population import (
    HISTORY_DAYS,
    LONDON,
    build_population,
    opening_times,
)
from casebridge.synthetic.rows import COLUMNS, copy_tail
from forms.loader import shipped_forms
from forms.model import FieldType
from rules.calendars import calendar_for
from rules.expressions import parse
from storage.people.services import POSTCODE_SHAPE
from workflows import interpreter as wf
from workflows.loader import DEFINITIONS_DIR, latest_shipped

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENCY_TYPES = ("police", "council", "housing", "victim_service", "domestic_abuse_service",
                "youth_offending", "probation", "health", "mental_health", "education")


def _spec(cases: int, dialect: str = "postgresql", seed: int = 1) -> WorldSpec:
    definitions = tuple(
        ((DEFINITIONS_DIR / key / f"v{d.version}.yaml").read_text("utf-8"),
         f"{key}/v{d.version}.yaml", d.content_hash)
        for key, d in sorted(latest_shipped().items())
    )
    return WorldSpec(
        seed=seed, now=NOW, dialect=dialect, definitions=definitions,
        agencies=tuple((i + 1, t) for i, t in enumerate(AGENCY_TYPES)),
        users=((1, 2), (2, 1), (3, 2), (4, 3), (5, 5)),
        population=build_population(seed, cases, location_base=0, person_base=0,
                                    start=NOW - timedelta(days=HISTORY_DAYS)),
        case_base=0,
    )


def test_the_memo_calendar_gives_the_calendars_answers():
    plain, memo = calendar_for("england-and-wales"), memo_calendar("england-and-wales")
    rng = random.Random(3)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for _ in range(20_000):
        moment = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        days = rng.choice((0, 1, 2, 5, 10, 20, 60))
        hours = rng.choice((0, 1, 4, 8, 30))
        assert memo.add_working_days(moment, days) == plain.add_working_days(moment, days)
        assert (memo.subtract_working_days(moment, days)
                == plain.subtract_working_days(moment, days))
        assert memo.add_working_hours(moment, hours) == plain.add_working_hours(moment, hours)
        assert (memo.subtract_working_hours(moment, hours)
                == plain.subtract_working_hours(moment, hours))
    with pytest.raises(ValueError, match="zero or more"):
        memo.add_working_days(start, -1)


def test_compiled_conditions_agree_with_the_expression_language():
    rng = random.Random(5)
    values = ("yes", "no", "dont_know", "other_characteristic", 0, 2, 3, 7, None,
              ["race", "other_characteristic"], ["race"], "crime", "non_crime_incident")
    conditions = {f.show_when for form in shipped_forms().values() for f in form.fields
                  if f.show_when}
    assert len(conditions) > 10
    for source in conditions:
        expression = parse(source)
        compiled = condition(expression)
        keys = [n.split(".", 1)[1] for n in expression.names if n.startswith("answers.")]
        for _ in range(300):
            answers = {k: rng.choice(values) for k in keys if rng.random() < 0.8}
            assert compiled(answers) == expression.evaluate({"answers": answers}), (source,
                                                                                    answers)


def test_fast_replace_is_replace():
    state = wf.CaseState(opened_at=NOW, facts={"a": True})
    run = wf.StageRun("report", 1, wf.ACTIVE, NOW)
    assert speedups.fast_replace(state, status=wf.PAUSED) == dataclasses.replace(
        state, status=wf.PAUSED)
    assert speedups.fast_replace(run, status=wf.COMPLETED, answers={}) == dataclasses.replace(
        run, status=wf.COMPLETED, answers={})
    with pytest.raises(TypeError):
        speedups.fast_replace(run, colour="red")  # unknown fields: replace() says so
    assert speedups.precomputed(latest_shipped()["asb"]).recurring_stages == (
        latest_shipped()["asb"].recurring_stages)


def test_histories_are_the_same_with_and_without_the_speedups(monkeypatch):
    world = World(_spec(120))
    times = opening_times(1, 120, NOW)
    plain = compute_chunk(world, 0, times)
    monkeypatch.setattr(wf, "replace", speedups.fast_replace)
    fast = compute_chunk(World(_spec(120)), 0, times)
    assert fast == plain


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_case_depends_only_on_the_seed_and_its_number(dialect):
    times = opening_times(1, 60, NOW)
    whole = compute_chunk(World(_spec(60, dialect)), 0, times)
    world = World(_spec(60, dialect))
    parts = [compute_chunk(world, first, times[first:first + 13]) for first in range(0, 60, 13)]
    assert [c for part in parts for c in part.cases] == whole.cases
    assert [s for part in parts for s in part.stage_instances] == whole.stage_instances
    assert sum(len(p.people) for p in parts) == len(whole.people)


def test_copy_rows_have_one_field_per_column():
    chunk = compute_chunk(World(_spec(40)), 0, opening_times(1, 40, NOW))
    for table, rows in (("cases", [t for _, _, t in chunk.cases]),
                        ("stage_instances", chunk.stage_instances),
                        ("actions", [t for _, t in chunk.actions]),
                        ("people", chunk.people),
                        ("case_participants", [t for _, t in chunk.case_participants])):
        _head, tail = COLUMNS[table]
        for row in rows:
            assert row.count("\t") == len(tail) - 1, table
            assert "\n" not in row
    assert copy_tail(["tab\there", "new\nline", "back\\slash", None, True, 3]) == (
        "tab\\there\tnew\\nline\tback\\\\slash\t\\N\tt\t3")


def test_timeline_covers_two_years_with_summer_evenings_busier():
    times = [datetime.fromtimestamp(t, UTC) for t in opening_times(1, 20_000, NOW)]
    assert times == sorted(times)
    assert NOW - timedelta(days=HISTORY_DAYS + 1) < times[0]
    assert times[-1] < NOW
    local = [t.astimezone(LONDON) for t in times]
    summer = sum(1 for t in local if t.month in (6, 7, 8))
    winter = sum(1 for t in local if t.month in (12, 1, 2))
    assert summer > 1.2 * winter
    evening = sum(1 for t in local if 18 <= t.hour < 22)
    night = sum(1 for t in local if 2 <= t.hour < 6)
    assert evening > 4 * night


def test_places_and_people_are_invented_but_well_formed():
    population = build_population(1, 5_000, location_base=100, person_base=50,
                                  start=NOW - timedelta(days=HISTORY_DAYS))
    places = [*population.homes, *population.places]
    assert [p.id for p in places] == list(range(101, 101 + len(places)))
    for place in places:
        assert POSTCODE_SHAPE.match(place.postcode)
        assert re.match(r"^NS[1-9] ", place.postcode)
        assert place.area in {a for a, _, _ in names.AREAS}
    assert len(names.GIVEN_NAMES) >= 150
    assert len(names.FAMILY_NAMES) >= 250
    # Hot spots: the busiest place is drawn far more often than a typical one.
    rng = random.Random(2)
    draws = [population.place_zipf.draw(rng) for _ in range(20_000)]
    assert draws.count(0) > 5 * draws.count(len(population.places) // 2)
    # Every known person is the subject of exactly one anchor case.
    anchored = [population.anchored_victim(i) for i in range(5_000)]
    assert sorted(p.id for p in anchored if p) == [p.id for p in population.victims]


def test_misspellings_stay_recognisable():
    rng = random.Random(4)
    variants = {names.misspelt("Steven", rng) for _ in range(200)}
    assert "Stephen" in variants
    assert "Steven" not in variants
    for name in names.FAMILY_NAMES:
        variant = names.typo(name, rng)
        assert variant != name
        assert variant[0] == name[0]
        assert abs(len(variant) - len(name)) <= 1


def test_marac_meetings_are_monthly_on_the_second_thursday():
    meeting = marac_meeting_after(date(2026, 3, 2), at_least_days=5)
    assert meeting == date(2026, 3, 12)
    assert meeting.weekday() == 3
    assert marac_meeting_after(date(2026, 3, 10), at_least_days=5) == date(2026, 4, 9)


def test_sampled_answers_fill_what_the_forms_require():
    rng = random.Random(9)
    state = wf.CaseState(opened_at=NOW)
    context = CaseContext(severity=0.4, partnership_types=frozenset(AGENCY_TYPES))
    unsampled = {FieldType.PERSON, FieldType.LOCATION, FieldType.AGENCY, FieldType.FILE}
    for form in shipped_forms().values():
        sampler = FormSampler(form)
        for _ in range(20):
            answers = sampler.sample(rng, NOW, context, state)
            assert set(answers) <= form.field_keys
            for field in form.fields:
                if field.required and field.type not in unsampled and (
                        field.show_when is None
                        or parse(field.show_when).evaluate({"answers": answers})):
                    assert field.key in answers, (form.key, field.key)
                if field.key in answers and field.choices:
                    chosen = answers[field.key]
                    assert set(chosen if isinstance(chosen, list) else [chosen]) <= set(
                        field.choice_values)

"""Plausible answers for any form, from a seeded random source.

Used by the demo generator (so demo cases carry answers of the right shape) and by the
property-based tests (hypothesis hands in its own Random, so it can shrink failures).
Every answer is generated: no real person's details appear.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from forms.model import Field, FieldType, FormDefinition
from rules.expressions import parse

WORDS = ("noise", "late", "music", "shouting", "door", "car", "stairwell", "park", "youths",
         "threats", "window", "neighbour", "bins", "damage", "evening", "weekend", "dog")


def sample_answers(
    form: FormDefinition, rng: random.Random, *, today: date, fill_optional: float = 0.7
) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for field in form.fields:
        if field.show_when and not parse(field.show_when).evaluate({"answers": answers}):
            continue
        if not field.required and rng.random() > fill_optional:
            continue
        value = sample_value(field, rng, today=today)
        if value is not None:
            answers[field.key] = value
    return answers


def sample_value(field: Field, rng: random.Random, *, today: date) -> Any:
    kind = field.type
    if kind in (FieldType.CHOICE, FieldType.YES_NO, FieldType.YES_NO_UNKNOWN):
        return rng.choice(field.choice_values)
    if kind is FieldType.MULTIPLE_CHOICE:
        return rng.sample(list(field.choice_values), k=rng.randint(1, len(field.choice_values)))
    if kind is FieldType.NUMBER:
        low = int(field.minimum) if field.minimum is not None else 0
        high = int(field.maximum) if field.maximum is not None else max(low, 10)
        return rng.randint(low, high)
    if kind is FieldType.DATE:
        return (today - timedelta(days=rng.randint(0, 30))).isoformat()
    if kind is FieldType.DATETIME:
        day = today - timedelta(days=rng.randint(0, 30))
        return datetime.combine(day, time(rng.randint(8, 20), rng.choice((0, 15, 30, 45)))
                                ).isoformat()
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT):
        words = rng.randint(2, 6 if kind is FieldType.TEXT else 25)
        text = " ".join(rng.choice(WORDS) for _ in range(words)).capitalize()
        return text[: field.max_length] if field.max_length else text
    return None  # person, location, agency and file answers point at records: not sampled

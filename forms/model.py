"""What a stage form is: its fields and scored checklists. Rendering comes later; the
workflow validator and interpreter need the field names, types, choices and scores now."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class FieldType(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"
    YES_NO_UNKNOWN = "yes_no_unknown"
    PERSON = "person"
    LOCATION = "location"
    AGENCY = "agency"
    FILE = "file"


IMPLIED_CHOICES = {
    FieldType.YES_NO: (("yes", "Yes"), ("no", "No")),
    FieldType.YES_NO_UNKNOWN: (("yes", "Yes"), ("no", "No"), ("dont_know", "Don't know")),
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    points: int = 0


@dataclass(frozen=True)
class Field:
    key: str
    type: FieldType
    label: str
    hint: str | None = None
    required: bool = False
    show_when: str | None = None
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    # A regular expression a text answer must match in full, and what to say when it does not.
    pattern: str | None = None
    pattern_message: str | None = None
    # Dates and times that cannot be in the future (a date may be today).
    past_only: bool = False
    # Roles (storage.accounts Role values) that may see and give this answer; empty: every
    # role. storage.access.form_for removes the field for anyone else.
    restricted_to: tuple[str, ...] = ()

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def points_for(self, answer: Any) -> int:
        answers = answer if isinstance(answer, list) else [answer]
        return sum(c.points for c in self.choices if c.value in answers)


@dataclass(frozen=True)
class Band:
    minimum: int
    band: str


@dataclass(frozen=True)
class Score:
    """A scored checklist: the sum of the points of its fields' answers, mapped to a band
    (e.g. DASH: 14 or more "yes" answers is high risk)."""

    key: str
    label: str
    fields: tuple[str, ...]
    bands: tuple[Band, ...]

    def band_for(self, value: int) -> str | None:
        reached = [b for b in self.bands if value >= b.minimum]
        return max(reached, key=lambda b: b.minimum).band if reached else None


@dataclass(frozen=True)
class FormDefinition:
    key: str
    title: str
    fields: tuple[Field, ...]
    scores: tuple[Score, ...] = ()
    description: str | None = None

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def field_keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.fields)

    def compute_scores(self, answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        results = {}
        for score in self.scores:
            value = sum(
                f.points_for(answers.get(f.key))
                for key in score.fields
                if (f := self.field(key)) is not None
            )
            results[score.key] = {"value": value, "band": score.band_for(value)}
        return results

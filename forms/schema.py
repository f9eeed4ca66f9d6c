"""A stage form as a marshmallow schema: what an HTML form posts in, typed answers out.

`build_schema(form, ...)` returns a Schema whose `load` takes what the browser posted (a
werkzeug MultiDict, or a plain dict whose values may be lists) and returns the answers ready
to store as JSON: text as stripped strings, numbers as int or float, dates as ISO strings
("2026-02-27"), date-times as local ISO strings without an offset ("2026-02-27T14:30:00",
read in the partnership's time zone), yes/no and choices as the choice value, multiple
choice as a list (in the form's order), people, locations, agencies and files as record ids.

How each field is posted: one value under its key; checkboxes as repeated values; a date
(GOV.UK date input) as `<key>-day`, `<key>-month`, `<key>-year`; a date-time as those plus
`<key>-time` ("14:30", "2:30pm") or `<key>-hour` and `<key>-minute`.

Rules: a field with `show_when` is asked only when its condition holds on the other answers;
a hidden field's answer is dropped and never checked, and `required` applies only while it
is shown. Messages are written in the GOV.UK style, one per field, naming the question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, pre_load
from marshmallow import fields as mm

from casebridge import clock
from forms.model import Field, FieldType, FormDefinition
from rules.expressions import parse

DATE_PARTS = ("day", "month", "year")
RECORD_TYPES = {
    FieldType.PERSON: "a person",
    FieldType.LOCATION: "a location",
    FieldType.AGENCY: "an agency",
    FieldType.FILE: "a file",
}
TEXT_TYPES = (FieldType.TEXT, FieldType.LONG_TEXT)
ENTERED_TYPES = (*TEXT_TYPES, FieldType.NUMBER, FieldType.DATE, FieldType.DATETIME)
SINGLE_CHOICE_TYPES = (FieldType.CHOICE, FieldType.YES_NO, FieldType.YES_NO_UNKNOWN)
MONTHS = {name: number for number, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
    ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
    ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december"),
), start=1) for name in names}
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(?:([ap])\.?m\.?)?$", re.IGNORECASE)
_WHOLE = re.compile(r"^[+-]?\d+$")


# --- the words of the messages -------------------------------------------------------------


def _is_question(field: Field) -> bool:
    return field.label.rstrip().endswith("?")


def _plain_label(field: Field) -> str:
    return field.label.strip().rstrip(":.").strip()


def _lower_first(text: str) -> str:
    """'Risk level' -> 'risk level', but 'MP name' and 'ASB type' keep their capitals."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def subject(field: Field) -> str:
    """How a message names the question at the start of a sentence."""
    if _is_question(field):
        lead = {FieldType.DATE: "The date for", FieldType.DATETIME: "The date and time for"}
        return f'{lead.get(field.type, "The answer to")} "{field.label.strip()}"'
    return _plain_label(field)


def required_message(field: Field) -> str:
    """'Enter date of birth', 'Select an answer to "Has this happened before?"'."""
    kind = field.type
    if not _is_question(field):
        verb = "Enter" if kind in ENTERED_TYPES else "Select"
        return f"{verb} {_lower_first(_plain_label(field))}"
    label = field.label.strip()
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.NUMBER):
        return f'Enter an answer to "{label}"'
    if kind is FieldType.DATE:
        return f'Enter a date for "{label}"'
    if kind is FieldType.DATETIME:
        return f'Enter a date and time for "{label}"'
    if kind is FieldType.MULTIPLE_CHOICE:
        return f'Select at least one answer to "{label}"'
    if kind in RECORD_TYPES:
        return f'Select {RECORD_TYPES[kind]} for "{label}"'
    return f'Select an answer to "{label}"'


def _number_text(value: float) -> str:
    return f"{value:g}"


# --- reading what was posted --------------------------------------------------------------


def _get(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _getlist(data: Mapping[str, Any], key: str) -> list[str]:
    getlist = getattr(data, "getlist", None)
    if callable(getlist):
        values = getlist(key)
    else:
        value = data.get(key)
        values = list(value) if isinstance(value, list | tuple) else [value]
    return [v if isinstance(v, str) else str(v) for v in values if v not in (None, "")]


def raw_values(form: FormDefinition, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the user typed, field by field, to show back in the form: a string per field, a
    list for checkboxes, and {day, month, year[, time]} for dates and date-times."""
    values: dict[str, Any] = {}
    for f in form.fields:
        key = f.key
        if f.type in (FieldType.DATE, FieldType.DATETIME):
            parts = {part: _get(data, f"{key}-{part}") for part in DATE_PARTS}
            if f.type is FieldType.DATETIME:
                typed = _get(data, f"{key}-time")
                hour, minute = _get(data, f"{key}-hour"), _get(data, f"{key}-minute")
                if not typed.strip() and (hour.strip() or minute.strip()):
                    typed = f"{hour.strip() or '0'}:{minute.strip().zfill(2) or '00'}"
                parts["time"] = typed
            values[key] = parts
        elif f.type is FieldType.MULTIPLE_CHOICE:
            values[key] = _getlist(data, key)
        else:
            values[key] = _get(data, key)
    return values


def values_from_answers(form: FormDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers turned back into form values (to fill a form in again)."""
    values: dict[str, Any] = {}
    for f in form.fields:
        answer = answers.get(f.key)
        if answer is None:
            continue
        if f.type in (FieldType.DATE, FieldType.DATETIME):
            try:
                moment = datetime.fromisoformat(str(answer))
            except ValueError:
                continue
            values[f.key] = {"day": str(moment.day), "month": str(moment.month),
                             "year": str(moment.year)}
            if f.type is FieldType.DATETIME:
                values[f.key]["time"] = f"{moment:%H:%M}"
        elif f.type is FieldType.MULTIPLE_CHOICE:
            values[f.key] = [str(v) for v in answer] if isinstance(answer, list) else [str(answer)]
        else:
            values[f.key] = str(answer)
    return values


def is_blank(value: Any) -> bool:
    if isinstance(value, dict):
        return all(not str(v).strip() for v in value.values())
    if isinstance(value, list):
        return not value
    return not str(value or "").strip()


# --- turning one typed value into an answer -------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What a submission is checked against besides the form: the records the page offered
    and the present moment (in the partnership's local time)."""

    allowed_ids: Mapping[FieldType, frozenset[int]] = field(default_factory=dict)
    local_now: datetime = field(default_factory=lambda: clock.now().replace(tzinfo=None))


def convert(f: Field, raw: Any, limits: Limits) -> Any:
    """One non-blank value as its answer; ValidationError with the message if it is wrong."""
    kind = f.type
    if kind in TEXT_TYPES:
        return _text(f, raw)
    if kind is FieldType.NUMBER:
        return _number(f, raw)
    if kind is FieldType.DATE:
        day = _date(f, raw)
        if f.past_only and day > limits.local_now.date():
            raise ValidationError(f"{subject(f)} must be today or in the past")
        return day.isoformat()
    if kind is FieldType.DATETIME:
        moment = _datetime(f, raw)
        if f.past_only and moment > limits.local_now:
            raise ValidationError(f"{subject(f)} must be in the past")
        return moment.isoformat()
    if kind in SINGLE_CHOICE_TYPES:
        value = str(raw).strip()
        if value not in f.choice_values:
            raise ValidationError(required_message(f))
        return value
    if kind is FieldType.MULTIPLE_CHOICE:
        chosen = {str(v).strip() for v in (raw if isinstance(raw, list) else [raw])}
        if not chosen <= set(f.choice_values):
            raise ValidationError(required_message(f))
        return [v for v in f.choice_values if v in chosen]
    if kind in RECORD_TYPES:
        text = str(raw).strip()
        if not text.isdigit() or int(text) not in limits.allowed_ids.get(kind, frozenset()):
            raise ValidationError(required_message(f))
        return int(text)
    raise ValidationError(f"{subject(f)} cannot be answered here")  # pragma: no cover


def _text(f: Field, raw: Any) -> str:
    text = str(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
    if f.type is FieldType.TEXT:
        text = " ".join(text.split())  # one line: no stray newlines or runs of spaces
    if f.max_length is not None and len(text) > f.max_length:
        raise ValidationError(f"{subject(f)} must be {f.max_length} characters or less")
    if f.pattern is not None and re.fullmatch(f.pattern, text) is None:
        raise ValidationError(
            f.pattern_message or f"Enter {_object_of(f)} in the correct format"
        )
    return text


def _object_of(f: Field) -> str:
    if _is_question(f):
        return f'the answer to "{f.label.strip()}"'
    return _lower_first(_plain_label(f))


def _number(f: Field, raw: Any) -> int | float:
    text = str(raw).strip().replace(",", "").replace(" ", "")
    try:
        value: int | float = int(text) if _WHOLE.match(text) else float(text)
    except ValueError:
        raise ValidationError(f"{subject(f)} must be a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{subject(f)} must be a number")
    low, high = f.minimum, f.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            message = f"must be between {_number_text(low)} and {_number_text(high)}"
        elif low is not None:
            message = f"must be {_number_text(low)} or more"
        else:
            message = f"must be {_number_text(high)} or less"  # type: ignore[arg-type]
        raise ValidationError(f"{subject(f)} {message}")
    return value


def _date(f: Field, raw: Any) -> date:
    parts = raw if isinstance(raw, Mapping) else {}
    typed = {part: str(parts.get(part) or "").strip() for part in DATE_PARTS}
    missing = [part for part in DATE_PARTS if not typed[part]]
    if len(missing) == len(DATE_PARTS):
        raise ValidationError(f"{subject(f)} must include a date")
    if missing:
        raise ValidationError(f"{subject(f)} must include a {' and '.join(missing)}")
    month_text = typed["month"].lower().rstrip(".")
    month = MONTHS.get(month_text) if not month_text.isdigit() else int(month_text)
    if not (typed["day"].isdigit() and typed["year"].isdigit()) or month is None:
        raise ValidationError(f"{subject(f)} must be a real date")
    if len(typed["year"]) != 4:
        raise ValidationError(f"{subject(f)} must include a year with 4 numbers")
    try:
        return date(int(typed["year"]), month, int(typed["day"]))
    except ValueError:
        raise ValidationError(f"{subject(f)} must be a real date") from None


def _datetime(f: Field, raw: Any) -> datetime:
    parts = raw if isinstance(raw, Mapping) else {}
    typed_time = str(parts.get("time") or "").strip()
    day = _date(f, parts)
    if not typed_time:
        raise ValidationError(f"{subject(f)} must include a time")
    return datetime.combine(day, _time(f, typed_time))


def _time(f: Field, text: str) -> time:
    words = {"midday": time(12, 0), "noon": time(12, 0), "midnight": time(0, 0)}
    if text.lower() in words:
        return words[text.lower()]
    match = _TIME.match(text.replace(" ", ""))
    if match is None:
        raise ValidationError(f"{subject(f)} must be a real time, like 14:30 or 2:30pm")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    half = (match.group(3) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            raise ValidationError(f"{subject(f)} must be a real time, like 14:30 or 2:30pm")
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59:
        raise ValidationError(f"{subject(f)} must be a real time, like 14:30 or 2:30pm")
    return time(hour, minute)


# --- the schema ----------------------------------------------------------------------------


class AnswerField(mm.Field):
    """One form field: blank-and-required is its `null` message, anything else goes
    through `convert`."""

    def __init__(self, definition: Field, limits: Limits) -> None:
        super().__init__(data_key=definition.key, allow_none=False,
                         error_messages={"null": required_message(definition),
                                         "required": required_message(definition)})
        self.definition = definition
        self.limits = limits

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return convert(self.definition, value, self.limits)


class FormAnswersSchema(Schema):
    """The base of every generated form schema (see build_schema)."""

    class Meta:
        unknown = EXCLUDE

    form_definition: FormDefinition
    limits: Limits

    @pre_load
    def _gather(self, data: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        """Collect each field's posted value, decide which fields are shown, and keep only
        what is to be checked: shown fields (blank ones as None when required) and fields
        whose condition cannot be decided yet because an earlier answer is wrong."""
        form = self.form_definition
        raw = raw_values(form, data)
        answers: dict[str, Any] = {}
        broken: set[str] = set()
        checked: dict[str, Any] = {}
        for f in form.fields:
            value = raw[f.key]
            shown: bool | None = True
            if f.show_when:
                expression = parse(f.show_when)
                depends = {name.partition(".")[2] for name in expression.names}
                # Undecided when it reads a wrong answer: check what was typed, do not require.
                shown = None if depends & broken else expression.evaluate({"answers": answers})
            if shown is False:
                continue
            if is_blank(value):
                if shown and f.required:
                    checked[f.key] = None
                    broken.add(f.key)  # it will be answered: what hangs on it is undecided
                continue
            checked[f.key] = value
            try:
                answers[f.key] = convert(f, value, self.limits)
            except ValidationError:
                broken.add(f.key)
        return checked

    @post_load
    def _answers(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        by_attribute = {_attribute(f.key): f.key for f in self.form_definition.fields}
        return {by_attribute[name]: value for name, value in data.items()}


def _attribute(key: str) -> str:
    # Field keys could be Schema method names ("load", "validate"): keep them apart.
    return f"answer__{key}"


def build_schema(
    form: FormDefinition,
    *,
    person_ids: Iterable[int] = (),
    location_ids: Iterable[int] = (),
    agency_ids: Iterable[int] = (),
    document_ids: Iterable[int] = (),
    now: datetime | None = None,
    timezone: str = "Europe/London",
) -> Schema:
    """The schema for one submission of `form`. Person, location, agency and file fields
    accept only the ids given (the ones the page offered: people and locations on the case,
    active agencies, the files just uploaded). `now` (default: the clock) and `timezone`
    decide what "in the past" means."""
    moment = (now or clock.now()).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    limits = Limits(
        allowed_ids={
            FieldType.PERSON: frozenset(person_ids),
            FieldType.LOCATION: frozenset(location_ids),
            FieldType.AGENCY: frozenset(agency_ids),
            FieldType.FILE: frozenset(document_ids),
        },
        local_now=moment,
    )
    attributes: dict[str, Any] = {
        _attribute(f.key): AnswerField(f, limits) for f in form.fields
    }
    schema_class = FormAnswersSchema.from_dict(attributes, name=f"{_camel(form.key)}Schema")
    schema_class.form_definition = form
    schema_class.limits = limits
    return schema_class()


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


@dataclass
class Submission:
    """The outcome of checking one posted form."""

    values: dict[str, Any]  # what was typed, to show back
    answers: dict[str, Any] | None = None  # typed answers when valid
    errors: dict[str, str] = field(default_factory=dict)  # one message per field key

    @property
    def valid(self) -> bool:
        return self.answers is not None and not self.errors


def check_submission(schema: Schema, data: Mapping[str, Any]) -> Submission:
    """Load `data` with a schema from build_schema: the answers, or a message per field."""
    form: FormDefinition = schema.form_definition  # type: ignore[attr-defined]
    values = raw_values(form, data)
    try:
        answers = schema.load(data)  # type: ignore[arg-type]
    except ValidationError as exc:
        return Submission(values=values, errors=first_messages(form, exc.messages))
    return Submission(values=values, answers=answers)


def first_messages(form: FormDefinition, messages: Any) -> dict[str, str]:
    """marshmallow's {key: [message, ...]} as one message per field, in the form's order."""
    flat: dict[str, str] = {}
    if not isinstance(messages, Mapping):
        return {"_form": str(messages)}
    for f in form.fields:
        found = messages.get(f.key)
        while isinstance(found, list | tuple) and found:
            found = found[0]
        if found:
            flat[f.key] = str(found)
    return flat

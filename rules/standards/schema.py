"""The shape of a minimum-standards YAML file, checked by marshmallow; the meaning (names
that resolve, clocks that make sense) is checked in `rules.standards.loader`."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from rules.standards.model import Event, EventKind, Recipient
from workflows.schema import DurationField

KEY = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="use lower-case letters, digits and _")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EVENT_WORDS = ", ".join(k.value for k in EventKind)


class ClockTime(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> time:
        match = _CLOCK.match(str(value))
        if not match:
            raise ValidationError("write a time of day like '08:00' (in quotes)")
        return time(int(match.group(1)), int(match.group(2)))


class EventsField(fields.Field):
    """One event or a list: 'case_opened', 'stage_completed:<stage>', 'action_done', or
    {stage_completed: <stage>, answers: {<field>: <value>}}."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[Event, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValidationError("name at least one event")
        return tuple(_event(item) for item in items)


def _event(item: Any) -> Event:
    answers: dict[str, str] = {}
    if isinstance(item, dict):
        rest = {k: v for k, v in item.items() if k != "answers"}
        raw_answers = item.get("answers", {})
        if len(rest) != 1 or not isinstance(raw_answers, dict):
            raise ValidationError(
                "write an event as e.g. {stage_completed: victim_contact, "
                "answers: {contact_made: \"yes\"}}")
        ((kind_text, stage),) = rest.items()
        answers = {str(k): str(v) for k, v in raw_answers.items()}
        text = f"{kind_text}:{stage}"
    else:
        text = str(item)
    kind_text, _, stage = text.partition(":")
    try:
        kind = EventKind(kind_text.strip())
    except ValueError:
        raise ValidationError(f"'{text}' is not an event: use {_EVENT_WORDS}") from None
    needs_stage = kind in (EventKind.STAGE_STARTED, EventKind.STAGE_COMPLETED)
    if needs_stage != bool(stage.strip()):
        raise ValidationError(f"write {kind.value}:<stage key>" if needs_stage
                              else f"{kind.value} takes no stage")
    if answers and kind is not EventKind.STAGE_COMPLETED:
        raise ValidationError("only stage_completed can require answers")
    return Event(kind, stage.strip() or None, answers)


class RecipientsField(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        known = ", ".join(r.value for r in Recipient)
        found = []
        for item in items:
            try:
                found.append(Recipient(str(item)))
            except ValueError:
                raise ValidationError(f"'{item}' is not a recipient: use {known}") from None
        return tuple(dict.fromkeys(found))


class CalendarSchema(Schema):
    class Meta:
        unknown = RAISE

    region = fields.String(load_default="england-and-wales")
    closures = fields.List(fields.Date(), load_default=list)
    day_starts = ClockTime(load_default=time(9, 0))
    day_ends = ClockTime(load_default=time(17, 0))


class LevelSchema(Schema):
    class Meta:
        unknown = RAISE

    to = RecipientsField(required=True)
    after = DurationField(load_default=None)


class LadderSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default=None)
    warning = RecipientsField(load_default=tuple)
    levels = fields.List(fields.Nested(LevelSchema), required=True,
                         validate=validate.Length(min=1, error="give at least the breach level"))
    digest = RecipientsField(load_default=tuple)


class StandardSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None)
    measures = fields.String(load_default="cases", validate=validate.OneOf(
        ["cases", "actions"], error="a standard measures cases or actions"))
    case_types = fields.List(fields.String(validate=KEY), load_default=list)
    risk = fields.List(fields.String(validate=validate.OneOf(
        ["standard", "medium", "high"], error="risk levels are standard, medium, high")),
        load_default=list)
    raised_at = fields.String(load_default=None)
    from_ = EventsField(data_key="from", required=True)
    met_by = EventsField(required=True)
    within = DurationField(load_default=None)
    every = DurationField(load_default=None)
    until = fields.String(load_default=None, validate=validate.OneOf(
        ["next_meeting"], error="the only value is next_meeting"))
    warn_before = DurationField(load_default=None)
    ladder = fields.String(required=True, validate=KEY)


class StandardsSchema(Schema):
    class Meta:
        unknown = RAISE

    partnership = fields.String(load_default="default", validate=KEY)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    description = fields.String(load_default=None)
    calendar = fields.Nested(CalendarSchema, load_default=lambda: CalendarSchema().load({}))
    digest_at = ClockTime(load_default=time(8, 0))
    deadlines_ladder = fields.String(load_default=None, validate=KEY)
    ladders = fields.Dict(keys=fields.String(validate=KEY), values=fields.Nested(LadderSchema),
                          required=True, validate=validate.Length(
                              min=1, error="give at least one ladder"))
    standards = fields.Dict(keys=fields.String(validate=KEY),
                            values=fields.Nested(StandardSchema), required=True)


def closures_of(raw: list[date]) -> tuple[date, ...]:
    return tuple(sorted(set(raw)))

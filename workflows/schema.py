"""The shape of a case-type YAML file, checked by marshmallow and turned into the model."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from workflows.letters import LETTER_RECIPIENTS
from workflows.model import (
    Anchor,
    AnchorKind,
    Deadline,
    Duration,
    EffectKind,
    EffectSpec,
    Recurrence,
    Transition,
    Worker,
    WorkerKind,
)

KEY = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="use lower-case letters, digits and _")


class DurationField(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Duration:
        if not isinstance(value, str):
            raise ValidationError("write a duration like '2 working days'")
        try:
            return Duration.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class ByRiskField(fields.Dict):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(validate=validate.OneOf(
                ["standard", "medium", "high"], error="risk levels are standard, medium, high"
            )),
            values=DurationField(),
            load_default=dict,
            **kwargs,
        )


class StageKeys(fields.Field):
    """One stage key or a list of them."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise ValidationError("name a stage, or list stages")
        return tuple(items)


class WorkerField(fields.Field):
    """`lead`, `owner`, or a mapping with `role` and/or `agency_type`."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Worker:
        if value in ("lead", "owner"):
            return Worker(WorkerKind(value))
        if (isinstance(value, dict) and value and set(value) <= {"role", "agency_type"}
                and all(isinstance(v, str) and v.strip() for v in value.values())):
            if "agency_type" in value:
                return Worker(WorkerKind.AGENCY_TYPE, role=value.get("role"),
                              agency_type=value["agency_type"])
            return Worker(WorkerKind.ROLE, role=value["role"])
        raise ValidationError(
            "write 'lead', 'owner', {role: <role>} or {agency_type: <type>, role: <role>}"
        )


class AnchorField(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Anchor:
        text = str(value)
        if text in ("stage_entry", "case_opened"):
            return Anchor(AnchorKind(text))
        kind, _, rest = text.partition(":")
        if kind == "stage_completed" and rest:
            return Anchor(AnchorKind.STAGE_COMPLETED, stage=rest)
        if kind == "answer" and "." in rest:
            stage, _, answer = rest.partition(".")
            return Anchor(AnchorKind.ANSWER, stage=stage, field=answer)
        raise ValidationError(
            "write stage_entry, case_opened, stage_completed:<stage> or answer:<stage>.<field>"
        )


class DeadlineSchema(Schema):
    class Meta:
        unknown = RAISE

    within = DurationField(load_default=None)
    by_risk = ByRiskField()
    from_ = AnchorField(data_key="from", load_default=None)
    warn_before = DurationField(load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Deadline:
        if data["within"] is None and not data["by_risk"]:
            raise ValidationError("give 'within', 'by_risk' or both", "within")
        return Deadline(within=data["within"], by_risk=data["by_risk"],
                        anchor=data["from_"] or Anchor(), warn_before=data["warn_before"])


class NotifySchema(Schema):
    class Meta:
        unknown = RAISE

    to = WorkerField(required=True)
    template = fields.String(required=True, validate=KEY)
    when = fields.String(load_default=None)


class CreateActionSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    to = WorkerField(required=True)
    due = DurationField(required=True)
    when = fields.String(load_default=None)


class ReferSchema(Schema):
    class Meta:
        unknown = RAISE

    service = fields.String(required=True, validate=KEY)
    reason = fields.String(required=True)
    when = fields.String(load_default=None)


class LetterSchema(Schema):
    class Meta:
        unknown = RAISE

    template = fields.String(required=True, validate=KEY)
    recipient = fields.String(
        required=True, data_key="to", validate=validate.OneOf(
            LETTER_RECIPIENTS, error="a letter goes to " + ", ".join(LETTER_RECIPIENTS[:-1])
            + f" or {LETTER_RECIPIENTS[-1]}: the people on the case it is about"))
    when = fields.String(load_default=None)


class EffectField(fields.Field):
    """A one-key mapping: notify, create_action, refer, letter, set_status or set_risk."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> EffectSpec:
        if not isinstance(value, dict) or len(value) != 1:
            raise ValidationError(
                "each effect is one of notify, create_action, refer, letter, set_status, "
                "set_risk"
            )
        (name, body), = value.items()
        try:
            kind = EffectKind(name)
        except ValueError:
            raise ValidationError(
                f"'{name}' is not an effect: use notify, create_action, refer, letter, "
                "set_status or set_risk"
            ) from None
        if kind is EffectKind.SET_STATUS:
            if not isinstance(body, str) or not body.strip():
                raise ValidationError("set_status takes the status text")
            return EffectSpec(kind, status=body.strip())
        if kind is EffectKind.SET_RISK:
            if not isinstance(body, str):
                raise ValidationError("set_risk takes a name such as scores.dash.band")
            return EffectSpec(kind, risk_from=body.strip())
        schema = {EffectKind.NOTIFY: NotifySchema, EffectKind.CREATE_ACTION: CreateActionSchema,
                  EffectKind.REFER: ReferSchema, EffectKind.LETTER: LetterSchema}[kind]()
        loaded = schema.load(body if isinstance(body, dict) else {})
        return EffectSpec(kind, **loaded)


class TransitionSchema(Schema):
    class Meta:
        unknown = RAISE

    to = StageKeys(required=True)
    when = fields.String(load_default=None)
    otherwise = fields.Boolean(load_default=False)
    label = fields.String(load_default=None)
    close_reason = fields.String(load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Transition:
        if data["when"] and data["otherwise"]:
            raise ValidationError("a transition has 'when' or 'otherwise: true', not both", "when")
        return Transition(**data)


class RecurrenceSchema(Schema):
    class Meta:
        unknown = RAISE

    every = DurationField(load_default=None)
    by_risk = ByRiskField()
    while_in = StageKeys(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Recurrence:
        if data["every"] is None and not data["by_risk"]:
            raise ValidationError("give 'every', 'by_risk' or both", "every")
        return Recurrence(**data)


class StageSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default=None)
    form = fields.String(load_default=None, validate=KEY)
    worked_by = WorkerField(load_default=lambda: Worker(WorkerKind.LEAD))
    deadline = fields.Nested(DeadlineSchema, load_default=None)
    business_status = fields.String(load_default=None)
    pausable = fields.Boolean(load_default=False)
    on_enter = fields.List(EffectField(), load_default=list)
    on_exit = fields.List(EffectField(), load_default=list)
    transitions = fields.List(fields.Nested(TransitionSchema), load_default=list)
    join = StageKeys(load_default=tuple)
    recurring = fields.Nested(RecurrenceSchema, load_default=None)
    max_instances = fields.Integer(load_default=None, validate=validate.Range(min=1))
    completes_when = fields.String(load_default=None, validate=validate.OneOf(
        ["actions_settled"], error="the only value is actions_settled"))


class OpenedBySchema(Schema):
    class Meta:
        unknown = RAISE

    roles = fields.List(fields.String(), load_default=list)
    agency_types = fields.List(fields.String(), load_default=list)


class DefinitionSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reference_prefix = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z]{2,6}$", error="2 to 6 capital letters, like ASB"))
    description = fields.String(load_default=None)
    calendar = fields.String(load_default="england-and-wales")
    opened_by = fields.Nested(OpenedBySchema, load_default=lambda: {"roles": [],
                                                                   "agency_types": []})
    facts = fields.Dict(keys=fields.String(validate=KEY), values=fields.String(),
                        load_default=dict)
    start = StageKeys(required=True)
    stages = fields.Dict(keys=fields.String(validate=KEY), values=fields.Nested(StageSchema),
                         required=True, validate=validate.Length(min=1))

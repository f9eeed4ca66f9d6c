"""Loading and checking form definitions from YAML (marshmallow for the shape, then the
cross-field checks), with every problem located by file, line and path."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from casebridge.yamlsource import (
    DocumentError,
    Problem,
    SourceDocument,
    load_yaml_file,
    marshmallow_problems,
)
from forms.model import IMPLIED_CHOICES, Band, Choice, Field, FieldType, FormDefinition, Score
from rules.expressions import ExpressionError, parse

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
TEXT_TYPES = (FieldType.TEXT, FieldType.LONG_TEXT)
DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)
# Who a field can be restricted to: the account roles (storage.accounts.models.Role).
ROLES = ("practitioner", "panel_member", "manager", "partnership_admin", "auditor")
KEY = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="use lower-case letters, digits and _")


class ChoiceSchema(Schema):
    class Meta:
        unknown = RAISE

    value = fields.String(required=True, validate=KEY)
    label = fields.String(required=True)
    points = fields.Integer(load_default=0)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Choice:
        return Choice(**data)


class FieldSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=KEY)
    type = fields.Enum(FieldType, by_value=True, required=True)
    label = fields.String(required=True)
    hint = fields.String(load_default=None)
    required = fields.Boolean(load_default=False)
    show_when = fields.String(load_default=None)
    choices = fields.List(fields.Nested(ChoiceSchema), load_default=list)
    points = fields.Dict(keys=fields.String(), values=fields.Integer(), load_default=dict)
    min = fields.Float(load_default=None)
    max = fields.Float(load_default=None)
    max_length = fields.Integer(load_default=None, validate=validate.Range(min=1))
    pattern = fields.String(load_default=None)
    pattern_message = fields.String(load_default=None)
    past_only = fields.Boolean(load_default=False)
    restricted_to = fields.List(fields.String(validate=validate.OneOf(
        ROLES, error="not a role (one of: {choices})")), load_default=list)

    @validates_schema
    def _restricted_is_optional(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("restricted_to") and data.get("required"):
            raise ValidationError("a field restricted to some roles cannot be required: "
                                  "the other roles could never complete the form",
                                  "restricted_to")

    @validates_schema
    def _pattern_and_dates_fit_type(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("type")
        pattern = data.get("pattern")
        if pattern is not None:
            if kind not in TEXT_TYPES:
                raise ValidationError("only text and long_text fields have a pattern", "pattern")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError(f"not a regular expression: {exc}", "pattern") from None
        if data.get("pattern_message") is not None and pattern is None:
            raise ValidationError("a pattern_message needs a pattern", "pattern_message")
        if data.get("past_only") and kind not in DATE_TYPES:
            raise ValidationError("only date and datetime fields can be past_only", "past_only")

    @validates_schema
    def _choices_fit_type(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("type")
        if kind in (FieldType.CHOICE, FieldType.MULTIPLE_CHOICE) and not data.get("choices"):
            raise ValidationError("a choice field lists its choices", "choices")
        if kind not in (FieldType.CHOICE, FieldType.MULTIPLE_CHOICE) and data.get("choices"):
            raise ValidationError(f"a {kind.value} field has no choices", "choices")
        values = [c.value for c in data.get("choices", [])]
        if len(values) != len(set(values)):
            twice = sorted({v for v in values if values.count(v) > 1})
            raise ValidationError(f"the choice value(s) {twice} appear twice", "choices")
        low, high = data.get("min"), data.get("max")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"min ({low:g}) is above max ({high:g})", "min")
        if data.get("points") and kind not in IMPLIED_CHOICES:
            raise ValidationError("points: only yes/no questions score by answer", "points")
        if kind in IMPLIED_CHOICES:
            allowed = {v for v, _ in IMPLIED_CHOICES[kind]}
            unknown = set(data.get("points", {})) - allowed
            if unknown:
                raise ValidationError(
                    f"points for unknown answers {sorted(unknown)}; answers are {sorted(allowed)}",
                    "points",
                )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Field:
        kind = data["type"]
        choices = tuple(data["choices"])
        if kind in IMPLIED_CHOICES:
            points = data["points"]
            choices = tuple(
                Choice(v, label, points.get(v, 0)) for v, label in IMPLIED_CHOICES[kind]
            )
        return Field(
            key=data["key"], type=kind, label=data["label"], hint=data["hint"],
            required=data["required"], show_when=data["show_when"], choices=choices,
            minimum=data["min"], maximum=data["max"], max_length=data["max_length"],
            pattern=data["pattern"], pattern_message=data["pattern_message"],
            past_only=data["past_only"], restricted_to=tuple(data["restricted_to"]),
        )


class BandSchema(Schema):
    class Meta:
        unknown = RAISE

    min = fields.Integer(required=True)
    band = fields.String(required=True, validate=KEY)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Band:
        return Band(minimum=data["min"], band=data["band"])


class ScoreSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=KEY)
    label = fields.String(required=True)
    fields_ = fields.List(fields.String(), data_key="fields", required=True)
    bands = fields.List(fields.Nested(BandSchema), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Score:
        return Score(key=data["key"], label=data["label"], fields=tuple(data["fields_"]),
                     bands=tuple(sorted(data["bands"], key=lambda b: b.minimum)))


class FormSchema(Schema):
    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=KEY)
    title = fields.String(required=True)
    description = fields.String(load_default=None)
    fields_ = fields.List(
        fields.Nested(FieldSchema), data_key="fields", required=True,
        validate=validate.Length(min=1, error="a form has at least one field"),
    )
    scores = fields.List(fields.Nested(ScoreSchema), load_default=list)


def check_form(document: SourceDocument) -> FormDefinition:
    if not isinstance(document.data, dict):
        raise DocumentError([document.problem((), "a form definition is a mapping of keys")])
    try:
        data = FormSchema().load(document.data)
    except ValidationError as exc:
        raise DocumentError(marshmallow_problems(document, exc.messages)) from None
    form = FormDefinition(key=data["key"], title=data["title"], fields=tuple(data["fields_"]),
                          scores=tuple(data["scores"]), description=data["description"])
    problems = _cross_checks(document, form)
    if problems:
        raise DocumentError(problems)
    return form


def _cross_checks(document: SourceDocument, form: FormDefinition) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, field in enumerate(form.fields):
        path = ("fields", index)
        if field.key in seen:
            problems.append(document.problem((*path, "key"), f"the field '{field.key}' is twice"))
        seen.add(field.key)
        if field.show_when:
            try:
                expression = parse(field.show_when)
            except ExpressionError as exc:
                problems.append(document.problem((*path, "show_when"), str(exc)))
                continue
            for name in expression.names:
                head, _, rest = name.partition(".")
                if head != "answers" or rest not in seen - {field.key}:
                    problems.append(document.problem(
                        (*path, "show_when"),
                        f"'{name}' is not an earlier field of this form (write answers.<field>)",
                    ))
                elif not _hidden_no_wider(form.field(rest), field):
                    problems.append(document.problem(
                        (*path, "show_when"),
                        f"'{name}' is restricted to some roles, so this field must be "
                        "restricted to the same roles or fewer (or it would show others the "
                        "answer)"))
    for index, score in enumerate(form.scores):
        for key in score.fields:
            if key not in form.field_keys:
                problems.append(document.problem(
                    ("scores", index, "fields"), f"the score counts '{key}', which is not a field"
                ))
            elif (counted := form.field(key)) is not None and counted.restricted_to:
                problems.append(document.problem(
                    ("scores", index, "fields"),
                    f"the score counts '{key}', which is restricted to some roles: the score "
                    "would show everyone its answer"))
    return problems


def _hidden_no_wider(source: Field | None, dependent: Field) -> bool:
    """A field shown on `source`'s answer reveals that answer: `dependent` may be seen only
    by roles that may see `source`."""
    if source is None or not source.restricted_to:
        return True
    return bool(dependent.restricted_to) and set(dependent.restricted_to) <= set(
        source.restricted_to)


def load_form_file(path: Path) -> FormDefinition:
    return check_form(load_yaml_file(path))


@lru_cache(maxsize=8)
def shipped_forms(directory: Path = DEFINITIONS_DIR) -> dict[str, FormDefinition]:
    """Every form in the folder, by key. Raises with every problem of every file at once."""
    forms: dict[str, FormDefinition] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            form = load_form_file(path)
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        if form.key in forms:
            problems.append(
                Problem(str(path), None, "key", f"the form key '{form.key}' is used twice")
            )
        forms[form.key] = form
    if problems:
        raise DocumentError(problems)
    return forms

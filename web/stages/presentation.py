"""How a stage form is laid out and how its answers read, for the templates in
web/templates/forms/macros.html (registered as template globals by web.stages.views).

- `form_layout(form)`: the questions in order; a conditional question carries the hint
  "Answer this only if ..." in words (GOV.UK conditional reveals are switched off, see
  USE_CONDITIONAL_REVEALS).
- `answer_rows(form, answers)` and `answer_scores(form, answers)`: the submitted answers as
  summary-list rows in human words, and the scores and bands of scored checklists.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select

from forms.model import Field, FieldType, FormDefinition
from rules.expressions import ExpressionError, dotted_name, parse
from storage.agencies.models import Agency
from storage.documents.models import Document
from storage.people.models import Location, Person

RADIO_TYPES = (FieldType.CHOICE, FieldType.YES_NO, FieldType.YES_NO_UNKNOWN)
# GOV.UK Frontend's script puts aria-expanded on a radio that reveals questions, which axe
# reports as a critical violation (alphagov/govuk-frontend#979). Until that is settled,
# dependent questions are always shown, each with an "Answer this only if ..." hint.
USE_CONDITIONAL_REVEALS = False
NOT_ANSWERED = "Not answered"


@dataclass
class Question:
    field: Field
    condition: str | None = None  # "Answer this only if ..." when no reveal shows it
    reveals: dict[str, list[Question]] = field(default_factory=dict)  # choice value -> asked

    @property
    def hint(self) -> Markup | None:
        """The field's hint and the condition, as one hint (HTML, escaped)."""
        parts = [escape(text) for text in (self.field.hint, self.condition) if text]
        return Markup("<br>").join(parts) if parts else None

    @property
    def inline(self) -> bool:
        """Yes/no radios sit side by side, unless they reveal questions (GOV.UK: never
        inline with conditional reveals)."""
        return self.field.type is FieldType.YES_NO and not any(self.reveals.values())


def form_layout(form: FormDefinition) -> list[Question]:
    top: list[Question] = []
    placed: dict[str, Question] = {}
    paths: dict[str, frozenset[tuple[str, str]]] = {}  # the reveals a question sits inside
    for f in form.fields:
        question = Question(f)
        parent = None
        conditions = _equalities(f.show_when) if f.show_when else None
        if conditions and USE_CONDITIONAL_REVEALS:
            for key, value in sorted(conditions):
                holder = placed.get(key)
                if (holder is not None and holder.field.type in RADIO_TYPES
                        and value in holder.field.choice_values
                        and paths[key] | {(key, value)} == conditions):
                    parent = (holder, value)
                    break
        if parent is not None:
            holder, value = parent
            holder.reveals.setdefault(value, []).append(question)
            paths[f.key] = conditions or frozenset()
        else:
            if f.show_when:
                question.condition = f"Answer this only if {condition_words(form, f.show_when)}."
            top.append(question)
            paths[f.key] = frozenset()
        placed[f.key] = question
    return top


def _equalities(source: str) -> frozenset[tuple[str, str]] | None:
    """{(field, value)} for conditions made only of `answers.x == 'v'` joined by `and`."""
    try:
        tree = parse(source).tree
    except ExpressionError:
        return None
    terms = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [
        tree]
    found: set[tuple[str, str]] = set()
    for term in terms:
        if not (isinstance(term, ast.Compare) and len(term.ops) == 1
                and isinstance(term.ops[0], ast.Eq)
                and isinstance(term.comparators[0], ast.Constant)
                and isinstance(term.comparators[0].value, str)):
            return None
        name = dotted_name(term.left) or ""
        head, _, key = name.partition(".")
        if head != "answers" or not key:
            return None
        found.add((key, term.comparators[0].value))
    return frozenset(found)


def join_hints(*parts: str | None) -> Markup:
    """Hint texts (plain text is escaped, Markup kept) one per line."""
    return Markup("<br>").join(escape(p) for p in parts if p)


def date_items(value: Mapping[str, str] | None, error: str | None) -> list[dict[str, Any]]:
    """The day, month and year boxes of a GOV.UK date input, with the error style on the
    boxes that are wrong: the empty ones, or all three when none is empty."""
    value = value or {}
    blank = [part for part in ("day", "month", "year") if not value.get(part)]
    items = []
    for part, width in (("day", 2), ("month", 2), ("year", 4)):
        wrong = bool(error) and (part in blank or len(blank) in (0, 3))
        items.append({"name": part, "value": value.get(part, ""),
                      "classes": f"govuk-input--width-{width}"
                                 + (" govuk-input--error" if wrong else "")})
    return items


# --- conditions in words -------------------------------------------------------------------


def condition_words(form: FormDefinition, source: str) -> str:
    """`answers.complaint_count >= 2` -> 'the answer to "How many ...?" is 2 or more'."""
    try:
        return _words(form, parse(source).tree)
    except (ExpressionError, _Unsayable):
        return f"this holds: {source}"


class _Unsayable(Exception):
    pass


def _words(form: FormDefinition, node: ast.expr) -> str:
    if isinstance(node, ast.BoolOp):
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return joiner.join(_words(form, value) for value in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"it is not true that {_words(form, node.operand)}"
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        f = _field_of(form, node.left)
        if f is None:
            raise _Unsayable
        op, right = node.ops[0], node.comparators[0]
        who = f'the answer to "{f.label.strip()}"'
        if isinstance(op, ast.Eq | ast.NotEq):
            value = _literal(right)
            if value is None:
                answered = "answered" if isinstance(op, ast.NotEq) else "not answered"
                return f'"{f.label.strip()}" is {answered}'
            verb = "is" if isinstance(op, ast.Eq) else "is not"
            if f.type is FieldType.MULTIPLE_CHOICE:
                verb = "includes" if isinstance(op, ast.Eq) else "does not include"
            return f"{who} {verb} {_said(f, value)}"
        if isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.List | ast.Tuple):
            options = " or ".join(_said(f, _literal(e)) for e in right.elts)
            if f.type is FieldType.MULTIPLE_CHOICE:
                verb = "includes" if isinstance(op, ast.In) else "does not include"
            else:
                verb = "is" if isinstance(op, ast.In) else "is not"
            return f"{who} {verb} {options}"
        number = _literal(right)
        if isinstance(number, int | float) and not isinstance(number, bool):
            shown = f"{number:g}"
            phrases = {ast.GtE: f"{shown} or more", ast.Gt: f"more than {shown}",
                       ast.LtE: f"{shown} or less", ast.Lt: f"less than {shown}"}
            for kind, phrase in phrases.items():
                if isinstance(op, kind):
                    return f"{who} is {phrase}"
    raise _Unsayable


def _field_of(form: FormDefinition, node: ast.expr) -> Field | None:
    name = dotted_name(node) if isinstance(node, ast.Attribute | ast.Name) else None
    head, _, key = (name or "").partition(".")
    return form.field(key) if head == "answers" else None


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        if isinstance(inner, int | float):
            return -inner
    if isinstance(node, ast.Name) and node.id in ("true", "True", "false", "False"):
        return node.id.lower() == "true"
    if isinstance(node, ast.Name) and node.id in ("null", "None"):
        return None
    raise _Unsayable


def _said(f: Field, value: Any) -> str:
    for choice in f.choices:
        if choice.value == value:
            return f'"{choice.label}"'
    return f'"{value}"' if isinstance(value, str) else f"{value}"


# --- answers in words ----------------------------------------------------------------------


def answer_rows(
    form: FormDefinition, answers: Mapping[str, Any] | None,
    names: Mapping[tuple[FieldType, int], str] | None = None,
) -> list[dict[str, Any]]:
    """Summary-list rows: every question that was asked (its condition held), with the
    answer in words, or "Not answered"."""
    answers = answers or {}
    if names is None:
        names = record_names(form, answers)
    rows = []
    for f in form.fields:
        if f.key not in answers and f.show_when and not _holds(f.show_when, answers):
            continue
        text = answer_text(f, answers.get(f.key), names)
        value: dict[str, Any]
        if f.type is FieldType.MULTIPLE_CHOICE and isinstance(text, list):
            items = Markup("").join(Markup("<li>{}</li>").format(item) for item in text)
            value = {"html": Markup('<ul class="govuk-list govuk-list--bullet">{}</ul>').format(
                items)}
        else:
            value = {"text": text}
            if f.type is FieldType.LONG_TEXT:
                value["classes"] = "cb-answer--long"
        rows.append({"key": {"text": f.label}, "value": value})
    return rows


def _holds(source: str, answers: Mapping[str, Any]) -> bool:
    try:
        return parse(source).evaluate({"answers": answers})
    except ExpressionError:
        return True


def answer_text(
    f: Field, answer: Any, names: Mapping[tuple[FieldType, int], str] | None = None
) -> Any:
    """One answer in words (a list of words for multiple choice)."""
    if answer is None or answer == "" or answer == []:
        return NOT_ANSWERED
    kind = f.type
    labels = {c.value: c.label for c in f.choices}
    if kind is FieldType.MULTIPLE_CHOICE:
        chosen = answer if isinstance(answer, list) else [answer]
        return [labels.get(str(v), str(v)) for v in chosen]
    if kind in RADIO_TYPES:
        return labels.get(str(answer), str(answer))
    if kind is FieldType.DATE:
        try:
            day = date.fromisoformat(str(answer)[:10])
        except ValueError:
            return str(answer)
        return f"{day.day} {day:%B %Y}"
    if kind is FieldType.DATETIME:
        try:
            moment = datetime.fromisoformat(str(answer))
        except ValueError:
            return str(answer)
        hour = moment.hour % 12 or 12
        suffix = "am" if moment.hour < 12 else "pm"
        clock_text = f"{hour}:{moment:%M}{suffix}" if moment.minute else f"{hour}{suffix}"
        return f"{moment.day} {moment:%B %Y}, {clock_text}"
    if kind is FieldType.NUMBER:
        return f"{answer:g}" if isinstance(answer, float) else str(answer)
    if kind in (FieldType.PERSON, FieldType.LOCATION, FieldType.AGENCY, FieldType.FILE):
        try:
            key = (kind, int(answer))
        except (TypeError, ValueError):
            return str(answer)
        return (names or {}).get(key, f"Record {answer} (no longer available)")
    return str(answer)


def record_names(
    form: FormDefinition, answers: Mapping[str, Any]
) -> dict[tuple[FieldType, int], str]:
    """The names of the people, places, agencies and files the answers point at."""
    from web.database import session

    wanted: dict[FieldType, set[int]] = {}
    for f in form.fields:
        answer = answers.get(f.key)
        if f.type in (FieldType.PERSON, FieldType.LOCATION, FieldType.AGENCY, FieldType.FILE):
            try:
                wanted.setdefault(f.type, set()).add(int(answer))
            except (TypeError, ValueError):
                continue
    names: dict[tuple[FieldType, int], str] = {}
    if not wanted:
        return names
    db = session()
    if ids := wanted.get(FieldType.PERSON):
        for person in db.scalars(select(Person).where(Person.id.in_(ids))):
            names[(FieldType.PERSON, person.id)] = person.full_name or person.known_as or ""
    if ids := wanted.get(FieldType.LOCATION):
        for location in db.scalars(select(Location).where(Location.id.in_(ids))):
            names[(FieldType.LOCATION, location.id)] = location.one_line()
    if ids := wanted.get(FieldType.AGENCY):
        for agency in db.scalars(select(Agency).where(Agency.id.in_(ids))):
            names[(FieldType.AGENCY, agency.id)] = agency.name
    if ids := wanted.get(FieldType.FILE):
        for document in db.scalars(select(Document).where(Document.id.in_(ids))):
            names[(FieldType.FILE, document.id)] = document.filename
    return names


BAND_COLOURS = {"high": "red", "very_high": "red", "medium": "orange", "dissatisfied": "red",
                "low": "green", "satisfied": "green", "standard": "blue"}


def answer_scores(form: FormDefinition, answers: Mapping[str, Any] | None) -> list[dict]:
    """[{label, value, band, colour}] for each scored checklist of the form."""
    results = form.compute_scores(answers or {})
    return [
        {"label": score.label, "value": results[score.key]["value"],
         "band": results[score.key]["band"],
         "colour": BAND_COLOURS.get(results[score.key]["band"] or "", "grey")}
        for score in form.scores
    ]


def scored_fields(form: FormDefinition) -> list[Field]:
    keys = {key for score in form.scores for key in score.fields}
    return [f for f in form.fields if f.key in keys]

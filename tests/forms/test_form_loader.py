"""Form definitions: what check_form refuses (located by path and line), the shipped forms,
scores, and the answers forms.sampling generates for demos and property tests."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casebridge.yamlsource import DocumentError, Problem, load_yaml
from forms.loader import DEFINITIONS_DIR, check_form, shipped_forms
from forms.model import FieldType, FormDefinition
from forms.sampling import sample_answers
from rules.expressions import parse

HEAD = "key: sample\ntitle: A sample form\nfields:\n"


def form_text(fields: str, tail: str = "") -> str:
    return HEAD + fields + tail


def line_of(text: str, *snippets: str) -> int:
    """The 1-based line of the last snippet, each searched from the previous one's line on."""
    lines = text.splitlines()
    index = 0
    for snippet in snippets:
        while snippet not in lines[index]:
            index += 1
            assert index < len(lines), f"{snippet!r} is not in the text"
        found, index = index, index + 1
    return found + 1


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(DocumentError) as caught:
        check_form(load_yaml(text, "sample.yaml"))
    return caught.value.problems


YES_NO_B = "  - {key: b, type: yes_no, label: B, points: {yes: 1}}\n"

INVALID = [
    pytest.param(form_text("  - key: a\n    type: choice\n    label: A\n"),
                 "a choice field lists its choices", "fields[0].choices", ("- key: a",),
                 id="choice-without-choices"),
    pytest.param(form_text("  - key: a\n    type: multiple_choice\n    label: A\n"
                           "    choices: []\n"),
                 "a choice field lists its choices", "fields[0].choices", ("choices: []",),
                 id="multiple-choice-with-empty-choices"),
    pytest.param(form_text("  - key: a\n    type: text\n    label: A\n    choices:\n"
                           "      - {value: x, label: X}\n"),
                 "a text field has no choices", "fields[0].choices", ("choices:",),
                 id="choices-on-a-text-field"),
    pytest.param(form_text("  - key: a\n    type: yes_no\n    label: A\n    choices:\n"
                           "      - {value: x, label: X}\n"),
                 "a yes_no field has no choices", "fields[0].choices", ("choices:",),
                 id="choices-on-a-yes-no-field"),
    pytest.param(form_text("  - key: a\n    type: choice\n    label: A\n    points: {x: 1}\n"
                           "    choices:\n      - {value: x, label: X}\n"),
                 "only yes/no questions score by answer", "fields[0].points", ("points:",),
                 id="points-on-a-choice-field"),
    pytest.param(form_text("  - key: a\n    type: number\n    label: A\n    points: {yes: 1}\n"),
                 "only yes/no questions score by answer", "fields[0].points", ("points:",),
                 id="points-on-a-number-field"),
    pytest.param(form_text("  - key: a\n    type: yes_no\n    label: A\n    points: {maybe: 1}\n"),
                 "points for unknown answers ['maybe']", "fields[0].points", ("points:",),
                 id="points-for-an-unknown-answer"),
    pytest.param(form_text("  - key: a\n    type: yes_no\n    label: A\n"
                           "    points: {dont_know: 1}\n"),
                 "points for unknown answers ['dont_know']", "fields[0].points", ("points:",),
                 id="points-for-dont-know-on-yes-no"),
    pytest.param(form_text("  - key: a\n    type: text\n    label: A\n"
                           "    show_when: \"answers.b == 'yes'\"\n" + YES_NO_B),
                 "'answers.b' is not an earlier field", "fields[0].show_when",
                 ("show_when:",), id="show-when-refers-to-a-later-field"),
    pytest.param(form_text(YES_NO_B + "  - key: a\n    type: text\n    label: A\n"
                           "    show_when: \"answers.zz == 'yes'\"\n"),
                 "'answers.zz' is not an earlier field", "fields[1].show_when",
                 ("show_when:",), id="show-when-refers-to-an-unknown-field"),
    pytest.param(form_text("  - key: a\n    type: yes_no\n    label: A\n"
                           "    show_when: \"answers.a == 'yes'\"\n"),
                 "'answers.a' is not an earlier field", "fields[0].show_when",
                 ("show_when:",), id="show-when-refers-to-itself"),
    pytest.param(form_text(YES_NO_B + "  - key: a\n    type: text\n    label: A\n"
                           "    show_when: \"risk == 'high'\"\n"),
                 "'risk' is not an earlier field", "fields[1].show_when",
                 ("show_when:",), id="show-when-reads-something-else"),
    pytest.param(form_text(YES_NO_B + "  - key: a\n    type: text\n    label: A\n"
                           "    show_when: \"len(answers.b) > 1\"\n"),
                 "'Call' is not allowed", "fields[1].show_when", ("show_when:",),
                 id="show-when-with-a-call"),
    pytest.param(form_text(YES_NO_B, "scores:\n  - key: s\n    label: S\n    fields: [b, c]\n"),
                 "the score counts 'c', which is not a field", "scores[0].fields",
                 ("scores:", "fields:"), id="score-counts-an-unknown-field"),
    pytest.param(form_text(YES_NO_B + "  - {key: b, type: text, label: Again}\n"),
                 "the field 'b' is twice", "fields[1].key", ("Again",),
                 id="duplicate-field-key"),
    pytest.param(form_text("  - key: a\n    type: yes_no\n    label: A\n    colour: red\n"),
                 "Unknown field", "fields[0].colour", ("colour: red",),
                 id="unknown-key-at-field-level"),
    pytest.param(form_text("  - key: a\n    type: colour\n    label: A\n"),
                 "Must be one of: text", "fields[0].type", ("type: colour",),
                 id="unknown-field-type"),
    pytest.param(form_text("  - key: Bad\n    type: text\n    label: A\n"),
                 "use lower-case letters", "fields[0].key", ("key: Bad",),
                 id="field-key-not-lower-case"),
    pytest.param(form_text(YES_NO_B, "titel: typo\n"),
                 "Unknown field", "titel", ("titel: typo",), id="unknown-top-level-key"),
    pytest.param(HEAD.replace("fields:\n", "fields: []\n"),
                 "a form has at least one field", "fields", ("fields: []",),
                 id="no-fields"),
    pytest.param(form_text(YES_NO_B, "scores:\n  - key: s\n    label: S\n    fields: [b]\n"
                                     "    bands: [{min: 0, band: High}]\n"),
                 "use lower-case letters", "scores[0].bands[0].band", ("bands:",),
                 id="band-name-not-lower-case"),
]


@pytest.mark.parametrize(("text", "message", "path", "at"), INVALID)
def test_check_form_rejects_with_path_and_line(text, message, path, at):
    problems = problems_of(text)
    matching = [p for p in problems if message in p.message]
    assert len(matching) == 1, f"expected one problem saying {message!r}: {problems}"
    problem = matching[0]
    assert (problem.path, problem.line) == (path, line_of(text, *at)), str(problem)
    assert problem.source == "sample.yaml"


def test_every_problem_of_a_form_is_reported_at_once():
    text = form_text(YES_NO_B + "  - {key: b, type: text, label: Again}\n"
                     "  - key: a\n    type: text\n    label: A\n"
                     "    show_when: \"answers.zz == 'yes'\"\n",
                     "scores:\n  - key: s\n    label: S\n    fields: [b, c]\n")
    paths = {p.path for p in problems_of(text)}
    assert {"fields[1].key", "fields[2].show_when", "scores[0].fields"} <= paths


def test_a_form_must_be_a_mapping():
    (problem,) = problems_of("- just a list\n")
    assert (problem.path, problem.line, problem.message) == (
        "", 1, "a form definition is a mapping of keys")


def test_yes_no_points_keys_stay_text_the_norway_problem():
    form = check_form(load_yaml(form_text(
        "  - {key: a, type: yes_no_unknown, label: A, points: {yes: 2, no: 1}}\n"), "n.yaml"))
    field = form.field("a")
    assert field is not None
    assert [(c.value, c.points) for c in field.choices] == [
        ("yes", 2), ("no", 1), ("dont_know", 0)]


def test_a_valid_form_loads_with_its_fields_and_scores():
    text = form_text(
        "  - {key: when, type: date, label: When, required: true}\n"
        "  - {key: hurt, type: yes_no_unknown, label: Hurt, required: true, points: {yes: 3}}\n"
        "  - key: how\n    type: choice\n    label: How\n"
        "    show_when: \"answers.hurt == 'yes' and answers.when != 'x'\"\n"
        "    choices:\n      - {value: slight, label: Slight}\n"
        "      - {value: serious, label: Serious, points: 5}\n"
        "  - {key: n, type: number, label: N, min: 1, max: 4}\n",
        "scores:\n  - key: s\n    label: S\n    fields: [hurt, how]\n"
        "    bands: [{min: 8, band: high}, {min: 0, band: low}]\n",
    )
    form = check_form(load_yaml(text, "sample.yaml"))
    assert [f.key for f in form.fields] == ["when", "hurt", "how", "n"]
    assert form.field("how").choice_values == ("slight", "serious")
    assert form.field("hurt").choice_values == ("yes", "no", "dont_know")
    assert (form.field("n").minimum, form.field("n").maximum) == (1.0, 4.0)
    assert [b.minimum for b in form.scores[0].bands] == [0, 8]  # sorted
    assert form.field("nope") is None


# --- shipped forms ----------------------------------------------------------------------


def test_all_shipped_forms_load():
    forms = shipped_forms()
    files = sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml"))
    assert files, "no shipped forms found"
    assert sorted(forms) == files  # each file's key is its name
    for form in forms.values():
        assert isinstance(form, FormDefinition)
        assert form.fields
        for score in form.scores:
            assert set(score.fields) <= form.field_keys


# --- scores -------------------------------------------------------------------------------

DASH_LIKE = form_text(
    "".join(f"  - {{key: q{i}, type: yes_no_unknown, label: Question {i}, required: true,"
            f" points: {{yes: 1}}}}\n" for i in range(1, 21))
    + "  - key: judgement\n    type: choice\n    label: Professional judgement\n"
      "    choices:\n      - {value: standard, label: Standard}\n"
      "      - {value: high, label: High, points: 14}\n"
    + "  - key: factors\n    type: multiple_choice\n    label: Factors\n"
      "    choices:\n      - {value: f1, label: F1, points: 2}\n"
      "      - {value: f2, label: F2, points: 3}\n      - {value: f3, label: F3}\n",
    "scores:\n  - key: dash\n    label: DASH\n"
    "    fields: [" + ", ".join(f"q{i}" for i in range(1, 21)) + ", judgement, factors]\n"
    "    bands: [{min: 0, band: standard}, {min: 10, band: medium}, {min: 14, band: high}]\n"
    "  - key: judged\n    label: Judgement only\n    fields: [judgement]\n",
)


def yeses(count: int, rest: str = "no") -> dict[str, str]:
    return {f"q{i}": "yes" if i <= count else rest for i in range(1, 21)}


@pytest.mark.parametrize(
    ("answers", "value", "band"),
    [
        pytest.param({}, 0, "standard", id="unanswered"),
        pytest.param(yeses(0, rest="dont_know"), 0, "standard", id="all-dont-know"),
        pytest.param(yeses(9), 9, "standard", id="9"),
        pytest.param(yeses(10), 10, "medium", id="10"),
        pytest.param(yeses(13), 13, "medium", id="13"),
        pytest.param(yeses(14), 14, "high", id="14"),
        pytest.param(yeses(20), 20, "high", id="20"),
        pytest.param(yeses(0) | {"judgement": "high"}, 14, "high", id="judgement"),
        pytest.param(yeses(3) | {"judgement": "standard"}, 3, "standard", id="judgement-std"),
        pytest.param(yeses(5) | {"factors": ["f1", "f2", "f3"]}, 10, "medium", id="multiple"),
        pytest.param(yeses(5) | {"factors": ["f2"]}, 8, "standard", id="multiple-one"),
        pytest.param(yeses(2) | {"unrelated": "yes"}, 2, "standard", id="ignores-others"),
    ],
)
def test_compute_scores_sums_points_and_picks_the_band(answers, value, band):
    form = check_form(load_yaml(DASH_LIKE, "dash.yaml"))
    scores = form.compute_scores(answers)
    assert scores["dash"] == {"value": value, "band": band}
    judged = 14 if answers.get("judgement") == "high" else 0
    assert scores["judged"] == {"value": judged, "band": None}  # no bands: no band


def test_shipped_screening_scores():
    form = shipped_forms()["asb_report"]
    nothing = {f.key: "no" for f in form.fields if f.type is FieldType.YES_NO_UNKNOWN}
    assert form.compute_scores(nothing)["screening"] == {"value": 0, "band": "standard"}
    everything = dict.fromkeys(nothing, "yes")
    assert form.compute_scores(everything)["screening"] == {"value": 21, "band": "high"}


# --- sampling -----------------------------------------------------------------------------

SHIPPED = sorted(shipped_forms().items())
TODAY = date(2026, 5, 1)


def check_sampled(form: FormDefinition, answers: dict) -> None:
    assert set(answers) <= form.field_keys, "an answer to a question the form does not ask"
    shown: dict = {}
    for field in form.fields:
        visible = not field.show_when or parse(field.show_when).evaluate({"answers": shown})
        if not visible:
            assert field.key not in answers, f"{field.key} answered although hidden"
            continue
        if field.key not in answers:
            assert not (field.required and field.type in (
                FieldType.CHOICE, FieldType.MULTIPLE_CHOICE, FieldType.YES_NO,
                FieldType.YES_NO_UNKNOWN, FieldType.NUMBER, FieldType.DATE, FieldType.DATETIME,
                FieldType.TEXT, FieldType.LONG_TEXT)), f"required {field.key} unanswered"
            continue
        value = answers[field.key]
        shown[field.key] = value
        if field.type in (FieldType.CHOICE, FieldType.YES_NO, FieldType.YES_NO_UNKNOWN):
            assert value in field.choice_values
        elif field.type is FieldType.MULTIPLE_CHOICE:
            assert isinstance(value, list)
            assert value
            assert len(set(value)) == len(value)
            assert set(value) <= set(field.choice_values)
        elif field.type is FieldType.NUMBER:
            assert isinstance(value, int)
            assert field.minimum is None or value >= field.minimum
            assert field.maximum is None or value <= field.maximum
        elif field.type is FieldType.DATE:
            assert date.fromisoformat(value) <= TODAY
        elif field.type is FieldType.DATETIME:
            assert datetime.fromisoformat(value).date() <= TODAY
        elif field.type in (FieldType.TEXT, FieldType.LONG_TEXT):
            assert isinstance(value, str)
            assert value
            assert field.max_length is None or len(value) <= field.max_length
        else:
            pytest.fail(f"{field.type} answers point at records and are not sampled")


@pytest.mark.parametrize(("key", "form"), SHIPPED, ids=[k for k, _ in SHIPPED])
@settings(max_examples=60, deadline=None)
@given(rng=st.randoms(use_true_random=False), fill=st.sampled_from([0.0, 0.5, 1.0]))
def test_sampled_answers_fit_every_shipped_form(key, form, rng, fill):
    check_sampled(form, sample_answers(form, rng, today=TODAY, fill_optional=fill))


def test_sampling_respects_show_when_both_ways():
    form = shipped_forms()["victim_contact"]
    seen = {"yes": False, "no": False}
    for seed in range(200):
        answers = sample_answers(form, random.Random(seed), today=TODAY, fill_optional=1.0)
        made = answers["contact_made"]
        seen[made] = True
        assert ("method" in answers) is (made == "yes")
    assert all(seen.values())


def test_sampling_is_reproducible_from_the_seed():
    form = shipped_forms()["asb_report"]
    first = sample_answers(form, random.Random(7), today=TODAY)
    assert first == sample_answers(form, random.Random(7), today=TODAY)


# --- bugs found ---------------------------------------------------------------------------


@pytest.mark.parametrize("condition", ["answers.b != null", "answers.b == true or false"])
def test_show_when_may_use_the_true_false_null_literals(condition):
    text = form_text(YES_NO_B + f"  - key: a\n    type: text\n    label: A\n"
                                f"    show_when: \"{condition}\"\n")
    form = check_form(load_yaml(text, "sample.yaml"))
    assert form.field("a").show_when == condition


def test_duplicate_choice_values_are_rejected():
    text = form_text("  - key: a\n    type: choice\n    label: A\n    choices:\n"
                     "      - {value: x, label: X, points: 1}\n"
                     "      - {value: x, label: Also X, points: 5}\n")
    with pytest.raises(DocumentError):
        check_form(load_yaml(text, "sample.yaml"))


def test_a_number_field_min_above_max_is_rejected():
    text = form_text("  - key: n\n    type: number\n    label: N\n    min: 10\n    max: 1\n")
    with pytest.raises(DocumentError):
        check_form(load_yaml(text, "sample.yaml"))

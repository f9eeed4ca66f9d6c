"""Every way a case-type definition can be wrong is reported with its message, line and path.

Each invalid case is a small edit of one valid base definition. The forms it uses are written
here too, so the table depends on neither the shipped forms nor the shipped case types.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from casebridge.yamlsource import DocumentError, Problem, load_yaml
from forms.loader import check_form
from forms.model import FieldType, FormDefinition
from workflows.loader import load_definition_text
from workflows.model import CLOSED, AnchorKind, DurationUnit, WorkerKind

INTAKE_FORM = """\
key: intake
title: Intake
fields:
  - key: kind
    type: choice
    label: What kind of problem is it?
    required: true
    choices:
      - {value: a, label: Kind A}
      - {value: b, label: Kind B}
      - {value: c, label: Kind C}
  - {key: urgent, type: yes_no, label: Is it urgent, required: true, points: {yes: 10}}
  - {key: met_on, type: date, label: When did you meet}
  - {key: notes, type: text, label: Notes}
  - key: shade
    type: choice
    label: An optional choice
    choices:
      - {value: light, label: Light}
      - {value: dark, label: Dark}
scores:
  - key: s
    label: Urgency
    fields: [urgent]
    bands: [{min: 0, band: standard}, {min: 10, band: high}]
"""

WORK_FORM = """\
key: work
title: Work
fields:
  - {key: done, type: yes_no, label: Is the work done, required: true}
"""


def _forms() -> dict[str, FormDefinition]:
    return {
        form.key: form
        for form in (check_form(load_yaml(INTAKE_FORM, "intake.yaml")),
                     check_form(load_yaml(WORK_FORM, "work.yaml")))
    }


FORMS = _forms()

BASE = """\
key: demo
name: Demo case type
version: 1
reference_prefix: DEM
opened_by:
  roles: [practitioner, manager]
  agency_types: [police, council]
facts:
  threshold_met: The threshold detector's answer
start: intake
stages:
  intake:
    name: Intake
    form: intake
    worked_by: lead
    deadline:
      within: 5 working days
      warn_before: 1 working day
    transitions:
      - to: work
        when: "answers.kind == 'a'"
      - to: closed
        otherwise: true
        close_reason: Nothing to do
  work:
    name: Work
    form: work
    worked_by: {role: manager}
    transitions:
      - to: check
        when: "answers.done == 'yes'"
      - to: work
        otherwise: true
  check:
    name: Check
    worked_by: {agency_type: police}
    transitions:
      - to: closed
  review:
    name: Review
    form: work
    worked_by: owner
    recurring:
      every: 28 calendar days
      while_in: [work]
"""

# Pieces of BASE that several cases edit.
FIRST_GUARD = """\
      - to: work
        when: "answers.kind == 'a'"
"""
INTAKE_OTHERWISE = """\
      - to: closed
        otherwise: true
        close_reason: Nothing to do
"""
WORK_TRANSITIONS = """\
      - to: check
        when: "answers.done == 'yes'"
      - to: work
        otherwise: true
"""


def edit(*edits: tuple[str, str], base: str = BASE) -> str:
    """Apply (old, new) replacements; each `old` must occur exactly once."""
    text = base
    for old, new in edits:
        assert text.count(old) == 1, f"the edit target {old!r} is not unique in the text"
        text = text.replace(old, new)
    return text


def line_of(text: str, *snippets: str) -> int:
    """The 1-based line holding the last snippet, each searched from the previous one's line
    on (so ("  intake:", "transitions:") is the intake stage's transitions line)."""
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
        load_definition_text(text, "case.yaml", FORMS)
    assert caught.value.problems, "a DocumentError must list its problems"
    return caught.value.problems


@dataclass(frozen=True)
class Invalid:
    text: str
    message: str  # a substring of exactly one problem's message
    path: str  # that problem's Problem.path
    at: tuple[str, ...] | int  # snippets locating its line in `text` (see line_of), or the line


def case(*edits: tuple[str, str], message: str, path: str, at: tuple[str, ...] | int) -> Invalid:
    return Invalid(edit(*edits), message, path, at)



def letter(body: str, *, message: str, path: str, effect: str = "letter") -> Invalid:
    """The check stage writes a letter on entry: `- letter: <body>`."""
    return case(("    name: Check\n",
                 f"    name: Check\n    on_enter:\n      - {effect}: {body}\n"),
                message=message, path=path, at=(f"- {effect}:",))


def stage_named(name: str) -> Invalid:
    return case(("  check:\n", f"  {name}:\n"), ("- to: check", f"- to: {name}"),
                ("    name: Check\n", "    name: Check\n    deadline: {within: 2 fortnights}\n"),
                message="'2 fortnights' is not a duration",
                path=f"stages.{name}.deadline.within", at=("2 fortnights",))


INVALID = [
    pytest.param(case(("- to: check", "- to: chekc"),
                      message="unknown stage 'chekc'", path="stages.work.transitions[0].to",
                      at=("- to: chekc",)),
                 id="unknown-stage-in-transition"),
    pytest.param(case(("start: intake", "start: intak"),
                      message="unknown stage 'intak'", path="start", at=("start: intak",)),
                 id="unknown-start-stage"),
    pytest.param(case(("form: intake", "form: intkae"),
                      message="unknown form 'intkae'", path="stages.intake.form",
                      at=("form: intkae",)),
                 id="unknown-form"),
    pytest.param(case(("{role: manager}", "{role: boss}"),
                      message="unknown role 'boss'", path="stages.work.worked_by",
                      at=("{role: boss}",)),
                 id="unknown-role-in-worked-by"),
    pytest.param(case(("{agency_type: police}", "{agency_type: fire_brigade}"),
                      message="unknown agency type 'fire_brigade'", path="stages.check.worked_by",
                      at=("{agency_type: fire_brigade}",)),
                 id="unknown-agency-type-in-worked-by"),
    pytest.param(case(("agency_types: [police, council]", "agency_types: [police, councel]"),
                      message="unknown agency type 'councel'", path="opened_by.agency_types[1]",
                      at=("councel",)),
                 id="unknown-agency-type-in-opened-by"),
    pytest.param(case(("reference_prefix: DEM\n", "reference_prefix: DEM\ncalendar: narnia\n"),
                      message="unknown calendar 'narnia'", path="calendar",
                      at=("calendar: narnia",)),
                 id="unknown-calendar"),
    pytest.param(case(("  review:\n",
                       "  orphan:\n    name: Orphan\n    transitions:\n      - to: closed\n"
                       "  review:\n"),
                      message="the stage 'orphan' can never be reached", path="stages.orphan",
                      at=("  orphan:",)),
                 id="unreachable-stage"),
    pytest.param(case((WORK_TRANSITIONS, "      - to: check\n"),
                      ("      - to: closed\n  review:", "      - to: work\n  review:"),
                      message="from 'work' there is no way to close the case",
                      path="stages.work", at=("  work:",)),
                 id="loop-with-no-way-to-closed"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD.replace("answers.kind", "answers.nope")),
                      message="unknown field 'nope' in 'answers.nope'",
                      path="stages.intake.transitions[0].when", at=("answers.nope",)),
                 id="guard-unknown-field"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'", "facts.nope")),
                      message="'facts.nope' is not a fact",
                      path="stages.intake.transitions[0].when", at=("facts.nope",)),
                 id="guard-unknown-fact"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'",
                                                        "scores.nope.value >= 3")),
                      message="the stage's form has no score 'nope'",
                      path="stages.intake.transitions[0].when", at=("scores.nope",)),
                 id="guard-unknown-score"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'",
                                                        "__import__('os')")),
                      message="'Call' is not allowed",
                      path="stages.intake.transitions[0].when", at=("__import__",)),
                 id="guard-function-call"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'",
                                                        "answers.kind == = 'a'")),
                      message="cannot read the condition",
                      path="stages.intake.transitions[0].when", at=("== =",)),
                 id="guard-syntax-error"),
    pytest.param(case((FIRST_GUARD, FIRST_GUARD + "      - to: check\n"
                                                  "        when: \"answers.kind in ['a', 'b']\"\n"),
                      message="can both be true", path="stages.intake.transitions[1].when",
                      at=("in ['a', 'b']",)),
                 id="overlapping-guards"),
    pytest.param(case((FIRST_GUARD, "      - to: work\n"
                                    "        when: \"scores.s.value >= 10\"\n"
                                    "      - to: check\n"
                                    "        when: \"scores.s.value > 5\"\n"),
                      message="can both be true", path="stages.intake.transitions[1].when",
                      at=("scores.s.value > 5",)),
                 id="overlapping-numeric-guards"),
    pytest.param(case((INTAKE_OTHERWISE, "      - to: closed\n"
                                         "        when: \"answers.kind == 'b'\"\n"),
                      message="no transition is taken when none of the conditions hold",
                      path="stages.intake.transitions", at=("  intake:", "transitions:")),
                 id="missing-otherwise-guards-miss-a-choice"),
    pytest.param(case((INTAKE_OTHERWISE, "      - to: closed\n"
                                         "        when: \"answers.shade == 'dark'\"\n"),
                      (FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'",
                                                        "answers.shade == 'light'")),
                      message="no transition is taken when none of the conditions hold",
                      path="stages.intake.transitions", at=("  intake:", "transitions:")),
                 id="missing-otherwise-choices-covered-but-field-optional"),
    pytest.param(case((WORK_TRANSITIONS, WORK_TRANSITIONS.replace(
                          "when: \"answers.done == 'yes'\"", "otherwise: true")),
                      message="only one transition can be the 'otherwise' way",
                      path="stages.work.transitions[1].otherwise",
                      at=("  work:", "otherwise: true", "otherwise: true")),
                 id="two-otherwise"),
    pytest.param(case((WORK_TRANSITIONS, WORK_TRANSITIONS.replace(
                          "        when: \"answers.done == 'yes'\"\n", "")),
                      message="each needs 'when: ...' or 'otherwise: true'",
                      path="stages.work.transitions[0]", at=("  work:", "- to: check")),
                 id="unconditional-transition-beside-others"),
    pytest.param(case(("within: 5 working days", "within: 2 fortnights"),
                      message="'2 fortnights' is not a duration",
                      path="stages.intake.deadline.within", at=("2 fortnights",)),
                 id="bad-duration"),
    pytest.param(stage_named("kee"), id="bad-duration-in-another-stage"),
    pytest.param(stage_named("value"), id="bad-duration-in-a-stage-named-value"),
    pytest.param(stage_named("key"), id="bad-duration-in-a-stage-named-key"),
    pytest.param(case(("warn_before: 1 working day", "warn_before: 5 working days"),
                      message="is not shorter than the deadline",
                      path="stages.intake.deadline.warn_before", at=("warn_before:",)),
                 id="warn-before-as-long-as-deadline"),
    pytest.param(case(("warn_before: 1 working day", "warn_before: 41 working hours"),
                      message="is not shorter than the deadline",
                      path="stages.intake.deadline.warn_before", at=("warn_before:",)),
                 id="warn-before-longer-than-deadline-in-hours"),
    pytest.param(case(("      within: 5 working days\n",
                       "      within: 5 working days\n"
                       "      by_risk:\n"
                       "        critical: 1 working day\n"),
                      message="risk levels are standard, medium, high",
                      path="stages.intake.deadline.by_risk.critical", at=("critical:",)),
                 id="by-risk-unknown-level"),
    pytest.param(case(("    name: Work\n", "    name: Work\n"
                                           "    deadline:\n"
                                           "      within: 0 working days\n"
                                           "      from: answer:intake.notes\n"),
                      message="'intake.notes' is a text field, not a date",
                      path="stages.work.deadline.from", at=("from: answer:intake.notes",)),
                 id="deadline-from-answer-not-a-date"),
    pytest.param(case(("    name: Work\n", "    name: Work\n"
                                           "    deadline:\n"
                                           "      within: 2 working days\n"
                                           "      from: answer:intake.nope\n"),
                      message="stage 'intake' has no form field 'nope'",
                      path="stages.work.deadline.from", at=("from: answer:intake.nope",)),
                 id="deadline-from-answer-unknown-field"),
    pytest.param(case(("    name: Check\n", "    name: Check\n    join: [work, intake]\n"),
                      message="'intake' never moves to 'check'", path="stages.check.join",
                      at=("join: [work, intake]",)),
                 id="join-names-a-stage-that-never-leads-there"),
    pytest.param(case(("start: intake", "start: [intake, review]"),
                      message="'review' recurs on a schedule and cannot be a start stage",
                      path="start", at=("start: [intake, review]",)),
                 id="recurring-stage-as-start"),
    pytest.param(case(("- to: check", "- to: review"),
                      message="'review' recurs on its schedule; a transition cannot open it",
                      path="stages.work.transitions[0].to", at=("- to: review",)),
                 id="recurring-stage-as-transition-target"),
    pytest.param(case(("    name: Check\n",
                       "    name: Check\n    completes_when: actions_settled\n"),
                      message="creates no actions on entry", path="stages.check.completes_when",
                      at=("completes_when:",)),
                 id="completes-when-actions-settled-without-actions"),
    pytest.param(case(("version: 1", "version: 0"),
                      message="greater than or equal to 1", path="version", at=("version: 0",)),
                 id="version-zero"),
    pytest.param(case(("reference_prefix: DEM", "reference_prefix: dem"),
                      message="2 to 6 capital letters", path="reference_prefix",
                      at=("reference_prefix: dem",)),
                 id="reference-prefix-lower-case"),
    pytest.param(case(("stages:\n", "stagse:\n"),
                      message="Unknown field", path="stagse", at=("stagse:",)),
                 id="unknown-top-level-key"),
    pytest.param(case(("    name: Work\n", "    name: Work: in progress\n"),
                      message="not valid YAML", path="", at=("Work: in progress",)),
                 id="yaml-syntax-error"),
    pytest.param(case((BASE, ""), message="the file is empty", path="", at=1),
                 id="empty-file"),
    pytest.param(case((BASE, "# only a comment\n"), message="the file is empty", path="", at=1),
                 id="comment-only-file"),
    pytest.param(case((BASE, "- a list\n"), message="a case type is a mapping", path="", at=1),
                 id="not-a-mapping"),
    pytest.param(case(("  review:\n",
                       "  closed:\n    name: Closed\n    transitions:\n      - to: intake\n"
                       "  review:\n"),
                      message="'closed' is reserved", path="stages.closed", at=("  closed:",)),
                 id="reserved-stage-name-closed"),
    pytest.param(letter("{template: closure_leter, to: victim}",
                        message="there is no letter 'closure_leter': use one of "
                                "case_review_outcome, closure_letter",
                        path="stages.check.on_enter[0].template"),
                 id="letter-unknown-template"),
    pytest.param(letter("{template: closure_letter, to: perpetrator}",
                        message="a letter goes to victim, complainant or applicant",
                        path="stages.check.on_enter[0].to"),
                 id="letter-to-someone-it-cannot-go-to"),
    pytest.param(letter("{to: victim}", message="Missing data for required field",
                        path="stages.check.on_enter[0].template"),
                 id="letter-without-a-template"),
    pytest.param(letter("{template: closure_letter, to: victim, copies: 2}",
                        message="Unknown field", path="stages.check.on_enter[0].copies"),
                 id="letter-unknown-key"),
    pytest.param(letter("{template: closure_letter, to: victim}", effect="lettre",
                        message="'lettre' is not an effect: use notify, create_action, "
                                "refer, letter, set_status or set_risk",
                        path="stages.check.on_enter[0]"),
                 id="letter-misspelt"),
]


@pytest.mark.parametrize("invalid", INVALID)
def test_invalid_definition_is_rejected_with_message_line_and_path(invalid: Invalid) -> None:
    problems = problems_of(invalid.text)
    matching = [p for p in problems if invalid.message in p.message]
    assert len(matching) == 1, f"expected one problem saying {invalid.message!r}: {problems}"
    problem = matching[0]
    expected_line = invalid.at if isinstance(invalid.at, int) else line_of(
        invalid.text, *invalid.at)
    assert (problem.path, problem.line) == (invalid.path, expected_line), str(problem)
    assert problem.source == "case.yaml"
    assert str(problem).startswith(f"case.yaml:{expected_line}: ")


# --- positive checks -------------------------------------------------------------------


def test_a_letter_to_the_victim_loads_and_the_interpreter_asks_for_it():
    from datetime import UTC, datetime

    from workflows.interpreter import Interpreter, LetterRequested, OpenCase, SubmitStage
    from workflows.model import EffectKind, EffectSpec

    text = edit(("    name: Check\n", "    name: Check\n    on_enter:\n"
                 "      - letter: {template: closure_letter, to: victim}\n"))
    definition = load_definition_text(text, "case.yaml", FORMS)
    assert definition.stage("check").on_enter == (
        EffectSpec(EffectKind.LETTER, template="closure_letter", recipient="victim"),)
    interpreter = Interpreter(definition, FORMS)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    state = interpreter.start(OpenCase(at=at)).state
    state = interpreter.handle(state, SubmitStage(at=at, stage="intake", sequence=1,
                                                  answers={"kind": "a", "urgent": "no"})).state
    effects = interpreter.handle(state, SubmitStage(at=at, stage="work", sequence=1,
                                                    answers={"done": "yes"})).effects
    assert LetterRequested("closure_letter", "victim", "check", 1) in effects


def test_the_base_definition_loads():
    definition = load_definition_text(BASE, "case.yaml", FORMS)
    assert definition.key == "demo"
    assert definition.version == 1
    assert definition.start == ("intake",)
    assert list(definition.stages) == ["intake", "work", "check", "review"]
    intake = definition.stage("intake")
    assert intake.deadline is not None
    assert intake.deadline.within is not None
    assert intake.deadline.within.amount == 5
    assert intake.deadline.within.unit is DurationUnit.WORKING_DAYS
    assert intake.deadline.anchor.kind is AnchorKind.STAGE_ENTRY
    assert intake.transitions[1].closes
    assert intake.transitions[1].to == (CLOSED,)
    assert definition.stage("work").worked_by.kind is WorkerKind.ROLE
    assert definition.stage("check").worked_by.agency_type == "police"
    assert [s.key for s in definition.recurring_stages] == ["review"]
    assert definition.facts == {"threshold_met": "The threshold detector's answer"}


def test_the_answer_anchored_deadline_on_a_date_field_loads():
    text = edit(("    name: Work\n", "    name: Work\n"
                                   "    deadline:\n"
                                   "      within: 0 working days\n"
                                   "      from: answer:intake.met_on\n"))
    anchor = load_definition_text(text, "case.yaml", FORMS).stage("work").deadline.anchor
    assert (anchor.kind, anchor.stage, anchor.field) == (AnchorKind.ANSWER, "intake", "met_on")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("answers.kind == 'a'", "answers.kind in ['b', 'c']", id="choice"),
        pytest.param("answers.kind in ['a', 'b']", "answers.kind == 'c'", id="choice-list"),
        pytest.param("answers.urgent == 'yes'", "answers.urgent == 'no'", id="yes-no"),
    ],
)
def test_exhaustive_guards_over_a_required_choice_need_no_otherwise(first, second):
    text = edit((FIRST_GUARD, FIRST_GUARD.replace("answers.kind == 'a'", first)),
                (INTAKE_OTHERWISE, "      - to: closed\n"
                                   f"        when: \"{second}\"\n"
                                   "        close_reason: Nothing to do\n"))
    transitions = load_definition_text(text, "case.yaml", FORMS).stage("intake").transitions
    assert [t.when for t in transitions] == [first, second]
    assert not any(t.otherwise for t in transitions)


def test_the_norway_problem_a_yes_key_stays_the_text_yes():
    form = FORMS["intake"]
    urgent = form.field("urgent")
    assert urgent is not None
    assert urgent.type is FieldType.YES_NO
    assert urgent.choice_values == ("yes", "no")
    assert urgent.points_for("yes") == 10
    assert urgent.points_for("no") == 0
    data = load_yaml("points: {yes: 2, no: 1, on: 3, off: 4, y: 5}\nflag: true\n", "x.yaml").data
    assert data["points"] == {"yes": 2, "no": 1, "on": 3, "off": 4, "y": 5}
    assert all(isinstance(k, str) for k in data["points"])
    assert data["flag"] is True


REFORMATTED = """\
# The same case type, written differently: comments, flow style, other order and spacing.
name: Demo case type   # the display name
key: demo
version: 1
reference_prefix: DEM
opened_by: {agency_types: [police, council], roles: [practitioner, manager]}
facts: {threshold_met: "The threshold detector's answer"}
start: intake

stages:
  intake:
    name: Intake
    form: intake
    worked_by: lead
    deadline: {warn_before: 1 working day, within: 5 working days}
    transitions:
      - {to: work, when: "answers.kind == 'a'"}
      - {to: closed, otherwise: true, close_reason: Nothing to do}
  work:
    name: Work
    form: work
    worked_by:
      role: manager
    transitions:
      - {to: check, when: "answers.done == 'yes'"}
      - {to: work, otherwise: true}
  check:
    name: Check
    worked_by: {agency_type: police}
    transitions: [{to: closed}]
  review:
    name: Review
    form: work
    worked_by: owner
    recurring: {every: 28 calendar days, while_in: [work]}
"""


def test_content_hash_ignores_comments_and_layout():
    base = load_definition_text(BASE, "case.yaml", FORMS)
    commented = load_definition_text(
        "# a comment at the top\n" + BASE.replace("name: Work\n", "name: Work   # trailing\n"),
        "case.yaml", FORMS,
    )
    reformatted = load_definition_text(REFORMATTED, "other.yaml", FORMS)
    assert len(base.content_hash) == 64
    assert commented.content_hash == base.content_hash
    assert reformatted.content_hash == base.content_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("name: Demo case type", "name: Demo case type 2", id="name"),
        pytest.param("version: 1", "version: 2", id="version"),
        pytest.param("within: 5 working days", "within: 6 working days", id="deadline"),
        pytest.param("close_reason: Nothing to do", "close_reason: Nothing to do.", id="reason"),
        pytest.param("answers.kind == 'a'", "answers.kind == 'b'", id="guard"),
        pytest.param("every: 28 calendar days", "every: 28 working days", id="unit"),
        pytest.param("    form: intake\n", "    form: intake\n    pausable: true\n", id="added"),
    ],
)
def test_content_hash_changes_with_any_real_change(old, new):
    base = load_definition_text(BASE, "case.yaml", FORMS)
    changed = load_definition_text(edit((old, new)), "case.yaml", FORMS)
    assert changed.content_hash != base.content_hash


def test_several_semantic_problems_are_all_reported_at_once():
    text = edit(
        ("start: intake", "start: [intake, intak]"),
        ("form: intake", "form: intkae"),
        ("{role: manager}", "{role: boss}"),
        ("- to: check", "- to: chekc"),
        ("{agency_type: police}", "{agency_type: fire_brigade}"),
        ("warn_before: 1 working day", "warn_before: 9 working days"),
        ("      - to: closed\n  review:", "      - to: closed\n        when: \"facts.nope\"\n"
                                          "  review:"),
    )
    found = {(p.path, p.line, p.message.split(" (")[0]) for p in problems_of(text)}
    expected = {
        ("start", line_of(text, "start:"), "unknown stage 'intak'"),
        ("stages.intake.form", line_of(text, "form: intkae"), "unknown form 'intkae'"),
        ("stages.work.worked_by", line_of(text, "{role: boss}"), "unknown role 'boss'"),
        ("stages.work.transitions[0].to", line_of(text, "- to: chekc"),
         "unknown stage 'chekc'"),
        ("stages.check.worked_by", line_of(text, "fire_brigade"),
         "unknown agency type 'fire_brigade'"),
        ("stages.intake.deadline.warn_before", line_of(text, "warn_before:"),
         "the warning"),
        ("stages.check.transitions[0].when", line_of(text, "facts.nope"),
         "'facts.nope' is not a fact this case type declares under 'facts'"),
    }
    assert expected <= found, sorted(found)


def test_several_schema_problems_are_all_reported_at_once():
    text = edit(("version: 1", "version: 0"), ("reference_prefix: DEM", "reference_prefix: dem"),
                ("name: Demo case type\n", "name: Demo case type\nnmae: typo\n"))
    found = {(p.path, p.line) for p in problems_of(text)}
    assert {("version", line_of(text, "version: 0")),
            ("reference_prefix", line_of(text, "reference_prefix: dem")),
            ("nmae", line_of(text, "nmae: typo"))} <= found


# --- guards the validator accepts but that fail at run time ----------------------------

TAGS_FORM = """\
key: tags
title: Tags
fields:
  - {key: gate, type: yes_no, label: Open the next question, required: true}
  - key: tags
    type: multiple_choice
    label: Tags
    required: true
    choices: [{value: x, label: X}, {value: y, label: Y}]
  - key: level
    type: choice
    label: Level
    required: true
    show_when: "answers.gate == 'yes'"
    choices: [{value: low, label: Low}, {value: high, label: High}]
"""

TWO_GUARDS = """\
key: guards
name: Guards
version: 1
reference_prefix: GRD
start: ask
stages:
  ask:
    name: Ask
    form: tags
    transitions:
      - {{to: act, when: "{first}"}}
      - {{to: closed, when: "{second}", close_reason: Nothing to do}}
  act:
    name: Act
    transitions:
      - to: closed
"""


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("answers.tags in ['x']", "answers.tags in ['y']", id="multiple-choice-in"),
        pytest.param("answers.tags == 'x'", "answers.tags == 'y'", id="multiple-choice-eq"),
        pytest.param("answers.level == 'low'", "answers.level == 'high'",
                     id="required-but-conditional"),
        pytest.param("answers.gate == 'yes'", "answers.gate == 'yes'", id="same-guard-twice"),
    ],
)
def test_guards_that_could_fail_at_run_time_are_rejected(first, second):
    forms = {"tags": check_form(load_yaml(TAGS_FORM, "tags.yaml"))}
    text = TWO_GUARDS.format(first=first, second=second)
    with pytest.raises(DocumentError):
        load_definition_text(text, "case.yaml", forms)


def test_a_worker_with_an_empty_role_is_rejected():
    with pytest.raises(DocumentError):
        load_definition_text(edit(("{role: manager}", "{role: null}")), "case.yaml", FORMS)

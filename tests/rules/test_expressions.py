"""The condition language: what it reads and computes, what it refuses, and the static
analysis (simple constraints and their overlap) that definition validation relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.expressions import (
    MAX_LENGTH,
    Constraint,
    Expression,
    ExpressionError,
    overlap,
    parse,
    simple_constraint,
)

CONTEXT = {
    "answers": {"kind": "a", "n": 7, "tags": ["x", "y"], "blank": None, "yes": "yes"},
    "scores": {"dash": {"value": 15, "band": "high"}},
    "risk": "medium",
    "attempt": 2,
    "facts": {"threshold_met": True, "unknown": None},
    "stages": {"report": {"hate_motivated": "no"}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # and / or / not
        ("answers.kind == 'a' and risk == 'medium'", True),
        ("answers.kind == 'a' and risk == 'high'", False),
        ("answers.kind == 'b' or risk == 'medium'", True),
        ("answers.kind == 'b' or risk == 'high'", False),
        ("not answers.kind == 'b'", True),
        ("not (answers.kind == 'a' and attempt < 3)", False),
        ("answers.kind == 'b' or answers.kind == 'a' and attempt == 2", True),
        ("facts.threshold_met", True),
        ("not facts.threshold_met", False),
        ("facts.threshold_met and not facts.unknown", True),
        # comparisons, chained
        ("answers.n > 5", True),
        ("answers.n >= 7", True),
        ("answers.n < 7", False),
        ("answers.n <= 6", False),
        ("answers.n != 7", False),
        ("5 < answers.n < 10", True),
        ("5 < answers.n < 7", False),
        ("1 < 2 < 3 < answers.n", True),
        ("10 > answers.n > 7", False),
        ("scores.dash.value >= 14 and scores.dash.band == 'high'", True),
        ("attempt < 3", True),
        ("answers.n == 7.0", True),
        ("answers.n > -1", True),
        # in / not in with lists (and tuples)
        ("answers.kind in ['a', 'b']", True),
        ("answers.kind in ['b', 'c']", False),
        ("answers.kind not in ['b', 'c']", True),
        ("answers.kind not in ['a']", False),
        ("answers.kind in ('a', 'b')", True),
        ("answers.n in [1, 7]", True),
        ("risk in []", False),
        # multiple choice answers (a list): any of them in the list
        ("answers.tags in ['y', 'z']", True),
        ("answers.tags in ['z']", False),
        ("answers.tags not in ['z']", True),
        ("answers.tags not in ['x']", False),
        ("answers.tags == ['x', 'y']", True),
        # unanswered: None, never an error; ordering against None is simply false
        ("answers.blank < 3", False),
        ("answers.blank > 3", False),
        ("answers.blank <= 3", False),
        ("answers.blank >= 3", False),
        ("3 > answers.blank", False),
        ("not answers.blank < 3", True),
        ("answers.missing < 3", False),
        ("answers.missing > 3", False),
        ("answers.missing == 'a'", False),
        ("answers.missing in ['a']", False),
        ("answers.missing not in ['a']", True),
        ("answers.kind in answers.missing", False),
        ("answers.kind not in answers.missing", True),
        ("answers.kind < 3", False),  # text against a number: false, not a TypeError
        ("answers.tags > 3", False),
        # unknown names are None
        ("nothing.here == null", True),
        ("answers.kind.deeper == null", True),  # reading into a text value
        ("scores.nope.value == null", True),
        ("stages.report.hate_motivated == 'no'", True),
        ("stages.other.x == null", True),
        # literals, YAML and Python spellings
        ("true", True),
        ("false", False),
        ("null", False),
        ("True and not False", True),
        ("None == null", True),
        ("facts.threshold_met == true", True),
        ("facts.threshold_met == false", False),
        ("facts.unknown == null", True),
        ("answers.blank != null", False),
        ("answers.yes == 'yes'", True),
    ],
)
def test_evaluate(text, expected):
    assert parse(text).evaluate(CONTEXT) is expected


def test_value_returns_what_the_expression_reads():
    assert parse("scores.dash.band").value(CONTEXT) == "high"
    assert parse("answers.n").value(CONTEXT) == 7
    assert parse("answers.nope").value(CONTEXT) is None
    assert parse("null").value(CONTEXT) is None
    assert parse("-3").value(CONTEXT) == -3
    assert parse("['a', 1]").value(CONTEXT) == ["a", 1]


def test_evaluate_with_an_empty_context_is_false_not_an_error():
    assert parse("answers.x == 'a' or scores.s.value >= 3").evaluate({}) is False
    assert parse("answers.x == null").evaluate({}) is True


def test_parse_strips_and_remembers_the_source():
    expression = parse("  answers.kind == 'a'\n")
    assert isinstance(expression, Expression)
    assert expression.source == "answers.kind == 'a'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "'Call' is not allowed"),
        ("f(1)", "'Call' is not allowed"),
        ("answers.kind.lower() == 'a'", "'Call' is not allowed"),
        ("open('/etc/passwd')", "'Call' is not allowed"),
        ("f().x == 1", "only plain dotted names"),
        ("'abc'.upper == 1", "only plain dotted names"),
        ("answers['kind'] == 'a'", "'Subscript' is not allowed"),
        ("answers.tags[0] == 'x'", "'Subscript' is not allowed"),
        ("lambda: 1", "'Lambda' is not allowed"),
        ("[x for x in answers.tags]", "'ListComp' is not allowed"),
        ("{x for x in answers.tags}", "'SetComp' is not allowed"),
        ("any(x for x in answers.tags)", "'Call' is not allowed"),
        ("(x for x in answers.tags)", "'GeneratorExp' is not allowed"),
        ("{'a': 1}", "'Dict' is not allowed"),
        ("{1, 2}", "'Set' is not allowed"),
        ("answers.n + 1 > 3", "'BinOp' is not allowed"),
        ("answers.n * 2", "'BinOp' is not allowed"),
        ("2 ** 1000000", "'BinOp' is not allowed"),
        ("'a' 'b' % 1", "'BinOp' is not allowed"),
        ("-answers.n < 3", "a minus sign can only go before a number"),
        ("+1", "'UnaryOp' is not allowed"),
        ("~1", "'UnaryOp' is not allowed"),
        ("f'{answers.kind}' == 'a'", "'JoinedStr' is not allowed"),
        ("answers.kind if true else 1", "'IfExp' is not allowed"),
        ("(x := 1)", "'NamedExpr' is not allowed"),
        ("answers.kind is null", "'Is' is not a comparison"),
        ("answers.kind is not null", "'IsNot' is not a comparison"),
        ("_secret", "names cannot start with an underscore"),
        ("answers._private == 1", "names cannot start with an underscore"),
        ("answers.__class__", "names cannot start with an underscore"),
        ("answers.kind.__class__.__mro__", "names cannot start with an underscore"),
        ("b'x' == 1", "only text, numbers, true/false and null"),
        ("answers.n == 1j", "only text, numbers, true/false and null"),
        ("...", "only text, numbers, true/false and null"),
        ("answers.kind in [answers.n]", "a list can only hold text or numbers"),
        ("answers.kind in [['a']]", "a list can only hold text or numbers"),
        ("answers.kind ==", "cannot read the condition"),
        ("answers.kind = 'a'", "cannot read the condition"),
        ("import os", "cannot read the condition"),
        ("a; b", "cannot read the condition"),
        ("'unclosed", "cannot read the condition"),
        ("a\x00", "cannot read the condition"),
        ("", "the condition is empty"),
        ("   \n\t", "the condition is empty"),
        ("a" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters"),
        ("answers.kind == '" + "x" * MAX_LENGTH + "'", f"longer than {MAX_LENGTH} characters"),
    ],
)
def test_rejected(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse(text)


def test_the_length_limit_counts_the_stripped_text():
    assert parse("a" * MAX_LENGTH).names == {"a" * MAX_LENGTH}
    assert parse("  " + "a" * MAX_LENGTH + "  ").source == "a" * MAX_LENGTH


def test_names_lists_every_dotted_name():
    expression = parse(
        "answers.kind == 'a' and (scores.dash.value >= 14 or not facts.threshold_met) "
        "and stages.report.hate_motivated in ['yes'] and risk != 'high' and 1 < attempt < 3 "
        "and answers.kind != answers.other"
    )
    assert expression.names >= {
        "answers.kind", "scores.dash.value", "facts.threshold_met",
        "stages.report.hate_motivated", "risk", "attempt", "answers.other",
    }
    assert all(not name.startswith(("'", "[")) for name in expression.names)
    assert parse("1 == 1").names == frozenset()


# --- static analysis: simple constraints and their overlap ------------------------------


@pytest.mark.parametrize(
    ("text", "constraint"),
    [
        ("answers.x == 'a'", Constraint("answers.x", values=frozenset({"a"}))),
        ("answers.x in ['a', 'b']", Constraint("answers.x", values=frozenset({"a", "b"}))),
        ("answers.x in ('a',)", Constraint("answers.x", values=frozenset({"a"}))),
        ("answers.n == 3", Constraint("answers.n", values=frozenset({3}))),
        ("s.value > 5", Constraint("s.value", low=5.0, low_inclusive=False)),
        ("s.value >= 5", Constraint("s.value", low=5.0)),
        ("s.value < 5", Constraint("s.value", high=5.0, high_inclusive=False)),
        ("s.value <= 5", Constraint("s.value", high=5.0)),
        ("s.value >= -2", Constraint("s.value", low=-2.0)),
        ("s.value < 2.5", Constraint("s.value", high=2.5, high_inclusive=False)),
    ],
)
def test_simple_constraint(text, constraint):
    assert simple_constraint(parse(text)) == constraint


@pytest.mark.parametrize(
    "text",
    [
        "answers.x != 'a'",
        "answers.x not in ['a']",
        "answers.x == 'a' and answers.y == 'b'",
        "answers.x == 'a' or answers.x == 'b'",
        "not answers.x == 'a'",
        "'a' == answers.x",  # the name on the right
        "3 < s.value",
        "1 < s.value < 5",
        "answers.x == answers.y",
        "answers.x > 'a'",
        "answers.x > true",
        "true == answers.x",
        "null == null",
        "answers.x",
        "answers.x in answers.y",
    ],
)
def test_richer_conditions_have_no_simple_constraint(text):
    assert simple_constraint(parse(text)) is None


def c(text: str) -> Constraint:
    constraint = simple_constraint(parse(text))
    assert constraint is not None
    return constraint


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # value sets
        ("x == 'a'", "x == 'a'", True),
        ("x == 'a'", "x == 'b'", False),
        ("x == 'a'", "x in ['a', 'b']", True),
        ("x in ['a', 'b']", "x in ['c', 'd']", False),
        ("x in ['a', 'b']", "x in ['b', 'c']", True),
        ("x == 1", "x == 1.0", True),
        ("x == 1", "x == '1'", False),
        # intervals
        ("x >= 10", "x > 5", True),
        ("x > 5", "x >= 10", True),
        ("x >= 10", "x < 10", False),
        ("x >= 10", "x <= 10", True),
        ("x > 10", "x <= 10", False),
        ("x > 10", "x < 10", False),
        ("x <= 5", "x >= 5", True),
        ("x < 5", "x > 5", False),
        ("x < 5", "x >= 5", False),
        ("x < 5", "x < 3", True),
        ("x > 5", "x > 50", True),
        ("x >= 14", "x < 7", False),
        ("x > -1", "x < 0", True),
        ("x > 0.5", "x < 1", True),
        # a value against an interval
        ("x == 10", "x >= 10", True),
        ("x == 10", "x > 10", False),
        ("x == 5", "x < 5", False),
        ("x == 5", "x <= 5", True),
        ("x in [1, 20]", "x > 15", True),
        ("x in [1, 2]", "x > 15", False),
        ("x == 'a'", "x >= 1", False),
        ("x > 1", "x == 'a'", False),
    ],
)
def test_overlap(a, b, expected):
    assert overlap(c(a), c(b)) is expected
    assert overlap(c(b), c(a)) is expected  # symmetric


def test_overlap_of_different_names_is_unknown():
    assert overlap(c("x == 'a'"), c("y == 'a'")) is None
    assert overlap(c("x > 1"), c("y < 0")) is None


# --- robustness ---------------------------------------------------------------------------

TOKENS = [
    "answers.x", "scores.s.value", "risk", "facts.f", "a", "_a", "__import__", "os", "x.y.z",
    "true", "false", "null", "None", "True", "0", "1", "-", "+", "*", "**", "/", "//", "%",
    "@", "~", "'a'", '"b"', "f'", "b'x'", "1.5", "1e999", "1j", "0x1F", "[", "]", "(", ")",
    "{", "}", ",", ":", ".", ";", "=", "==", "!=", "<", "<=", ">", ">=", "<>", "in", "not",
    "is", "and", "or", "if", "else", "for", "lambda", "yield", "await", "import", ":=", "...",
    "\\", "#", "\n", "\t", "\x00", "'", '"', "'''", "!", "$", "?", "`", "é", "\u2028",
]


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # e.g. "0x1Fin": the tokenizer warns
@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from(["", " "]))
def test_parse_of_random_tokens_returns_an_expression_or_raises_expression_error(tokens, sep):
    text = sep.join(tokens)
    try:
        result = parse(text)
    except ExpressionError:
        return
    assert isinstance(result, Expression)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # e.g. "0x1Fin": the tokenizer warns
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=MAX_LENGTH + 20))
def test_parse_of_random_text_returns_an_expression_or_raises_expression_error(text):
    try:
        result = parse(text)
    except ExpressionError:
        return
    assert isinstance(result, Expression)


@pytest.mark.parametrize("depth", [10, 100, 199, 200, 250])
def test_deep_nesting_is_refused_or_read_never_a_crash(depth):
    for text in ("(" * depth + "a" + ")" * depth, "not " * depth + "a", "-" * depth + "1",
                 "[" * depth + "]" * depth):
        try:
            result = parse(text[:MAX_LENGTH])
        except ExpressionError:
            continue
        assert isinstance(result, Expression)


# --- bugs found ---------------------------------------------------------------------------

EVALUATION_CONTEXT = {"answers": {"tags": ["x"], "n": 3, "kind": "a"}}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("answers.kind < 3", id="text-vs-number"),
        pytest.param("answers.tags <= 'x'", id="list-vs-text"),
        pytest.param("answers.kind in 3", id="in-a-number"),
        pytest.param("answers.tags in 5", id="multiple-choice-in-a-number"),
        pytest.param("answers.tags in answers.n", id="multiple-choice-in-a-number-answer"),
    ],
)
def test_evaluation_of_an_accepted_condition_never_raises(text):
    """Unanswered or odd-typed answers compare false; they never crash a case."""
    expression = parse(text)
    assert expression.evaluate(EVALUATION_CONTEXT) in (True, False)


@pytest.mark.parametrize("text", ["-'a' == answers.kind", "answers.n == -None", "-answers.n > 1"])
def test_a_minus_sign_goes_only_before_a_number(text):
    with pytest.raises(ExpressionError, match="minus sign"):
        parse(text)


def test_negative_numbers_in_a_list():
    assert parse("answers.n in [-1, 0]").evaluate({"answers": {"n": -1}}) is True

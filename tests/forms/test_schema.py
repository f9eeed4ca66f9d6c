"""Stage form submissions checked by the marshmallow schema built from a form definition:
every field type valid and each way it can be wrong, questions asked only when their
condition holds, patterns, real dates, and the new definition attributes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from werkzeug.datastructures import MultiDict

from casebridge.yamlsource import DocumentError, load_yaml
from forms.loader import check_form, shipped_forms
from forms.model import FieldType
from forms.sampling import sample_answers
from forms.schema import (
    build_schema,
    check_submission,
    raw_values,
    required_message,
    values_from_answers,
)

# 2 March 2026, 9:00 in London (GMT).
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

EVERY_TYPE = """
key: every_type
title: Every type of question
fields:
  - {key: name, type: text, label: Full name, required: true, max_length: 20}
  - key: reference
    type: text
    label: Police reference
    pattern: "[A-Z]{2}-[0-9]{4}"
    pattern_message: "Enter a police reference like AB-1234"
  - {key: postcode, type: text, label: Postcode, pattern: "[A-Z0-9 ]+"}
  - {key: story, type: long_text, label: "What happened?", required: true, max_length: 50}
  - {key: count, type: number, label: "How many times?", required: true, min: 1, max: 10}
  - {key: weight, type: number, label: Weight in kilos}
  - {key: born_on, type: date, label: Date of birth, required: true, past_only: true}
  - {key: next_visit, type: date, label: "When is the next visit?"}
  - {key: seen_at, type: datetime, label: "When were they seen?", required: true, past_only: true}
  - key: category
    type: choice
    label: What kind is it?
    required: true
    choices:
      - {value: personal, label: Personal}
      - {value: nuisance, label: Nuisance}
  - key: tools
    type: multiple_choice
    label: Which tools are used?
    required: true
    choices:
      - {value: letter, label: Warning letter}
      - {value: mediation, label: Mediation}
      - {value: injunction, label: Civil injunction}
  - {key: repeat, type: yes_no, label: "Has it happened before?", required: true}
  - {key: safe, type: yes_no_unknown, label: "Is the victim safe?", required: true}
  - {key: victim, type: person, label: The victim, required: true}
  - {key: place, type: location, label: "Where did it happen?"}
  - {key: agency, type: agency, label: Reported to, required: true}
  - {key: evidence, type: file, label: Evidence}
"""

VALID = {
    "name": "  Sam   Jones ", "reference": "AB-1234", "postcode": "",
    "story": "Loud music\r\nevery night", "count": "3", "weight": "71.5",
    "born_on-day": "5", "born_on-month": "11", "born_on-year": "1980",
    "next_visit-day": "", "next_visit-month": "", "next_visit-year": "",
    "seen_at-day": "1", "seen_at-month": "3", "seen_at-year": "2026", "seen_at-time": "2:30pm",
    "category": "nuisance", "tools": ["injunction", "letter"], "repeat": "yes",
    "safe": "dont_know", "victim": "11", "place": "", "agency": "31", "evidence": "41",
}

EXPECTED = {
    "name": "Sam Jones", "reference": "AB-1234", "story": "Loud music\nevery night",
    "count": 3, "weight": 71.5, "born_on": "1980-11-05", "seen_at": "2026-03-01T14:30:00",
    "category": "nuisance", "tools": ["letter", "injunction"], "repeat": "yes",
    "safe": "dont_know", "victim": 11, "agency": 31, "evidence": 41,
}


def form_of(text: str):
    return check_form(load_yaml(text, "test.yaml"))


@pytest.fixture(scope="module")
def every_type():
    return form_of(EVERY_TYPE)


def check(form, data, **limits):
    limits.setdefault("person_ids", [11, 12])
    limits.setdefault("location_ids", [21])
    limits.setdefault("agency_ids", [31, 32])
    limits.setdefault("document_ids", [41])
    limits.setdefault("now", NOW)
    return check_submission(build_schema(form, **limits), data)


def test_a_valid_submission_gives_typed_answers(every_type):
    submission = check(every_type, VALID)
    assert submission.errors == {}
    assert submission.valid
    assert submission.answers == EXPECTED


def test_a_werkzeug_multidict_is_read_like_the_browser_posts_it(every_type):
    data = MultiDict([(k, v) for k, value in VALID.items()
                      for v in (value if isinstance(value, list) else [value])])
    assert check(every_type, data).answers == EXPECTED


INVALID = [
    pytest.param({"name": "x" * 21}, "name", "Full name must be 20 characters or less",
                 id="text-too-long"),
    pytest.param({"reference": "ab-12"}, "reference", "Enter a police reference like AB-1234",
                 id="pattern-with-message"),
    pytest.param({"postcode": "n1 9gu"}, "postcode", "Enter postcode in the correct format",
                 id="pattern-default-message"),
    pytest.param({"story": "y" * 51}, "story",
                 'The answer to "What happened?" must be 50 characters or less',
                 id="long-text-too-long"),
    pytest.param({"count": "three"}, "count",
                 'The answer to "How many times?" must be a number', id="number-not-a-number"),
    pytest.param({"count": "0"}, "count",
                 'The answer to "How many times?" must be between 1 and 10', id="number-too-low"),
    pytest.param({"count": "11"}, "count",
                 'The answer to "How many times?" must be between 1 and 10',
                 id="number-too-high"),
    pytest.param({"weight": "nan"}, "weight", "Weight in kilos must be a number",
                 id="number-nan"),
    pytest.param({"weight": "inf"}, "weight", "Weight in kilos must be a number",
                 id="number-infinite"),
    pytest.param({"born_on-day": "31", "born_on-month": "2"}, "born_on",
                 "Date of birth must be a real date", id="date-not-real"),
    pytest.param({"born_on-month": ""}, "born_on", "Date of birth must include a month",
                 id="date-without-month"),
    pytest.param({"born_on-day": "", "born_on-year": ""}, "born_on",
                 "Date of birth must include a day and year", id="date-without-day-and-year"),
    pytest.param({"born_on-month": "Smarch"}, "born_on", "Date of birth must be a real date",
                 id="date-month-not-a-month"),
    pytest.param({"born_on-year": "80"}, "born_on",
                 "Date of birth must include a year with 4 numbers", id="date-two-digit-year"),
    pytest.param({"born_on-day": "3", "born_on-month": "3", "born_on-year": "2026"}, "born_on",
                 "Date of birth must be today or in the past", id="date-in-the-future"),
    pytest.param({"next_visit-day": "1"}, "next_visit",
                 'The date for "When is the next visit?" must include a month and year',
                 id="optional-date-half-typed"),
    pytest.param({"seen_at-time": ""}, "seen_at",
                 'The date and time for "When were they seen?" must include a time',
                 id="datetime-without-time"),
    pytest.param({"seen_at-time": "25:00"}, "seen_at",
                 'The date and time for "When were they seen?" must be a real time, like 14:30 '
                 "or 2:30pm", id="datetime-not-a-time"),
    pytest.param({"seen_at-time": "13pm"}, "seen_at",
                 'The date and time for "When were they seen?" must be a real time, like 14:30 '
                 "or 2:30pm", id="datetime-13pm"),
    pytest.param({"seen_at-day": "", "seen_at-month": "", "seen_at-year": ""}, "seen_at",
                 'The date and time for "When were they seen?" must include a date',
                 id="datetime-time-without-date"),
    pytest.param({"seen_at-day": "2", "seen_at-time": "9:01am"}, "seen_at",
                 'The date and time for "When were they seen?" must be in the past',
                 id="datetime-in-the-future"),
    pytest.param({"category": "environmental"}, "category",
                 'Select an answer to "What kind is it?"', id="choice-not-offered"),
    pytest.param({"tools": ["letter", "curfew"]}, "tools",
                 'Select at least one answer to "Which tools are used?"',
                 id="multiple-choice-not-offered"),
    pytest.param({"repeat": "maybe"}, "repeat", 'Select an answer to "Has it happened before?"',
                 id="yes-no-not-yes-or-no"),
    pytest.param({"repeat": "dont_know"}, "repeat",
                 'Select an answer to "Has it happened before?"',
                 id="yes-no-has-no-dont-know"),
    pytest.param({"safe": "perhaps"}, "safe", 'Select an answer to "Is the victim safe?"',
                 id="yes-no-unknown-not-offered"),
    pytest.param({"victim": "13"}, "victim", "Select the victim", id="person-not-on-the-case"),
    pytest.param({"victim": "eleven"}, "victim", "Select the victim", id="person-not-an-id"),
    pytest.param({"place": "22"}, "place", 'Select a location for "Where did it happen?"',
                 id="location-not-on-the-case"),
    pytest.param({"agency": "33"}, "agency", "Select reported to", id="agency-not-active"),
    pytest.param({"evidence": "42"}, "evidence", "Select evidence", id="file-not-uploaded"),
]


@pytest.mark.parametrize(("change", "key", "message"), INVALID)
def test_each_invalid_answer_has_its_message(every_type, change, key, message):
    submission = check(every_type, VALID | change)
    assert not submission.valid
    assert submission.answers is None
    assert submission.errors == {key: message}
    for name, typed in change.items():  # what was typed is kept to show back
        field, _, part = name.partition("-")
        kept = submission.values[field]
        assert (kept[part] if part else kept) == typed


REQUIRED = {
    "name": "Enter full name",
    "story": 'Enter an answer to "What happened?"',
    "count": 'Enter an answer to "How many times?"',
    "born_on": "Enter date of birth",
    "seen_at": 'Enter a date and time for "When were they seen?"',
    "category": 'Select an answer to "What kind is it?"',
    "tools": 'Select at least one answer to "Which tools are used?"',
    "repeat": 'Select an answer to "Has it happened before?"',
    "safe": 'Select an answer to "Is the victim safe?"',
    "victim": "Select the victim",
    "agency": "Select reported to",
}


def test_every_required_question_says_what_to_enter_or_select(every_type):
    submission = check(every_type, {"csrf_token": "x", "version": "3"})
    assert submission.errors == REQUIRED
    assert list(submission.errors) == [f.key for f in every_type.fields if f.key in REQUIRED]


def test_blank_text_and_whitespace_count_as_missing(every_type):
    submission = check(every_type, VALID | {"name": "   ", "story": "\r\n "})
    assert submission.errors == {"name": REQUIRED["name"], "story": REQUIRED["story"]}


def test_optional_questions_left_blank_are_left_out(every_type):
    answers = check(every_type, VALID).answers
    assert answers is not None
    for key in ("postcode", "next_visit", "place"):
        assert key not in answers


def test_a_date_today_is_not_in_the_future(every_type):
    today = VALID | {"born_on-day": "2", "born_on-month": "3", "born_on-year": "2026"}
    assert check(every_type, today).answers["born_on"] == "2026-03-02"


@pytest.mark.parametrize(("day", "month", "year", "expected"), [
    ("29", "2", "2024", "2024-02-29"),
    ("01", "02", "2025", "2025-02-01"),
    ("7", "Jan", "2025", "2025-01-07"),
    ("7", "september", "2025", "2025-09-07"),
    ("7", "Sept.", "2025", "2025-09-07"),
    (" 7 ", " 12 ", " 2025 ", "2025-12-07"),
])
def test_real_dates_in_the_ways_people_type_them(every_type, day, month, year, expected):
    data = VALID | {"born_on-day": day, "born_on-month": month, "born_on-year": year}
    assert check(every_type, data).answers["born_on"] == expected


def test_29_february_in_a_common_year_is_not_a_real_date(every_type):
    data = VALID | {"born_on-day": "29", "born_on-month": "2", "born_on-year": "2025"}
    assert check(every_type, data).errors == {"born_on": "Date of birth must be a real date"}


@pytest.mark.parametrize(("typed", "expected"), [
    ("14:30", "14:30"), ("9:05", "09:05"), ("09.05", "09:05"), ("2pm", "14:00"),
    ("2:30 PM", "14:30"), ("12am", "00:00"), ("12pm", "12:00"), ("12:15a.m.", "00:15"),
    ("midday", "12:00"), ("midnight", "00:00"), ("7", "07:00"),
])
def test_times_in_the_ways_people_type_them(every_type, typed, expected):
    data = VALID | {"seen_at-day": "28", "seen_at-month": "2", "seen_at-time": typed}
    assert check(every_type, data).answers["seen_at"] == f"2026-02-28T{expected}:00"


def test_a_time_may_come_as_hour_and_minute(every_type):
    data = {k: v for k, v in VALID.items() if k != "seen_at-time"}
    data |= {"seen_at-hour": "8", "seen_at-minute": "5"}
    submission = check(every_type, data)
    assert submission.answers["seen_at"] == "2026-03-01T08:05:00"
    assert submission.values["seen_at"]["time"] == "8:05"


def test_in_the_past_is_judged_in_local_time(every_type):
    # 1 July 2026 00:30 UTC is 01:30 in London (BST): 01:00 London time is already past.
    summer = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    data = VALID | {"seen_at-day": "1", "seen_at-month": "7", "seen_at-time": "1:00am"}
    assert check(every_type, data, now=summer).answers["seen_at"] == "2026-07-01T01:00:00"
    later = data | {"seen_at-time": "1:45am"}
    assert "seen_at" in check(every_type, later, now=summer).errors


def test_numbers_are_whole_or_decimal(every_type):
    answers = check(every_type, VALID | {"count": " 7 ", "weight": "1,071"}).answers
    assert answers["count"] == 7
    assert isinstance(answers["count"], int)
    assert answers["weight"] == 1071
    assert check(every_type, VALID | {"weight": "-2.25"}).answers["weight"] == -2.25


def test_multiple_choice_is_a_list_in_the_forms_order(every_type):
    assert check(every_type, VALID | {"tools": "mediation"}).answers["tools"] == ["mediation"]
    both = VALID | {"tools": ["mediation", "letter", "mediation"]}
    assert check(every_type, both).answers["tools"] == ["letter", "mediation"]
    assert check(every_type, VALID | {"tools": []}).errors == {"tools": REQUIRED["tools"]}


def test_people_places_agencies_and_files_must_be_ones_the_page_offered(every_type):
    data = VALID | {"place": "21"}
    assert check(every_type, data).answers["place"] == 21
    refused = check(every_type, data, person_ids=[], location_ids=[], agency_ids=[],
                    document_ids=[])
    assert set(refused.errors) == {"victim", "place", "agency", "evidence"}


CONDITIONAL = """
key: conditional
title: Questions that depend on others
fields:
  - {key: contact_made, type: yes_no, label: "Did you speak to the victim?", required: true}
  - {key: contacted_on, type: date, label: "When?", required: true,
     show_when: "answers.contact_made == 'yes'"}
  - {key: why_not, type: long_text, label: "Why not?", show_when: "answers.contact_made == 'no'"}
  - {key: count, type: number, label: "How many complaints?", min: 0}
  - {key: second, type: text, label: Second complaint, required: true,
     show_when: "answers.count >= 2"}
  - key: strands
    type: multiple_choice
    label: Which strands?
    choices: [{value: race, label: Race}, {value: other, label: Other}]
  - {key: other_strand, type: text, label: "Which other strand?", required: true,
     show_when: "answers.strands in ['other']"}
"""


@pytest.fixture(scope="module")
def conditional():
    return form_of(CONDITIONAL)


def test_a_shown_question_is_required(conditional):
    submission = check(conditional, {"contact_made": "yes"})
    assert submission.errors == {"contacted_on": 'Enter a date for "When?"'}


def test_a_hidden_question_is_not_required(conditional):
    assert check(conditional, {"contact_made": "no"}).answers == {"contact_made": "no"}


def test_a_hidden_questions_answer_is_dropped_and_not_checked(conditional):
    data = {"contact_made": "no", "contacted_on-day": "31", "contacted_on-month": "2",
            "contacted_on-year": "2026", "why_not": "No answer at the door"}
    submission = check(conditional, data)
    assert submission.answers == {"contact_made": "no", "why_not": "No answer at the door"}
    assert submission.values["contacted_on"]["day"] == "31"  # still shown back if re-rendered


@pytest.mark.parametrize(("count", "shown"), [("", False), ("1", False), ("2", True),
                                               ("3", True)])
def test_numeric_conditions(conditional, count, shown):
    submission = check(conditional, {"contact_made": "no", "count": count})
    assert ("second" in submission.errors) is shown


def test_conditions_on_multiple_choice(conditional):
    data = {"contact_made": "no", "strands": ["race", "other"]}
    assert check(conditional, data).errors == {
        "other_strand": 'Enter an answer to "Which other strand?"'}
    data["other_strand"] = "Age"
    assert check(conditional, data).answers["other_strand"] == "Age"
    assert "other_strand" not in check(conditional, data | {"strands": ["race"]}).answers


def test_an_undecided_question_is_checked_but_not_required(conditional):
    # count is wrong, so whether "second" is asked cannot be told: what was typed in it is
    # still checked, a blank one is not demanded.
    assert check(conditional, {"contact_made": "no", "count": "many"}).errors == {
        "count": 'The answer to "How many complaints?" must be a number'}
    # the radio it hangs on is unanswered: its dependants' typed values are still checked
    submission = check(conditional, {"contacted_on-day": "4"})
    assert submission.errors == {
        "contact_made": 'Select an answer to "Did you speak to the victim?"',
        "contacted_on": 'The date for "When?" must include a month and year',
    }


def test_required_messages_for_labels_that_are_not_questions(every_type):
    assert required_message(every_type.field("victim")) == "Select the victim"
    assert required_message(every_type.field("born_on")) == "Enter date of birth"


# --- the definition attributes this adds: pattern, pattern_message, past_only ----------------


def test_pattern_and_past_only_are_loaded(every_type):
    reference = every_type.field("reference")
    assert reference.pattern == "[A-Z]{2}-[0-9]{4}"
    assert reference.pattern_message == "Enter a police reference like AB-1234"
    assert every_type.field("born_on").past_only
    assert not every_type.field("next_visit").past_only


@pytest.mark.parametrize(("field", "message"), [
    ("{key: a, type: text, label: A, pattern: '[a-'}", "not a regular expression"),
    ("{key: a, type: number, label: A, pattern: '[0-9]+'}",
     "only text and long_text fields have a pattern"),
    ("{key: a, type: text, label: A, pattern_message: Say it right}",
     "a pattern_message needs a pattern"),
    ("{key: a, type: text, label: A, past_only: true}",
     "only date and datetime fields can be past_only"),
])
def test_bad_patterns_and_past_only_are_refused_at_load_time(field, message):
    with pytest.raises(DocumentError) as caught:
        form_of(f"key: sample\ntitle: Sample\nfields:\n  - {field}\n")
    assert any(message in problem.message for problem in caught.value.problems), (
        caught.value.problems)


# --- every shipped form -------------------------------------------------------------------


def _with_records(form, answers):
    """sample_answers leaves out people, places, agencies and files: give them id 1."""
    records = (FieldType.PERSON, FieldType.LOCATION, FieldType.AGENCY, FieldType.FILE)
    for f in form.fields:
        if f.type in records and f.required and (not f.show_when or _shown(f, answers)):
            answers[f.key] = 1
    return answers


def _shown(f, answers):
    from rules.expressions import parse

    return parse(f.show_when).evaluate({"answers": answers})


def _sorted_lists(answers):
    return {k: sorted(v) if isinstance(v, list) else v for k, v in answers.items()}


@pytest.mark.parametrize("key", sorted(shipped_forms()))
def test_shipped_forms_accept_their_own_answers_shown_back(key):
    form = shipped_forms()[key]
    for seed in range(5):
        answers = _with_records(form, sample_answers(form, random.Random(seed),
                                                     today=date(2026, 3, 1)))
        values = values_from_answers(form, answers)
        posted = {}
        for f in form.fields:
            value = values.get(f.key)
            if isinstance(value, dict):
                posted |= {f"{f.key}-{part}": typed for part, typed in value.items()}
            elif value is not None:
                posted[f.key] = value
        assert raw_values(form, posted) == {**raw_values(form, {}), **values}
        submission = check(form, posted, person_ids=[1], location_ids=[1], agency_ids=[1],
                           document_ids=[1])
        assert submission.errors == {}, (seed, answers)
        assert _sorted_lists(submission.answers) == _sorted_lists(answers)

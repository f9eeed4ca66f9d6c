"""`restricted_to` on a form field: which roles may see and give its answer, checked when
the form is loaded so that nothing else on the form can give the answer away."""

from __future__ import annotations

import pytest

from casebridge.yamlsource import DocumentError, load_yaml
from forms.loader import check_form, shipped_forms

BASE = """\
key: sample
title: Sample
fields:
  - key: known
    type: yes_no
    label: Known?
  - key: health
    type: long_text
    label: Health
    restricted_to: [panel_member, manager]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        check_form(load_yaml(text, "sample.yaml"))
    return [str(p) for p in caught.value.problems]


def test_a_restricted_field_loads_with_its_roles():
    form = check_form(load_yaml(BASE, "sample.yaml"))
    assert form.field("health").restricted_to == ("panel_member", "manager")
    assert form.field("known").restricted_to == ()


def test_the_shipped_marac_research_restricts_health_information():
    field = shipped_forms()["marac_research"].field("health_information")
    assert field.restricted_to == ("panel_member", "manager")


def test_an_unknown_role_is_refused():
    [problem] = _problems(BASE.replace("[panel_member, manager]", "[panel_member, nurse]"))
    assert "fields[1].restricted_to" in problem
    assert "not a role" in problem


def test_a_restricted_field_cannot_be_required():
    [problem] = _problems(BASE + "    required: true\n")
    assert "cannot be required" in problem


def test_a_field_shown_on_a_restricted_answer_must_be_restricted_as_tightly():
    dependent = ("  - key: care\n    type: text\n    label: Care in place\n"
                 "    show_when: \"answers.health == 'x'\"\n")
    [problem] = _problems(BASE + dependent)
    assert "sample.yaml:14: fields[2].show_when" in problem
    assert "restricted to the same roles or fewer" in problem
    check_form(load_yaml(BASE + dependent + "    restricted_to: [manager]\n", "sample.yaml"))


def test_a_score_cannot_count_a_restricted_field():
    scored = BASE.replace("    type: long_text\n    label: Health\n",
                          "    type: yes_no\n    label: Health\n    points: {yes: 1}\n")
    scored += "scores:\n  - key: total\n    label: Total\n    fields: [known, health]\n"
    [problem] = _problems(scored)
    assert "scores[0].fields" in problem
    assert "restricted to some roles" in problem

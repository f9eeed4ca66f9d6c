"""Standards files: the shipped default loads; every mistake is reported in plain words with
its line and path, all at once."""

from __future__ import annotations

import pytest

from casebridge.yamlsource import DocumentError
from rules.standards import DEFAULT_FILE, Recipient, load_default, load_standards_text

GOOD = DEFAULT_FILE.read_text("utf-8")


def problems(text: str) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        load_standards_text(text, "mine.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_default_has_every_required_standard():
    standards = load_default()
    assert set(standards.standards) >= {
        "high_risk_asb_contact", "asb_risk_assessment", "asb_victim_updates",
        "hate_crime_support_referral", "enhanced_rights_updates", "marac_actions",
        "case_review_acknowledged"}
    assert standards.ladders["standard"].offsets() == [0, 2, 5]
    assert standards.ladders["standard"].digest == {Recipient.PARTNERSHIP_LEAD}
    assert standards.deadlines_ladder == "deadlines"


def test_a_comment_or_layout_change_keeps_the_content_hash():
    assert (load_standards_text(GOOD + "\n# a note\n", "a.yaml").content_hash
            == load_default().content_hash)


BASE = """\
version: 2
ladders:
  plain:
    levels:
      - to: [assignee]
standards:
"""


@pytest.mark.parametrize(("body", "expected"), [
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: stage_completed:nonsense\n    within: 2 working days\n    ladder: plain\n",
     "mine.yaml:11: standards.s.met_by: the case type 'asb' has no stage 'nonsense'"),
    ("  s:\n    name: S\n    case_types: [asb, parking]\n    from: case_opened\n"
     "    met_by: stage_completed:risk_assessment\n    within: 2 working days\n"
     "    ladder: plain\n",
     "mine.yaml:9: standards.s.case_types[1]: there is no case type 'parking'"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: stage_completed:risk_assessment\n    within: 2 working days\n"
     "    ladder: missing\n",
     "mine.yaml:13: standards.s.ladder: there is no ladder 'missing' (known: plain)"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: stage_completed:risk_assessment\n    ladder: plain\n",
     "mine.yaml:7: standards.s: give exactly one clock: 'within', 'every' or 'until'"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: stage_completed:risk_assessment\n    within: 2 working days\n"
     "    warn_before: 3 working days\n    ladder: plain\n",
     "mine.yaml:13: standards.s.warn_before: the warning (3 working days) must come before "
     "the deadline (2 working days)"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: {stage_completed: victim_contact, answers: {reached: 'yes'}}\n"
     "    within: 2 working days\n    ladder: plain\n",
     "mine.yaml:11: standards.s.met_by: the form 'victim_contact' has no field 'reached'"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_closed\n"
     "    met_by: stage_completed:risk_assessment\n    within: 2 working days\n"
     "    ladder: plain\n",
     "mine.yaml:10: standards.s.from: 'case_closed' is not an event: use case_opened"),
    ("  s:\n    name: S\n    case_types: [asb]\n    from: case_opened\n"
     "    met_by: stage_completed:risk_assessment\n    within: 24 working hours\n"
     "    ladder: plain\n",
     "mine.yaml:12: standards.s.within: standards are counted in working days or calendar"),
])
def test_mistakes_name_the_line_and_the_field(body, expected):
    found = problems(BASE + body)
    assert any(p.startswith(expected) for p in found), found


def test_ladder_mistakes():
    text = """\
version: 1
ladders:
  bad:
    warning: [assignee, boss]
    levels:
      - after: 1 working day
        to: [assignee]
      - to: [spoc]
      - after: 3 calendar days
        to: [partnership_lead]
standards: {}
"""
    found = problems(text)
    assert any("ladders.bad.warning: 'boss' is not a recipient: use assignee" in p
               for p in found), found
    text = text.replace("[assignee, boss]", "[assignee]")
    assert problems(text) == [
        "mine.yaml:6: ladders.bad.levels[0].after: the first level is the breach itself: it "
        "has no 'after'",
        "mine.yaml:8: ladders.bad.levels[1]: say how long after the level before this one it "
        "is reached, e.g. 'after: 2 working days'",
        "mine.yaml:9: ladders.bad.levels[2].after: a delay between levels is one or more "
        "working days",
    ]

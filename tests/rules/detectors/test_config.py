"""The detectors' configuration: shipped defaults, a partnership's file on top, and every
problem said in plain words with its file and line."""

from __future__ import annotations

import pytest

from rules.detectors import config
from rules.detectors.config import DetectorConfigError


def problems(text: str) -> list[str]:
    with pytest.raises(DetectorConfigError) as caught:
        config.load_text(text, "local.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_defaults_are_shared_domain_facts():
    shipped = config.load()
    assert (shipped["repeat_victim"].reports, shipped["repeat_victim"].within_months) == (3, 6)
    assert shipped["repeat_victim"].flag == "repeat_victim"
    threshold = shipped["case_review_threshold"]
    assert (threshold.reports, threshold.within_months, threshold.open_case) == (3, 6, None)
    duty = shipped["case_review_duty"]
    assert (duty.reports, duty.within_months) == (2, 6)
    assert (shipped["marac_escalation"].reports,
            shipped["marac_escalation"].within_months) == (3, 12)
    assert shipped["marac_repeat"].within_months == 12
    assert shipped.same_incident_links == ("same_incident", "duplicate_of")
    assert [d.name for d in shipped.enabled] == list(config.NAMES)


def test_a_local_file_changes_only_what_it_names(tmp_path):
    local = tmp_path / "detectors.yaml"
    local.write_text("detectors:\n  repeat_victim:\n    reports: 2\n    within_months: 12\n"
                     "  case_review_threshold:\n    hate_incidents: 1\n"
                     "    open_case: asb_case_review\n", encoding="utf-8")
    loaded = config.load(local)
    assert (loaded["repeat_victim"].reports, loaded["repeat_victim"].within_months) == (2, 12)
    assert loaded["repeat_victim"].roles == ("victim", "complainant", "applicant")  # kept
    assert loaded["case_review_threshold"].hate_incidents == 1
    assert loaded["case_review_threshold"].open_case == "asb_case_review"
    assert loaded["marac_repeat"] == config.load()["marac_repeat"]


def test_settings_name_the_file_and_an_empty_setting_means_the_defaults(tmp_path):
    class Settings:
        detectors_file = ""

    assert config.for_settings(Settings()) == config.load()
    local = tmp_path / "d.yaml"
    local.write_text("detectors:\n  repeat_location:\n    reports: 4\n", encoding="utf-8")
    Settings.detectors_file = str(local)
    assert config.for_settings(Settings())["repeat_location"].reports == 4


def test_every_problem_is_listed_with_its_line():
    found = problems(
        "detectors:\n"
        "  repeat_victim:\n"
        "    reports: three\n"            # line 3
        "    roles: [victim, bystander]\n"  # line 4
        "  case_review_threshold:\n"
        "    reports: 4\n"                # line 6
        "  repeat_vitcim: {}\n"           # line 7
        "  marac_repeat:\n"
        "    colour: red\n"               # line 9
        "    within_months: 0\n"          # line 10
        "  repeat_location:\n"
        "    flag: hotspot\n"             # line 12
    )
    assert found == [
        "local.yaml:3: detectors.repeat_victim.reports: must be a whole number from 1 to "
        "1000, not 'three'",
        "local.yaml:4: detectors.repeat_victim.roles[1]: 'bystander' is not one of the roles: "
        "victim, complainant, applicant, perpetrator, alleged_perpetrator, witness, "
        "subject_group, other",
        "local.yaml:7: detectors.repeat_vitcim: there is no detector called 'repeat_vitcim'; "
        "the detectors are repeat_victim, repeat_location, repeat_perpetrator, "
        "case_review_threshold, case_review_duty, marac_escalation, marac_repeat",
        "local.yaml:9: detectors.marac_repeat.colour: marac_repeat has no setting 'colour'; "
        "its settings are case_flags, case_types, enabled, flag, notify_owner, "
        "once_per_window, open_case, referral_case_types, roles, same_perpetrator, "
        "within_months",
        "local.yaml:10: detectors.marac_repeat.within_months: must be from 1 to 120, not 0",
        "local.yaml:12: detectors.repeat_location.flag: 'hotspot' is not a kind of flag; "
        "choose one of repeat_victim, vulnerable, hate_motivated, risk_to_staff, weapons, "
        "violence, domestic_abuse, child_safeguarding, hot_spot, other (or null: no flag)",
        "local.yaml:6: detectors.case_review_threshold.reports: the ASB Case Review threshold "
        "may be set lower than 3 complaints, never higher (not 4)",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("- a list\n", "local.yaml:1: the file must be a mapping of settings (name: value)"),
    ("detectors: [repeat_victim]\n",
     "local.yaml:1: detectors: must be a mapping of detector names to their settings"),
    ("thresholds: {}\n", "local.yaml:1: thresholds: unknown setting 'thresholds'; expected "
                         "one of detectors, not_reports, same_incident_links"),
    ("same_incident_links: [same_incident, related_to]\n",
     "local.yaml:1: same_incident_links[1]: 'related_to' is not one of the kinds of link: "
     "related, same_incident, duplicate_of, escalated_to"),
    ("detectors:\n  repeat_victim:\n    enabled: yes\n",
     "local.yaml:3: detectors.repeat_victim.enabled: must be true or false, not 'yes'"),
    ("detectors:\n  case_review_duty:\n    open_case: asb_case_review\n",
     "local.yaml:3: detectors.case_review_duty.open_case: the Case Review duty tells the lead "
     "officer; it does not open a case"),
    ("detectors:\n  case_review_threshold:\n    open_case: Case Review\n",
     "local.yaml:3: detectors.case_review_threshold.open_case: must be a case type's key "
     "such as asb_case_review (or null), not 'Case Review'"),
    ("detectors:\n  repeat_location:\n    roles: [victim]\n",
     "local.yaml:3: detectors.repeat_location.roles: repeat_location has no setting 'roles'; "
     "its settings are case_flags, case_types, enabled, flag, notify_owner, "
     "once_per_window, open_case, reports, within_months"),
    ("detectors:\n  repeat_victim:\n    reports: [\n", None),
])
def test_plain_english_errors(text, expected):
    found = problems(text)
    if expected is None:
        assert found
        assert "not valid YAML" in found[0]
    else:
        assert found == [expected]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DetectorConfigError, match="there is no such file"):
        config.load(tmp_path / "nowhere.yaml")


def test_rules_in_plain_words():
    shipped = config.load()
    assert config.describe(shipped["repeat_victim"]) == "3 reports in 6 months"
    assert config.describe(shipped["marac_escalation"]) == "3 incidents in 12 months"


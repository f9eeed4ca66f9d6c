import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workflows.loader import DEFINITIONS_DIR, latest_shipped, shipped_definitions

SHIPPED = {"asb", "hate_crime", "restorative_justice", "marac", "asb_case_review"}


def test_list_shows_the_five_case_types_and_what_is_published(run_cli):
    before = run_cli("workflows", "list")
    assert before.exit_code == 0, before.output
    for key in SHIPPED:
        assert key in before.output
    run_cli("db", "upgrade")
    first = run_cli("workflows", "publish")
    assert first.exit_code == 0, first.output
    files = len(shipped_definitions())  # every version of each
    assert first.output.count(": published") == files
    again = run_cli("workflows", "publish")
    assert again.output.count("already published") == files
    listed = run_cli("workflows", "list").output
    assert "asb" in listed
    assert " v1 " in listed


def test_validate_reports_each_problem_with_file_and_line(run_cli, tmp_path):
    assert run_cli("workflows", "validate").exit_code == 0
    good = (DEFINITIONS_DIR / "asb" / "v1.yaml").read_text()
    bad_form = tmp_path / "bad_form.yaml"
    bad_form.write_text(good.replace("form: sara_scan", "form: sara_scann").replace(
        "form: sara_assess", "form: sara_asess"))
    bad_shape = tmp_path / "bad_shape.yaml"
    bad_shape.write_text(good.replace(
        "within: 10 working days\n      warn_before", "within: 10 working dayz\n      warn_before"))
    result = run_cli("workflows", "validate", str(bad_form), str(bad_shape))
    assert result.exit_code == 1
    assert "2 of 2 file(s) have problems" in result.output
    assert "unknown form 'sara_scann'" in result.output
    assert "unknown form 'sara_asess'" in result.output, "every problem at once"
    assert "'10 working dayz' is not a duration" in result.output
    for path, needle, where in ((bad_form, "sara_scann", "stages.scan.form"),
                                (bad_shape, "dayz", "stages.respond.deadline.within")):
        line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                    if needle in text)
        assert f"{path.name}:{line}: {where}" in result.output


def test_publishing_changed_content_under_the_same_version_is_refused(run_cli, tmp_path):
    run_cli("db", "upgrade")
    run_cli("workflows", "publish")
    changed = tmp_path / "asb.yaml"
    changed.write_text((DEFINITIONS_DIR / "asb" / "v1.yaml").read_text().replace(
        "within: 20 working days", "within: 15 working days"))
    refused = run_cli("workflows", "publish", str(changed))
    assert refused.exit_code == 1
    assert "new version number" in refused.output
    bumped = tmp_path / "asb2.yaml"
    newest = latest_shipped()["asb"].version
    bumped.write_text(changed.read_text().replace("version: 1", f"version: {newest + 1}"))
    assert run_cli("workflows", "publish", str(bumped)).exit_code == 0
    assert f"v{newest}, v{newest + 1}" in run_cli("workflows", "list").output


@pytest.mark.parametrize("case_type", sorted(SHIPPED))
def test_show_and_diagram_draw_every_case_type(run_cli, tmp_path, case_type):
    shown = run_cli("workflows", "show", case_type)
    assert shown.exit_code == 0, shown.output
    assert f"version {latest_shipped()[case_type].version}" in shown.output
    mermaid = run_cli("workflows", "diagram", case_type)
    assert mermaid.output.startswith("flowchart")
    svg_path = tmp_path / f"{case_type}.svg"
    drawn = run_cli("workflows", "diagram", case_type, "--format", "svg", "-o", str(svg_path))
    assert drawn.exit_code == 0
    root = ET.fromstring(Path(svg_path).read_text())
    assert root.tag.endswith("svg")


def test_unknown_case_type_is_a_message(run_cli):
    result = run_cli("workflows", "show", "nope")
    assert result.exit_code == 1
    assert "No case type 'nope'" in result.output

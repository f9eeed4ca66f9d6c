"""`casebridge sharing`: validate names every problem, publish is idempotent and refuses a
lower version, show describes the agreement in force (the shipped default until one is
published)."""

from __future__ import annotations

from rules.sharing import DEFAULT_FILE


def test_validate_publish_and_show(run_cli, tmp_path):
    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("workflows", "publish").exit_code == 0
    shown = run_cli("sharing", "show").output
    assert "the shipped default: none published yet" in shown
    assert "marac: police, council, housing" in shown
    assert "any other case type: every agency type" in shown

    assert "5 case type(s)" in run_cli("sharing", "validate").output
    bad = tmp_path / "bad.yaml"
    bad.write_text("partnership: default\nversion: 2\ncase_types:\n  marac: [polic]\n", "utf-8")
    result = run_cli("sharing", "validate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:4: case_types.marac[0]: 'polic' is not an agency type" in result.output
    assert run_cli("sharing", "publish", str(bad)).exit_code == 1

    assert "published" in run_cli("sharing", "publish").output
    assert "already published" in run_cli("sharing", "publish").output
    stricter = tmp_path / "v2.yaml"
    stricter.write_text(DEFAULT_FILE.read_text("utf-8").replace("version: 1", "version: 2")
                        .replace("  asb: [all]", "  asb: [police, council, housing]"), "utf-8")
    assert "v2: published" in run_cli("sharing", "publish", str(stricter)).output
    shown = run_cli("sharing", "show").output
    assert "v2 (published)" in shown
    assert "asb: police, council, housing" in shown
    changed_v1 = tmp_path / "v1.yaml"
    changed_v1.write_text(DEFAULT_FILE.read_text("utf-8").replace("  asb: [all]", "  asb: []"),
                          "utf-8")
    result = run_cli("sharing", "publish", str(changed_v1))
    assert result.exit_code == 1
    assert "version 1 is already published with different content" in result.output

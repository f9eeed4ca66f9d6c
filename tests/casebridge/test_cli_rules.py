"""`casebridge rules`: validate names every problem, publish is idempotent, show describes the
standards in force, contact sets SPOCs and leads, check lists what would fire and sends
nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.db import make_session_factory
from storage.outbox.models import OutboxMessage
from storage.standards.models import StandardEscalation


def test_validate_publish_show_and_check(run_cli, scratch_engine, tmp_path):
    assert run_cli("db", "upgrade").exit_code == 0
    assert run_cli("workflows", "publish").exit_code == 0
    ok = run_cli("rules", "standards", "validate")
    assert ok.exit_code == 0
    assert "7 standard(s), 3 ladder(s)" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nladders: {}\nstandards:\n  x:\n    name: X\n", "utf-8")
    result = run_cli("rules", "standards", "validate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:2: ladders: give at least one ladder" in result.output
    assert f"{bad}:4: standards.x.from: Missing data for required field" in result.output
    assert "published" in run_cli("rules", "standards", "publish").output
    assert "already published" in run_cli("rules", "standards", "publish").output
    shown = run_cli("rules", "standards", "show").output
    assert "High-risk ASB victim contacted within 1 working day" in shown
    assert "level 2, 2 working days later: single point of contact" in shown
    assert "v1" in shown
    run_cli("agencies", "create", "--name", "Northshire Police", "--code", "POL",
            "--type", "police")
    run_cli("users", "create", "--agency", "POL", "--email", "lead@police.test", "--name",
            "Lead", "--role", "manager", "--no-password")
    assert "is a partnership lead" in run_cli("rules", "contact", "--lead",
                                              "lead@police.test").output
    assert "single point of contact is lead@police.test" in run_cli(
        "rules", "contact", "--spoc", "lead@police.test").output
    checked = run_cli("rules", "check", "--as-of", "2026-03-04")
    assert checked.exit_code == 0
    assert "would fire (nothing sent)" in checked.output
    with make_session_factory(scratch_engine)() as session:
        assert session.scalar(select(func.count()).select_from(StandardEscalation)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert run_cli("rules", "check", "--as-of", "4 March").exit_code == 2

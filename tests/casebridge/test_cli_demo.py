from sqlalchemy import select

from storage import migrate
from storage.cases.models import Case
from storage.db import make_session_factory, unit_of_work


def _cases(engine):
    with unit_of_work(make_session_factory(engine)) as session:
        return session.execute(select(Case.reference, Case.status, Case.opened_at)
                               .order_by(Case.id)).all()


def test_demo_generate_is_reproducible_and_says_what_it_made(run_cli, scratch_engine):
    arguments = ("demo", "generate", "--cases", "40", "--seed", "3",
                 "--now", "2026-03-02T09:00", "--workers", "0")
    assert run_cli("db", "upgrade").exit_code == 0
    first = run_cli(*arguments)
    assert first.exit_code == 0, first.output
    assert "40 cases (" in first.output
    assert " stages, " in first.output
    assert " s." in first.output
    made = _cases(scratch_engine)
    migrate.downgrade(scratch_engine, "base")
    assert run_cli("db", "upgrade").exit_code == 0
    again = run_cli(*arguments[:-1], "2")
    assert again.exit_code == 0, again.output
    assert _cases(scratch_engine) == made
    assert max(opened for _, _, opened in made).isoformat() < "2026-03-02T09:00"
    audit = run_cli("audit", "verify")
    assert audit.exit_code == 0
    assert "intact" in audit.output


def test_demo_generate_refuses_a_bad_now(run_cli):
    assert run_cli("db", "upgrade").exit_code == 0
    result = run_cli("demo", "generate", "--cases", "5", "--now", "next tuesday")
    assert result.exit_code == 2
    assert "--now" in result.output

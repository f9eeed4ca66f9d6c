"""`casebridge audit search|export` and the verification record `audit verify` leaves."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner
from sqlalchemy import select

from casebridge.cli import main
from storage.audit.models import AuditAction, AuditEntry, AuditVerification
from storage.db import make_session_factory, unit_of_work
from tests import factories


def _run(engine, tmp_path, *args: str):
    env = {"CASEBRIDGE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "CASEBRIDGE_DATA_DIR": str(tmp_path),
           "CASEBRIDGE_CONFIG": str(tmp_path / "absent.toml")}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_search_export_and_verify(migrated_scratch, tmp_path):
    sessions = make_session_factory(migrated_scratch)
    with unit_of_work(sessions) as session:
        agency = factories.agency(session)
        code = agency.code
    result = _run(migrated_scratch, tmp_path, "audit", "search", "--action", "create")
    assert result.exit_code == 0, result.output
    assert "\tcreate\tagencies:" in result.output
    out = tmp_path / "audit.csv"
    result = _run(migrated_scratch, tmp_path, "audit", "export", "--action", "create",
                  "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0][0] == "seq"
    assert len(rows) == 2
    bad = _run(migrated_scratch, tmp_path, "audit", "search", "--agency", code + "X")
    assert bad.exit_code == 2
    assert "no agency has that code" in bad.output
    assert _run(migrated_scratch, tmp_path, "audit", "verify").exit_code == 0
    with unit_of_work(sessions) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert actions[-2:] == [AuditAction.SEARCH, AuditAction.EXPORT]
        check = session.scalars(select(AuditVerification)).one()
        assert check.intact
        assert check.to_seq == len(actions)

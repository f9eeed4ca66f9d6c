"""`casebridge audit verify` against a real database with real commits."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from casebridge.cli import main
from storage.audit.models import AuditEntry
from storage.audit.services import redact
from storage.db import make_session_factory, unit_of_work
from tests import factories


@pytest.fixture
def verify(migrated_scratch, tmp_path):
    """Run `casebridge audit verify` on the scratch database, as an operator would."""
    env = {
        "CASEBRIDGE_DATABASE_URL": migrated_scratch.url.render_as_string(hide_password=False),
        "CASEBRIDGE_DATA_DIR": str(tmp_path),
        "CASEBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
    }

    def run():
        return CliRunner().invoke(main, ["audit", "verify"], env=env, catch_exceptions=False)

    return run


@pytest.fixture
def three_committed_entries(migrated_scratch):
    # Straight on the migrated database: nothing published, so these are entries 1 to 3.
    sessions = make_session_factory(migrated_scratch)
    for _ in range(3):
        with unit_of_work(sessions) as session:
            factories.agency(session)


def test_verify_says_intact_and_exits_0_on_a_good_chain(verify, three_committed_entries):
    result = verify()
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 3 entries verified." in result.stdout


def test_verify_exits_1_naming_the_first_altered_entry(
    verify, three_committed_entries, migrated_scratch
):
    with migrated_scratch.begin() as connection:
        connection.execute(
            text("UPDATE audit_entries SET actor_label = 'user:someone-else' WHERE seq = 2")
        )
    result = verify()
    assert result.exit_code == 1
    assert "AUDIT CHAIN BROKEN at entry 2" in result.stderr
    assert "was altered" in result.stderr
    assert "Entries 1 to 1 are intact" in result.stderr
    assert "intact:" not in result.stdout


def test_verify_exits_1_when_the_newest_entry_was_deleted(
    verify, three_committed_entries, migrated_scratch
):
    with migrated_scratch.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    result = verify()
    assert result.exit_code == 1
    assert "AUDIT CHAIN BROKEN at entry 3" in result.stderr
    assert "removed from the end" in result.stderr


def test_verify_on_a_database_without_tables_says_how_to_create_them(scratch_engine, tmp_path):
    env = {
        "CASEBRIDGE_DATABASE_URL": scratch_engine.url.render_as_string(hide_password=False),
        "CASEBRIDGE_DATA_DIR": str(tmp_path),
        "CASEBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
    }
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert "casebridge db upgrade" in result.output


def test_verify_counts_redacted_entries_as_redacted_not_broken(
    verify, three_committed_entries, migrated_scratch
):
    with unit_of_work(make_session_factory(migrated_scratch)) as session:
        redact(session, factories.SYSTEM, AuditEntry.seq == 2, reason="retention", review=1)
    result = verify()
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 4 entries verified, 1 of them redacted" in result.stdout
    with migrated_scratch.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET changes = '{}' WHERE seq = 2"))
    result = verify()
    assert result.exit_code == 1
    assert "AUDIT CHAIN BROKEN at entry 2" in result.stderr
    assert "redaction mark of entry 2 was altered" in result.stderr

"""Redacting audit entries: the text goes, the chain still proves every entry, and nothing
but a redaction the chain itself records can pass for one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import column, delete, insert, select, table, text, update

from storage import migrate
from storage.agencies.models import AgencyType
from storage.agencies.services import create_agency
from storage.audit.models import GENESIS_HASH, AuditAction, AuditChainHead, AuditEntry
from storage.audit.search import verify_range
from storage.audit.services import (
    REDACTION_ENTITY,
    AuditChainBroken,
    changes_digest,
    entry_digest,
    redact,
    redaction_mark,
    verify_chain,
)
from storage.base import UTCDateTime
from storage.db import make_session_factory, unit_of_work
from tests.storage.audit.test_chain import CLERK, tamper
from tests.storage.helpers import audit_entries

MARK = redaction_mark("retention", 7)


@pytest.fixture(autouse=True)
def empty_chain(session) -> None:
    """Start from an empty chain, as tests/storage/audit/test_chain.py does."""
    session.execute(delete(AuditEntry))
    session.execute(update(AuditChainHead).values(last_seq=0, last_hash=GENESIS_HASH))
    session.commit()


@pytest.fixture
def four_entries(session, frozen_clock) -> list[AuditEntry]:
    """Four agencies created a minute apart, named so a test can look for the names."""
    for n in (1, 2, 3, 4):
        create_agency(session, CLERK, name=f"Secret Name {n}", code=f"RD{n}",
                      agency_type=AgencyType.COUNCIL)
        session.commit()
        frozen_clock.advance(timedelta(minutes=1))
    return audit_entries(session)


def redact_seqs(session, *seqs: int) -> list[int]:
    done = redact(session, CLERK, AuditEntry.seq.in_(seqs), reason="retention", review=7)
    session.commit()
    session.expire_all()
    return done


def set_columns(session, seq: int, **values) -> None:
    """`tamper` for values SQL text cannot spell the same on both databases (times)."""
    session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(**values)
                    .execution_options(synchronize_session=False))
    session.expire_all()


def entry(session, seq: int) -> AuditEntry:
    return session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()


# --- redacting --------------------------------------------------------------------------------


def test_redaction_blanks_the_text_and_keeps_the_chain_intact(session, four_entries):
    assert redact_seqs(session, 2, 3) == [2, 3]

    for seq in (2, 3):
        redacted = entry(session, seq)
        assert redacted.changes == MARK
        assert redacted.redacted_at is not None
        assert "Secret Name" not in redacted.changes
    assert "Secret Name 1" in entry(session, 1).changes  # only what was asked
    report = verify_chain(session)
    assert report.intact, report.reason
    assert (report.checked, report.redacted) == (5, 2)


def test_the_redaction_is_itself_audited_without_the_text(session, four_entries):
    redact_seqs(session, 2, 3)
    [note] = audit_entries(session, entity_type=REDACTION_ENTITY)
    assert (note.seq, note.action, note.actor_label) == (5, AuditAction.UPDATE, "user:clerk")
    detail = json.loads(note.changes)["detail"]["redaction"]
    assert detail["seqs"] == [[2, 3]]
    assert (detail["reason"], detail["review"], detail["count"]) == ("retention", 7, 2)
    assert "Secret" not in note.changes


def test_redacting_again_changes_nothing_and_records_nothing(session, four_entries):
    redact_seqs(session, 2)
    assert redact_seqs(session, 2) == []
    assert len(audit_entries(session, entity_type=REDACTION_ENTITY)) == 1
    assert verify_chain(session).redacted == 1


def test_redaction_entries_are_never_redacted(session, four_entries):
    redact_seqs(session, 2)
    assert redact_seqs(session, 5) == []  # 5 is the redaction entry
    assert verify_chain(session).intact


def test_rolled_back_redaction_leaves_the_entries_whole(session, four_entries):
    redact(session, CLERK, AuditEntry.seq == 2, reason="retention", review=7)
    session.rollback()
    session.expire_all()
    assert "Secret Name 2" in entry(session, 2).changes
    assert verify_chain(session).redacted == 0


# --- tampering with redacted entries ----------------------------------------------------------


def test_edited_text_of_a_redacted_entry_is_reported(session, four_entries):
    redact_seqs(session, 2)
    tamper(session, "UPDATE audit_entries SET changes = :c WHERE seq = 2",
           c=redaction_mark("retention", 8))
    report = verify_chain(session)
    assert not report.intact
    assert report.broken_seq == 2
    assert "redaction mark of entry 2 was altered" in report.reason


def test_edited_redaction_time_is_reported(session, four_entries):
    redact_seqs(session, 2)
    set_columns(session, 2, redacted_at=datetime(2020, 1, 1, tzinfo=UTC))
    report = verify_chain(session)
    assert report.broken_seq == 2
    assert "redaction mark" in report.reason


def test_other_fields_of_a_redacted_entry_are_still_proved(session, four_entries):
    redact_seqs(session, 2)
    tamper(session, "UPDATE audit_entries SET actor_label = 'user:someone-else' WHERE seq = 2")
    report = verify_chain(session)
    assert report.broken_seq == 2
    # Found by the entry's own hash, at the entry (the witness would find it later too).
    assert report.reason == "entry 2 was altered after it was written"


def test_an_entry_marked_redacted_behind_the_chains_back_is_reported(session, four_entries):
    """Setting the mark to hide an edit: no redaction entry lists it."""
    set_columns(session, 3, changes=MARK, redacted_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    report = verify_chain(session)
    assert not report.intact
    assert report.broken_seq == 3
    assert "no redaction entry records it" in report.reason


def test_a_mark_copied_from_a_real_redaction_is_reported(session, four_entries):
    redact_seqs(session, 2)
    real = entry(session, 2)
    set_columns(session, 3, changes=real.changes, redacted_at=real.redacted_at)
    report = verify_chain(session)
    assert report.broken_seq == 3
    assert "no redaction entry records it" in report.reason


def test_removing_the_mark_is_reported(session, four_entries):
    redact_seqs(session, 2)
    tamper(session, "UPDATE audit_entries SET redacted_at = NULL WHERE seq = 2")
    report = verify_chain(session)
    assert report.broken_seq == 2
    assert "altered" in report.reason


def test_deleting_the_redaction_entry_is_reported(session, four_entries):
    redact_seqs(session, 2)
    tamper(session, "DELETE FROM audit_entries WHERE seq = 5")
    report = verify_chain(session)
    assert not report.intact
    assert "removed from the end" in report.reason


def test_edits_deletes_and_inserts_are_still_reported_alongside_redactions(
        session, four_entries):
    redact_seqs(session, 2)
    tamper(session, "UPDATE audit_entries SET changes = :c WHERE seq = 4", c='{"after":{}}')
    assert "entry 4 was altered" in verify_chain(session).reason
    session.rollback()  # back to the redacted, intact chain
    tamper(session, "DELETE FROM audit_entries WHERE seq = 3")
    assert "missing" in verify_chain(session).reason


# --- entries written before migration 0013 (hash version 1) -----------------------------------


def as_version_1(session, entries: list[AuditEntry]) -> None:
    """Re-write the chain as the code before 0013 wrote it: each hash over the text."""
    prev = GENESIS_HASH
    for e in entries:
        e.hash_version, e.prev_hash = 1, prev
        e.entry_hash = prev = entry_digest(e)
    session.execute(update(AuditChainHead).values(last_seq=entries[-1].seq, last_hash=prev))
    session.commit()
    session.expire_all()


def test_version_1_entries_verify_and_a_version_2_entry_follows_them(
        session, four_entries, frozen_clock):
    as_version_1(session, four_entries)
    assert verify_chain(session).intact
    create_agency(session, CLERK, name="After the upgrade", code="RD5",
                  agency_type=AgencyType.COUNCIL)
    session.commit()
    assert entry(session, 5).hash_version == 2
    report = verify_chain(session)
    assert report.intact, report.reason
    assert report.checked == 5


def test_version_1_entries_still_detect_an_edit_of_their_text(session, four_entries):
    as_version_1(session, four_entries)
    tamper(session, "UPDATE audit_entries SET changes = :c, changes_digest = :d WHERE seq = 2",
           c='{"after":{}}', d=changes_digest('{"after":{}}'))
    report = verify_chain(session)
    assert report.broken_seq == 2
    assert "altered" in report.reason


def test_a_redacted_version_1_entry_verifies_and_is_proved_by_its_witness(
        session, four_entries):
    as_version_1(session, four_entries)
    redact_seqs(session, 2)
    report = verify_chain(session)
    assert report.intact, report.reason
    assert report.redacted == 1

    tamper(session, "UPDATE audit_entries SET actor_label = 'user:someone-else' WHERE seq = 2")
    report = verify_chain(session)
    assert not report.intact
    assert report.broken_seq == 2
    assert "altered after redaction" in report.reason


def test_a_tampered_entry_is_never_redacted(session, four_entries):
    """Redacting it would make the tampering look like a lawful redaction."""
    as_version_1(session, four_entries)
    tamper(session, "UPDATE audit_entries SET actor_label = 'forged' WHERE seq = 3")
    with pytest.raises(AuditChainBroken, match="entry 3"):
        redact(session, CLERK, AuditEntry.seq.in_([2, 3]), reason="retention", review=7)
    session.rollback()


# --- the web's bounded check ------------------------------------------------------------------


def test_a_range_check_counts_and_proves_redactions_inside_it(session, four_entries):
    redact_seqs(session, 2)
    report = verify_range(session, 1, 5)
    assert report.intact, report.reason
    assert (report.checked, report.redacted, report.last_seq) == (5, 1, 5)
    # The redacted entry before the range: its redaction entry is in range, not judged.
    assert verify_range(session, 3, 5).intact
    tamper(session, "UPDATE audit_entries SET changes = :c WHERE seq = 2",
           c=redaction_mark("retention", 8))
    assert "redaction mark of entry 2" in verify_range(session, 2, 5).reason


# --- the migration ----------------------------------------------------------------------------


OLD_COLUMNS = ("seq", "occurred_at", "actor_label", "action", "entity_type", "entity_id",
               "changes", "prev_hash", "entry_hash")


def test_migration_keeps_an_existing_chain_verifiable(scratch_engine):
    """Entries written before 0013 (hashed over their text) get their digest and version 1,
    and verify; new entries are version 2."""
    migrate.upgrade(scratch_engine, "0012")
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    old = []
    prev = GENESIS_HASH
    for seq, changes in ((1, '{"after":{"name":"Ann Ánné"}}'), (2, '{"detail":{"n":2}}')):
        row = AuditEntry(seq=seq, occurred_at=at, actor_label="system:old",
                         action=AuditAction.CREATE, entity_type="people", entity_id=str(seq),
                         changes=changes, prev_hash=prev, hash_version=1)
        row.entry_hash = prev = entry_digest(row)
        old.append({c: getattr(row, c) for c in OLD_COLUMNS} | {"action": "create"})
    # The table as 0012 left it: no digest, version or mark.
    old_table = table("audit_entries", *(
        column(c, UTCDateTime() if c == "occurred_at" else None) for c in OLD_COLUMNS))
    with scratch_engine.begin() as connection:
        connection.execute(insert(old_table), old)
        connection.execute(text("UPDATE audit_chain_head SET last_seq = 2, last_hash = :h"),
                           {"h": prev})

    migrate.upgrade(scratch_engine)

    sessions = make_session_factory(scratch_engine)
    with unit_of_work(sessions) as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        assert [(r.hash_version, r.changes_digest) for r in rows] == [
            (1, changes_digest(r["changes"])) for r in old]
        assert verify_chain(session).intact
        create_agency(session, CLERK, name="New", code="NEW", agency_type=AgencyType.COUNCIL)
    with unit_of_work(sessions) as session:
        assert entry(session, 3).hash_version == 2
        report = verify_chain(session)
        assert report.intact, report.reason
        assert report.checked == 3
        redact(session, CLERK, AuditEntry.seq == 1, reason="retention", review=1)
    with unit_of_work(sessions) as session:
        report = verify_chain(session)
        assert report.intact, report.reason
        assert report.redacted == 1

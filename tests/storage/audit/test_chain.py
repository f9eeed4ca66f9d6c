"""The hash-chained audit log: written at commit, linked entry to entry, and tamper-evident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from storage.actors import Actor
from storage.agencies.models import Agency, AgencyType
from storage.agencies.services import create_agency
from storage.audit.models import GENESIS_HASH, AuditAction, AuditChainHead, AuditEntry
from storage.audit.services import (
    canonical_json,
    changes_digest,
    entry_digest,
    record,
    verify_chain,
)
from tests import factories
from tests.storage.helpers import audit_entries, flush_in_savepoint

CLERK = Actor(label="user:clerk", ip_address="192.0.2.10", request_id="req-1")


@pytest.fixture(autouse=True)
def empty_chain(session) -> None:
    """These tests read the chain from its first entry. The shared test database already holds
    the entries of publishing the shipped case types, so each test starts by emptying the
    chain (committed to the test's SAVEPOINT, so a test's own rollback keeps it empty; the
    connection's transaction around it all is rolled back when the test ends)."""
    session.execute(delete(AuditEntry))
    session.execute(update(AuditChainHead).values(last_seq=0, last_hash=GENESIS_HASH))
    session.commit()


@pytest.fixture
def three_entries(session, frozen_clock) -> list[AuditEntry]:
    """Three changes committed one after another, a minute apart: audit entries 1, 2 and 3."""
    for n in (1, 2, 3):
        create_agency(session, CLERK, name=f"Chain Agency {n}", code=f"CH{n}",
                      agency_type=AgencyType.COUNCIL)
        session.commit()
        frozen_clock.advance(timedelta(minutes=1))
    entries = audit_entries(session)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].occurred_at < entries[1].occurred_at < entries[2].occurred_at
    return entries


def tamper(session, sql: str, **params) -> None:
    """Change the table behind the application's back, as an attacker with SQL access would."""
    session.execute(text(sql), params)
    session.expire_all()


# --- writing ------------------------------------------------------------------------------


def test_entries_are_written_at_commit_not_before(session, frozen_clock):
    agency = factories.agency(session)
    session.flush()
    assert audit_entries(session) == []

    session.commit()

    [entry] = audit_entries(session)
    assert entry.action is AuditAction.CREATE
    assert (entry.entity_type, entry.entity_id) == ("agencies", str(agency.id))
    assert entry.actor_label == "system:tests"
    assert entry.occurred_at == frozen_clock.now()
    assert '"code":"' + agency.code + '"' in entry.changes


def test_rolled_back_changes_leave_no_entry(session):
    factories.agency(session)
    session.rollback()
    factories.agency(session)  # a later, committed change is the first entry of the chain
    session.commit()
    assert [e.seq for e in audit_entries(session)] == [1]


def test_a_failed_savepoint_keeps_the_entries_recorded_before_it(session):
    """A refused insert caught in a SAVEPOINT must not drop the audit of work that commits."""
    kept = factories.agency(session)
    with pytest.raises(IntegrityError):
        flush_in_savepoint(session, Agency(name="Bad", code="bad", agency_type=AgencyType.OTHER))
    session.commit()

    assert session.get(Agency, kept.id) is not None
    assert [(e.entity_type, e.entity_id) for e in audit_entries(session)] == [
        ("agencies", str(kept.id))
    ]


def test_entries_recorded_inside_a_rolled_back_savepoint_are_dropped(session):
    kept = factories.agency(session)
    savepoint = session.begin_nested()
    factories.agency(session)
    savepoint.rollback()
    session.commit()

    assert [e.entity_id for e in audit_entries(session)] == [str(kept.id)]


def test_entries_recorded_inside_a_released_savepoint_are_kept(session):
    first = factories.agency(session)
    with session.begin_nested():
        second = factories.agency(session)
    session.commit()
    assert [e.entity_id for e in audit_entries(session)] == [str(first.id), str(second.id)]


def test_releasing_a_savepoint_does_not_seal_entries_early(session):
    factories.agency(session)
    with session.begin_nested():
        factories.agency(session)
    assert audit_entries(session) == []  # the chain head is locked at commit, not before
    session.commit()
    assert [e.seq for e in audit_entries(session)] == [1, 2]


def test_rolling_back_an_outer_savepoint_drops_entries_of_savepoints_inside_it(session):
    kept = factories.agency(session)
    outer = session.begin_nested()
    with session.begin_nested():
        factories.agency(session)  # released into `outer`, which is then undone
    outer.rollback()
    session.commit()
    assert [e.entity_id for e in audit_entries(session)] == [str(kept.id)]


def test_sequence_numbers_rise_and_each_entry_links_to_the_one_before(session, three_entries):
    first, second, third = three_entries
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash
    assert third.prev_hash == second.entry_hash
    assert len({first.entry_hash, second.entry_hash, third.entry_hash}) == 3
    assert all(entry_digest(e) == e.entry_hash for e in three_entries)
    head = session.get(AuditChainHead, 1)
    assert (head.last_seq, head.last_hash) == (3, third.entry_hash)


def test_entries_of_one_commit_are_chained_in_the_order_recorded(session):
    owner = factories.agency(session)
    record(session, CLERK, AuditAction.VIEW, entity=owner, detail={"page": "profile"})
    record(session, CLERK, AuditAction.EXPORT, entity_type="report", entity_id=7)
    session.commit()
    assert [(e.seq, e.action) for e in audit_entries(session)] == [
        (1, AuditAction.CREATE), (2, AuditAction.VIEW), (3, AuditAction.EXPORT)
    ]
    view = audit_entries(session, action=AuditAction.VIEW)[0]
    assert view.changes == canonical_json({"detail": {"page": "profile"}})
    assert (view.ip_address, view.request_id) == ("192.0.2.10", "req-1")


def test_an_entry_names_an_entity_or_an_entity_type(session):
    with pytest.raises(ValueError, match="entity"):
        record(session, CLERK, AuditAction.VIEW)


# --- verifying ----------------------------------------------------------------------------


def test_untouched_chain_verifies_intact(session, three_entries):
    report = verify_chain(session)
    assert report.intact
    assert (report.checked, report.last_seq, report.broken_seq) == (3, 3, None)


def test_empty_chain_verifies_intact(session):
    report = verify_chain(session)
    assert report.intact
    assert report.checked == 0


def test_verification_reports_progress(session, three_entries):
    calls = []
    verify_chain(session, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 3), (3, 3)]


def test_edited_changes_are_reported_as_altered(session, three_entries):
    tamper(session, "UPDATE audit_entries SET changes = :c WHERE seq = 2", c='{"after":{}}')
    report = verify_chain(session)
    assert not report.intact
    assert (report.broken_seq, report.broken_entry_id) == (2, three_entries[1].id)
    assert report.last_seq == 1
    assert "entry 2 was altered" in report.reason


def test_edited_actor_is_reported_as_altered(session, three_entries):
    tamper(session, "UPDATE audit_entries SET actor_label = 'user:someone-else' WHERE seq = 2")
    report = verify_chain(session)
    assert report.broken_seq == 2
    assert "altered" in report.reason


def test_tampering_is_seen_by_the_session_that_wrote_the_entries(session, three_entries):
    """The verifier must read the database, not the objects this session still holds."""
    session.execute(text("UPDATE audit_entries SET actor_label = 'forged' WHERE seq = 2"))
    report = verify_chain(session)
    assert report.broken_seq == 2


def test_edit_with_a_recomputed_hash_breaks_the_next_link(session, three_entries):
    second = three_entries[1]
    second.actor_label = "user:someone-else"
    forged_hash = entry_digest(second)
    session.expire_all()
    tamper(session, "UPDATE audit_entries SET actor_label = 'user:someone-else', "
                    "entry_hash = :h WHERE seq = 2", h=forged_hash)
    report = verify_chain(session)
    assert report.broken_seq == 3
    assert "does not follow entry 2" in report.reason


def test_deleted_middle_entry_is_reported(session, three_entries):
    tamper(session, "DELETE FROM audit_entries WHERE seq = 2")
    report = verify_chain(session)
    assert not report.intact
    assert report.broken_seq == 3
    assert report.last_seq == 1
    assert "missing" in report.reason


def test_deleted_last_entry_is_reported_through_the_chain_head(session, three_entries):
    tamper(session, "DELETE FROM audit_entries WHERE seq = 3")
    report = verify_chain(session)
    assert not report.intact
    assert (report.checked, report.last_seq, report.broken_seq) == (2, 2, 3)
    assert "removed from the end" in report.reason


def test_deleted_first_entry_is_reported(session, three_entries):
    tamper(session, "DELETE FROM audit_entries WHERE seq = 1")
    report = verify_chain(session)
    assert report.broken_seq == 2
    assert report.checked == 0


def insert_forged_entry(session, *, seq: int, prev_hash: str, entry_hash: str | None = None):
    """Add a row straight to the table (not through `record`), hashed like a real one."""
    latest = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    forged = AuditEntry(
        seq=seq, occurred_at=latest.occurred_at, actor_label="user:intruder",
        action=AuditAction.DELETE, entity_type="cases", entity_id="1", case_id=1,
        changes="{}", changes_digest=changes_digest("{}"), hash_version=2, prev_hash=prev_hash,
    )
    forged.entry_hash = entry_hash or entry_digest(forged)
    session.add(forged)
    session.flush()
    session.expire_all()


def test_forged_entry_appended_with_a_valid_link_is_reported(session, three_entries):
    # The forger chains the new entry correctly but leaves the chain head alone, and the
    # head still says 3. (A forger who rewrites the head too is beyond a hash chain.)
    insert_forged_entry(session, seq=4, prev_hash=three_entries[2].entry_hash)
    report = verify_chain(session)
    assert not report.intact
    assert report.last_seq == 4
    assert "chain head records 3" in report.reason


def test_forged_entry_with_a_made_up_hash_is_reported(session, three_entries):
    insert_forged_entry(session, seq=4, prev_hash=three_entries[2].entry_hash,
                        entry_hash="f" * 64)
    report = verify_chain(session)
    assert report.broken_seq == 4
    assert "altered" in report.reason


def test_entry_forged_into_a_gap_is_reported(session, three_entries):
    tamper(session, "DELETE FROM audit_entries WHERE seq = 2")
    insert_forged_entry(session, seq=2, prev_hash=three_entries[0].entry_hash)
    report = verify_chain(session)
    assert report.broken_seq == 3
    assert "does not follow entry 2" in report.reason


def test_audit_entries_cannot_fork_the_chain(session, three_entries):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text("UPDATE audit_entries SET seq = 2 WHERE seq = 3")
        )
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 3

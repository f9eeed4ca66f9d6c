"""Two people working the same case at once: the second writer gets a conflict, never a silent
overwrite. Real commits from two connections on a scratch database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from storage.audit.models import AuditEntry
from storage.audit.services import verify_chain
from storage.cases.models import Case, CaseStatus, StageInstance, StageStatus
from storage.cases.services import touch
from storage.cases.workflow import close_case, pause_case, record_stage_submission
from storage.db import unit_of_work
from storage.errors import ConcurrencyConflict
from storage.outbox.models import OutboxMessage
from tests import factories

PANEL = factories.SYSTEM


@dataclass(frozen=True)
class Shared:
    case_id: int
    report_id: int


@pytest.fixture
def shared_case(scratch_sessions, frozen_clock) -> Shared:
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        case = factories.asb_case(session, owner)
    return Shared(case.id, case.stages[0].id)


def report(description: str, **answers: str) -> dict:
    return factories.ASB_REPORT | {"description": description} | answers


A_REPORT = report("A's account")


def submit_report(form: dict):
    def attempt(session: Session, shared: Shared, expected_version: int) -> None:
        record_stage_submission(
            session, PANEL, case_id=shared.case_id, stage_instance_id=shared.report_id,
            expected_version=expected_version, form_data=form,
        )

    return attempt


def close(reason: str):
    def attempt(session: Session, shared: Shared, expected_version: int) -> None:
        close_case(session, PANEL, case_id=shared.case_id, expected_version=expected_version,
                   reason=reason)

    return attempt


def pause(reason: str):
    def attempt(session: Session, shared: Shared, expected_version: int) -> None:
        pause_case(session, PANEL, case_id=shared.case_id, expected_version=expected_version,
                   reason=reason)

    return attempt


# What B tries after A has committed, and what B typed (to be carried on the conflict).
B_REPORT = report("B's account")
B_HATE_REPORT = report("B's account", hate_motivated="yes", fears_for_safety="yes")
SECOND_WRITES: dict[str, tuple[Callable, dict]] = {
    "same stage, opening the next": (submit_report(B_REPORT), B_REPORT),
    "same stage, answers that would refer the victim": (
        submit_report(B_HATE_REPORT), B_HATE_REPORT
    ),
    "close the case": (close("B thinks it is resolved"), {"reason": "B thinks it is resolved"}),
    "pause the case": (pause("B thinks we wait"), {"reason": "B thinks we wait"}),
}


@pytest.mark.parametrize("second_write", SECOND_WRITES.values(), ids=SECOND_WRITES.keys())
def test_second_writer_with_a_stale_version_gets_a_conflict_and_loses_nothing(
    scratch_sessions, shared_case, second_write
):
    attempt_b, typed_by_b = second_write
    with scratch_sessions() as a, scratch_sessions() as b:
        # Both open the case (and its report form) at version 1.
        seen_by_a = a.get(Case, shared_case.case_id)
        seen_by_b = b.get(Case, shared_case.case_id)
        b.get(StageInstance, shared_case.report_id)
        assert seen_by_a.version == seen_by_b.version == 1

        submit_report(A_REPORT)(a, shared_case, seen_by_a.version)
        a.commit()

        with pytest.raises(ConcurrencyConflict) as caught:
            attempt_b(b, shared_case, seen_by_b.version)
        b.rollback()

    conflict = caught.value
    assert conflict.submitted == typed_by_b
    assert conflict.expected_version == 1
    assert conflict.current_version in (2, None)  # None: the race was lost at write time
    assert "was changed by someone else" in str(conflict)
    assert "what you entered has been kept" in str(conflict)
    assert str(conflict).startswith("Case ASB-2026-000001")

    with scratch_sessions() as fresh:
        case = fresh.get(Case, shared_case.case_id)
        report_stage = fresh.get(StageInstance, shared_case.report_id)
        assert case.version == 2
        assert case.status is CaseStatus.OPEN
        assert report_stage.status is StageStatus.COMPLETED
        assert report_stage.form_data == A_REPORT
        assert [(s.stage_key, s.status) for s in case.stages] == [
            ("report", StageStatus.COMPLETED), ("risk_assessment", StageStatus.ACTIVE)
        ]
        changes = fresh.scalars(select(AuditEntry.changes)).all()
        assert not any("B's account" in c or "B thinks" in c for c in changes)
        assert fresh.scalars(select(OutboxMessage)).all() == []  # B's referral never queued
        assert verify_chain(fresh).intact


def test_writer_who_reloads_after_the_conflict_can_save(scratch_sessions, shared_case):
    with scratch_sessions() as a:
        submit_report(A_REPORT)(a, shared_case, 1)
        a.commit()
    with scratch_sessions() as b:
        current = b.get(Case, shared_case.case_id)
        close(reason="Resolved after reading A's account")(b, shared_case, current.version)
        b.commit()
    with scratch_sessions() as fresh:
        case = fresh.get(Case, shared_case.case_id)
        assert (case.status, case.version) == (CaseStatus.CLOSED, 3)


def test_orm_refuses_to_write_over_a_newer_version(scratch_sessions, shared_case, frozen_clock):
    """The web path: B read the case in an earlier request, A saved since, B now saves."""
    with scratch_sessions() as a, scratch_sessions() as b:
        case_a = a.get(Case, shared_case.case_id)
        case_b = b.get(Case, shared_case.case_id)
        b.commit()  # B's request ends; it keeps the objects it read (expire_on_commit=False)

        case_a.title = "Title set by A"
        touch(case_a, frozen_clock.now())
        a.commit()

        case_b.title = "Title set by B"
        touch(case_b, frozen_clock.now())
        with pytest.raises(StaleDataError):
            b.flush()
        b.rollback()

    with scratch_sessions() as fresh:
        case = fresh.get(Case, shared_case.case_id)
        assert (case.title, case.version) == ("Title set by A", 2)


def test_orm_refuses_a_lost_race_inside_one_transaction(
    scratch_sessions, shared_case, frozen_clock
):
    """B still holds the transaction it read in when A commits.

    PostgreSQL re-checks the version in B's UPDATE and finds no row (StaleDataError);
    SQLite in WAL mode refuses B's write to an out-of-date snapshot (SQLITE_BUSY_SNAPSHOT,
    extended code 517), which the services translate into the same ConcurrencyConflict.
    """
    with scratch_sessions() as a, scratch_sessions() as b:
        case_a = a.get(Case, shared_case.case_id)
        case_b = b.get(Case, shared_case.case_id)

        case_a.title = "Title set by A"
        touch(case_a, frozen_clock.now())
        a.commit()

        case_b.title = "Title set by B"
        touch(case_b, frozen_clock.now())
        with pytest.raises((StaleDataError, OperationalError)) as caught:
            b.flush()
        if isinstance(caught.value, OperationalError):
            assert b.get_bind().dialect.name == "sqlite"
            assert caught.value.orig.sqlite_errorcode == 517
        else:
            assert b.get_bind().dialect.name == "postgresql"
        b.rollback()

    with scratch_sessions() as fresh:
        assert fresh.get(Case, shared_case.case_id).title == "Title set by A"


def test_every_change_through_the_services_moves_the_version(scratch_sessions, shared_case):
    with scratch_sessions() as session:
        submit_report(report("x"))(session, shared_case, 1)
        session.commit()
        assert session.get(Case, shared_case.case_id).version == 2
        close("done")(session, shared_case, 2)
        session.commit()
    with scratch_sessions() as fresh:
        assert fresh.get(Case, shared_case.case_id).version == 3

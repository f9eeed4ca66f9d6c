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
from storage.cases.services import StagePlan, close_case, record_stage_submission, touch
from storage.db import unit_of_work
from storage.errors import ConcurrencyConflict
from tests import factories

PANEL = factories.SYSTEM


@dataclass(frozen=True)
class Shared:
    case_id: int
    intake_id: int


@pytest.fixture
def shared_case(scratch_sessions, frozen_clock) -> Shared:
    with unit_of_work(scratch_sessions) as session:
        owner = factories.agency(session)
        case = factories.asb_case(session, owner)
    return Shared(case.id, case.stages[0].id)


def submit_intake(form: dict, *, next_stage: str | None = "risk_assessment"):
    def attempt(session: Session, shared: Shared, expected_version: int) -> None:
        record_stage_submission(
            session, PANEL, case_id=shared.case_id, stage_instance_id=shared.intake_id,
            expected_version=expected_version, form_data=form,
            next_stages=[StagePlan(next_stage)] if next_stage else (),
        )

    return attempt


def close(reason: str):
    def attempt(session: Session, shared: Shared, expected_version: int) -> None:
        close_case(session, PANEL, case_id=shared.case_id, expected_version=expected_version,
                   reason=reason)

    return attempt


# What B tries after A has committed, and what B typed (to be carried on the conflict).
SECOND_WRITES: dict[str, tuple[Callable, dict]] = {
    "same stage, opening the next": (
        submit_intake({"what_happened": "B's account"}), {"what_happened": "B's account"}
    ),
    "same stage, nothing opens next": (
        submit_intake({"what_happened": "B's account"}, next_stage=None),
        {"what_happened": "B's account"},
    ),
    "close the case": (close("B thinks it is resolved"), {"reason": "B thinks it is resolved"}),
}


@pytest.mark.parametrize("second_write", SECOND_WRITES.values(), ids=SECOND_WRITES.keys())
def test_second_writer_with_a_stale_version_gets_a_conflict_and_loses_nothing(
    scratch_sessions, shared_case, second_write
):
    attempt_b, typed_by_b = second_write
    with scratch_sessions() as a, scratch_sessions() as b:
        # Both open the case (and its intake form) at version 1.
        seen_by_a = a.get(Case, shared_case.case_id)
        seen_by_b = b.get(Case, shared_case.case_id)
        b.get(StageInstance, shared_case.intake_id)
        assert seen_by_a.version == seen_by_b.version == 1

        submit_intake({"what_happened": "A's account"})(a, shared_case, seen_by_a.version)
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
        intake = fresh.get(StageInstance, shared_case.intake_id)
        assert case.version == 2
        assert case.status is CaseStatus.OPEN
        assert intake.status is StageStatus.COMPLETED
        assert intake.form_data == {"what_happened": "A's account"}
        assert [(s.stage_key, s.status) for s in case.stages] == [
            ("intake", StageStatus.COMPLETED), ("risk_assessment", StageStatus.ACTIVE)
        ]
        changes = fresh.scalars(select(AuditEntry.changes)).all()
        assert not any("B's account" in c or "B thinks" in c for c in changes)
        assert verify_chain(fresh).intact


def test_writer_who_reloads_after_the_conflict_can_save(scratch_sessions, shared_case):
    with scratch_sessions() as a:
        submit_intake({"what_happened": "A's account"})(a, shared_case, 1)
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
        submit_intake({"what_happened": "x"})(session, shared_case, 1)
        session.commit()
        assert session.get(Case, shared_case.case_id).version == 2
        close("done")(session, shared_case, 2)
        session.commit()
    with scratch_sessions() as fresh:
        assert fresh.get(Case, shared_case.case_id).version == 3

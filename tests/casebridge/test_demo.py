from sqlalchemy import func, select

from casebridge import demo
from storage import migrate
from storage.audit.services import verify_chain
from storage.cases.models import Case, CaseStatus, StageInstance, StageStatus
from storage.db import unit_of_work
from storage.people.models import Person


def _fingerprint(sessions):
    with unit_of_work(sessions) as session:
        return session.execute(
            select(Case.reference, Case.title, Case.status, Case.risk_level).order_by(Case.id)
        ).all()


def test_demo_is_deterministic_for_a_seed(scratch_engine, scratch_sessions, frozen_clock):
    demo.generate(scratch_sessions, cases=30, seed=7, now=frozen_clock.now())
    first = _fingerprint(scratch_sessions)
    migrate.downgrade(scratch_engine, "base")
    migrate.upgrade(scratch_engine)
    demo.generate(scratch_sessions, cases=30, seed=7, now=frozen_clock.now())
    assert _fingerprint(scratch_sessions) == first
    assert len(first) == 30


def test_demo_has_open_closed_and_overdue_work_and_an_intact_chain(
    scratch_sessions, frozen_clock
):
    demo.generate(scratch_sessions, cases=80, seed=3, now=frozen_clock.now())
    with unit_of_work(scratch_sessions) as session:
        statuses = set(session.scalars(select(Case.status)))
        overdue = session.scalar(
            select(func.count()).where(
                StageInstance.status == StageStatus.ACTIVE,
                StageInstance.due_at < frozen_clock.now(),
            )
        )
        people = session.scalar(select(func.count()).select_from(Person))
        assert statuses == {CaseStatus.OPEN, CaseStatus.CLOSED}
        assert overdue > 0
        assert people < 80, "some victims report more than once"
        assert verify_chain(session).intact
        assert len(demo.demo_accounts(session)) == len(demo.ACCOUNTS)

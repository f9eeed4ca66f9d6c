import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from casebridge import demo
from casebridge.synthetic.histories import ChunkRows
from casebridge.synthetic.rows import table_tails
from casebridge.synthetic.writer import BulkWriter, ForeignKeyViolation, read_state
from forms.loader import shipped_forms
from forms.sampling import sample_answers
from storage import migrate
from storage.accounts.models import Role, User
from storage.agencies.models import Agency
from storage.audit.models import AuditEntry
from storage.audit.services import verify_chain
from storage.cases.models import (
    Action,
    ActionStatus,
    Case,
    CaseParticipant,
    CaseShare,
    CaseStatus,
    ParticipantRole,
    StageInstance,
    StageStatus,
)
from storage.cases.workflow import (
    definition_for,
    open_case,
    record_stage_submission,
    resume_case,
    state_of,
)
from storage.db import unit_of_work
from storage.outbox.models import OutboxMessage, OutboxStatus
from storage.people.models import Location, Person
from storage.people.services import POSTCODE_SHAPE, create_person
from tests.workflows.walker import check_invariants
from workflows import interpreter as wf


def _fingerprint(sessions):
    """Everything a seed decides, table by table, in id order."""
    with unit_of_work(sessions) as session:
        def rows(statement):
            return [tuple(r) for r in session.execute(statement)]

        return {
            "cases": rows(select(
                Case.id, Case.reference, Case.case_type, Case.title, Case.status,
                Case.risk_level, Case.owning_agency_id, Case.lead_officer_id, Case.opened_at,
                Case.closed_at, Case.closure_reason, Case.version, Case.workflow_state,
            ).order_by(Case.id)),
            "stages": rows(select(
                StageInstance.id, StageInstance.case_id, StageInstance.stage_key,
                StageInstance.sequence, StageInstance.status, StageInstance.assignee_agency_id,
                StageInstance.assignee_user_id, StageInstance.opened_at, StageInstance.due_at,
                StageInstance.warn_at, StageInstance.completed_at, StageInstance.form_data,
            ).order_by(StageInstance.id)),
            "actions": rows(select(
                Action.id, Action.case_id, Action.stage_instance_id, Action.title,
                Action.assigned_agency_id, Action.status, Action.due_at, Action.completed_at,
                Action.decline_reason,
            ).order_by(Action.id)),
            "people": rows(select(Person.id, Person.given_name, Person.family_name,
                                  Person.date_of_birth, Person.phone).order_by(Person.id)),
            "participants": rows(select(
                CaseParticipant.id, CaseParticipant.case_id, CaseParticipant.role,
                CaseParticipant.person_id, CaseParticipant.location_id,
            ).order_by(CaseParticipant.id)),
            "shares": rows(select(CaseShare.case_id, CaseShare.agency_id)
                           .order_by(CaseShare.id)),
            "locations": rows(select(Location.id, Location.address_line_1, Location.description,
                                     Location.postcode).order_by(Location.id)),
        }


def _reset(engine):
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)


def test_demo_is_deterministic_for_a_seed(scratch_engine, scratch_sessions, frozen_clock):
    demo.generate(scratch_sessions, cases=30, seed=7, now=frozen_clock.now())
    first = _fingerprint(scratch_sessions)
    _reset(scratch_engine)
    demo.generate(scratch_sessions, cases=30, seed=7, now=frozen_clock.now())
    assert _fingerprint(scratch_sessions) == first
    assert len(first["cases"]) == 30
    _reset(scratch_engine)
    demo.generate(scratch_sessions, cases=30, seed=8, now=frozen_clock.now())
    assert _fingerprint(scratch_sessions)["cases"] != first["cases"]


def test_the_data_does_not_depend_on_workers_chunks_or_batches(
    scratch_engine, scratch_sessions, frozen_clock
):
    # In this process, in one chunk and one transaction...
    demo.generate(scratch_sessions, cases=45, seed=11, now=frozen_clock.now(), workers=0)
    alone = _fingerprint(scratch_sessions)
    # ...or in one or two worker processes, seven cases at a time, twenty per transaction.
    for workers in (1, 2):
        _reset(scratch_engine)
        demo.generate(scratch_sessions, cases=45, seed=11, now=frozen_clock.now(),
                      workers=workers, chunk_size=7, batch_size=20)
        assert _fingerprint(scratch_sessions) == alone
    with unit_of_work(scratch_sessions) as session:
        batches = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "synthetic_batch")
            .order_by(AuditEntry.seq)
        ).all()
        assert [b.entity_id for b in batches] == ["1-20", "21-40", "41-45"]
        assert verify_chain(session).intact


def test_demo_has_open_closed_and_overdue_work_and_an_intact_chain(
    scratch_sessions, frozen_clock
):
    summary = demo.generate(scratch_sessions, cases=80, seed=3, now=frozen_clock.now())
    assert summary.cases == 80
    with unit_of_work(scratch_sessions) as session:
        statuses = set(session.scalars(select(Case.status)))
        overdue = session.scalar(
            select(func.count()).where(
                StageInstance.status == StageStatus.ACTIVE,
                StageInstance.due_at < frozen_clock.now(),
            )
        )
        people = session.scalar(select(func.count()).select_from(Person))
        assert {CaseStatus.OPEN, CaseStatus.CLOSED} <= statuses
        assert overdue > 0
        assert people < 2 * 80, "some victims and perpetrators turn up on several cases"
        assert verify_chain(session).intact
        assert len(demo.demo_accounts(session)) == len(demo.ACCOUNTS)
        # One audit entry per committed batch, saying what was imported.
        batch = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "synthetic_batch")
        ).one()
        assert batch.actor_label == "system:demo"
        assert '"cases":80' in batch.changes
        assert '"seed":3' in batch.changes
        # History is not replayed to anyone: nothing waits in the outbox.
        assert not session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status != OutboxStatus.DONE))


@pytest.fixture
def partnership(scratch_sessions, frozen_clock):
    demo.generate(scratch_sessions, cases=400, seed=5, now=frozen_clock.now())
    return scratch_sessions


def test_every_case_type_and_stage_of_life_is_there(partnership, frozen_clock):
    now = frozen_clock.now()
    with unit_of_work(partnership) as session:
        types = Counter(session.scalars(select(Case.case_type)))
        assert set(types) == {"asb", "hate_crime", "restorative_justice", "marac",
                              "asb_case_review"}
        assert types["asb"] == max(types.values())
        by_status = Counter(session.scalars(select(Case.status)))
        assert by_status[CaseStatus.CLOSED] > by_status[CaseStatus.OPEN] > 0
        assert by_status[CaseStatus.PAUSED] > 0
        overdue_cases = session.scalar(
            select(func.count(func.distinct(StageInstance.case_id))).join(Case).where(
                Case.status == CaseStatus.OPEN, StageInstance.status == StageStatus.ACTIVE,
                StageInstance.due_at < now))
        assert overdue_cases > 0
        # Two years of reports ending now.
        first, last = session.execute(select(func.min(Case.opened_at),
                                             func.max(Case.opened_at))).one()
        assert now - timedelta(days=731) <= first < now - timedelta(days=600)
        assert now - timedelta(days=30) < last < now
        # Actions in every state, owed by agencies; some overdue.
        actions = Counter(session.scalars(select(Action.status)))
        assert {ActionStatus.DONE, ActionStatus.DECLINED, ActionStatus.OPEN} <= set(actions)
        assert session.scalar(select(func.count()).select_from(Action).where(
            Action.status.in_([ActionStatus.OPEN, ActionStatus.ACCEPTED]),
            Action.due_at < now)) > 0
        # MARAC meetings are listed for a date to come, and heard on it.
        listing = session.scalars(select(StageInstance).where(
            StageInstance.stage_key == "listing", StageInstance.status == StageStatus.COMPLETED
        ).limit(20)).all()
        assert listing
        for stage in listing:
            meeting = stage.form_data["meeting_date"]
            assert meeting > stage.completed_at.date().isoformat()
        # Agencies pulled in by the workflow see the case.
        assert session.scalar(select(func.count()).select_from(CaseShare)) > 0


def test_repeat_victims_hot_spots_and_misspelt_duplicates(partnership):
    with unit_of_work(partnership) as session:
        victims = session.execute(
            select(CaseParticipant.person_id, func.count(),
                   func.count(func.distinct(Case.owning_agency_id)))
            .join(Case).where(CaseParticipant.role == ParticipantRole.VICTIM)
            .group_by(CaseParticipant.person_id).order_by(func.count().desc())
        ).all()
        assert victims[0][1] >= 4, "someone is a victim again and again"
        assert any(agencies >= 2 for _, _, agencies in victims), "across agencies"
        places = session.execute(
            select(CaseParticipant.location_id, func.count())
            .where(CaseParticipant.role == ParticipantRole.INCIDENT_LOCATION)
            .group_by(CaseParticipant.location_id).order_by(func.count().desc())
        ).all()
        assert places[0][1] >= 5, "a hot spot has many incidents"
        perpetrators = session.execute(
            select(CaseParticipant.person_id, func.count())
            .where(CaseParticipant.role.in_([ParticipantRole.PERPETRATOR,
                                             ParticipantRole.ALLEGED_PERPETRATOR]))
            .group_by(CaseParticipant.person_id).order_by(func.count().desc())
        ).all()
        assert perpetrators[0][1] >= 3
        # The same person on two records: same birthday, a name spelt differently.
        people = session.execute(select(Person.given_name, Person.family_name,
                                         Person.date_of_birth)).all()
        by_birthday: dict = {}
        for given, family, born in people:
            by_birthday.setdefault(born, set()).add((given, family))
        assert any(len(names) > 1 and len({f[0] for f in names}) == 1
                   for names in by_birthday.values())
        postcodes = session.scalars(select(Location.postcode)).all()
        assert all(POSTCODE_SHAPE.match(p) and p.startswith("NS") for p in postcodes)


def test_the_rows_agree_with_the_interpreter(partnership, frozen_clock):
    """Rebuilt from its rows, a generated case is a valid interpreter state, and the services
    can carry on with it: submit its next stage, or resume it."""
    rng = random.Random(1)
    forms = shipped_forms()
    worked = resumed = 0
    with unit_of_work(partnership) as session:
        cases = session.scalars(select(Case).where(Case.status != CaseStatus.CLOSED)
                                .order_by(Case.id)).all()
        assert cases
        for case in cases:
            definition = definition_for(session, case)
            state = state_of(case)
            check_invariants(definition, state)
            assert state.variables() == case.workflow_state
        for case in cases:
            if case.status is CaseStatus.PAUSED and not resumed:
                resume_case(session, demo.DEMO_ACTOR, case_id=case.id,
                            expected_version=case.version)
                resumed += 1
                continue
            definition = definition_for(session, case)
            # Stages whose answers cannot end the case or need an agency the partnership
            # lacks (a Case Review can recommend work to "other" agencies).
            stages = [s for s in case.active_stages
                      if not definition.stages[s.stage_key].completes_when_actions_settled
                      and not any(t.closes for t in definition.stages[s.stage_key].transitions)
                      and s.form_key != "cr_review_meeting"]
            if case.status is not CaseStatus.OPEN or not stages or worked >= 25:
                continue
            stage = stages[0]
            form = forms.get(stage.form_key or "")
            answers = sample_answers(form, rng, today=frozen_clock.now().date()) if form else {}
            version = case.version
            record_stage_submission(
                session, demo.DEMO_ACTOR, case_id=case.id, stage_instance_id=stage.id,
                expected_version=version, form_data=answers,
            )
            assert stage.status is StageStatus.COMPLETED
            assert case.version > version
            check_invariants(definition, state_of(case))
            worked += 1
        assert worked >= 10
        assert resumed == 1
        # The services carry on after the import: references and ids do not collide.
        owner = session.scalar(select(Case.owning_agency_id).where(Case.case_type == "asb"))
        new = open_case(session, demo.DEMO_ACTOR, case_type="asb", title="After the demo",
                        owning_agency_id=owner)
        person = create_person(session, demo.DEMO_ACTOR, given_name="New", family_name="Person")
        session.flush()
        assert new.id > max(c.id for c in cases)
        assert person.id == session.scalar(select(func.max(Person.id)))
        year = frozen_clock.now().year
        numbers = session.scalars(select(Case.reference).where(
            Case.reference.like(f"ASB-{year}-%"))).all()
        assert len(numbers) == len(set(numbers))
        assert new.reference == max(numbers)


def test_every_row_keeps_the_rules(partnership, scratch_engine):
    """The database checked every row on the way in; the foreign keys hold too."""
    with unit_of_work(partnership) as session:
        assert not session.scalar(select(func.count()).select_from(Case).where(
            (Case.status == CaseStatus.CLOSED) != Case.closed_at.is_not(None)))
        assert not session.scalar(select(func.count()).select_from(StageInstance).where(
            StageInstance.status == StageStatus.COMPLETED, StageInstance.form_data.is_(None)))
        assert not session.scalar(select(func.count()).select_from(Action).where(
            Action.status == ActionStatus.DECLINED, Action.decline_reason.is_(None)))
        assert not session.scalar(select(func.count()).select_from(Action).where(
            Action.completed_at < Action.created_at))
        # No action finished after its case closed, none left owing on a closed case.
        assert not session.scalar(select(func.count()).select_from(Action).join(Case).where(
            Case.status == CaseStatus.CLOSED,
            Action.status.in_([ActionStatus.OPEN, ActionStatus.ACCEPTED])))
        assert not session.scalar(select(func.count()).select_from(Action).join(Case).where(
            Action.completed_at > Case.closed_at))
        if scratch_engine.dialect.name == "sqlite":
            assert not session.execute(text("PRAGMA foreign_key_check")).all()


def test_no_cases_means_only_the_partnership(scratch_sessions, frozen_clock):
    summary = demo.generate(scratch_sessions, cases=0, seed=1, now=frozen_clock.now())
    assert (summary.agencies, summary.cases) == (len(demo.AGENCIES), 0)
    with unit_of_work(scratch_sessions) as session:
        assert demo.has_data(session)
        assert not session.scalar(select(func.count()).select_from(Person))


def test_interpreter_states_survive_the_round_trip(partnership):
    with unit_of_work(partnership) as session:
        case = session.scalars(select(Case).where(Case.case_type == "marac",
                                                  Case.status == CaseStatus.CLOSED)).first()
        assert case is not None
        state = state_of(case)
        assert state.status == wf.CLOSED
        assert not state.active()


def test_a_row_pointing_nowhere_rolls_its_batch_back(scratch_sessions, frozen_clock):
    """On PostgreSQL the bulk writer switches the per-row foreign-key triggers off and checks
    the batch's keys itself; on SQLite the database checks each row. Either way, no."""
    demo.generate(scratch_sessions, cases=0, seed=1, now=frozen_clock.now())
    with unit_of_work(scratch_sessions) as session:
        dialect = session.get_bind().dialect.name
        last, counters = read_state(session)
        agency = session.scalar(select(func.min(Agency.id)))
    writer = BulkWriter(dialect, last, counters)
    chunk = ChunkRows(first=0, case_shares=[
        table_tails(dialect)["case_shares"]((last["cases"] + 999, agency, frozen_clock.now()))])

    def write() -> None:
        with unit_of_work(scratch_sessions) as session:
            writer.begin_batch(session)
            writer.add_chunk(chunk)
            writer.finish_batch(session)

    with pytest.raises((ForeignKeyViolation, IntegrityError)):
        write()
    with unit_of_work(scratch_sessions) as session:
        assert not session.scalar(select(func.count()).select_from(CaseShare))


def test_caseloads_stay_realistic_as_the_partnership_grows(
    scratch_sessions, frozen_clock, monkeypatch
):
    """Bigger partnerships get more caseworkers (who cannot sign in), and only
    practitioners lead cases: never the auditor or an administrator."""
    monkeypatch.setattr(demo, "CASES_PER_CASEWORKER", 20)
    demo.generate(scratch_sessions, cases=60, seed=4, now=frozen_clock.now(), workers=0)
    with unit_of_work(scratch_sessions) as session:
        caseworkers = session.scalars(
            select(User).where(User.email.like("%@%.demo-staff.casebridge.test"))).all()
        agencies = session.scalar(select(func.count()).select_from(Agency))
        assert len(caseworkers) == 3 * agencies
        assert all(u.password_hash is None for u in caseworkers)
        assert all(u.roles == {Role.PRACTITIONER} for u in caseworkers)
        leads = set(session.scalars(select(Case.lead_officer_id).where(
            Case.lead_officer_id.is_not(None))))
        assert leads & {u.id for u in caseworkers}, "caseworkers carry cases"
        lead_roles = {role for u in session.scalars(select(User).where(User.id.in_(leads)))
                      for role in u.roles}
        assert Role.PRACTITIONER in lead_roles
        assert not session.scalar(select(func.count()).select_from(User).where(
            User.id.in_(leads), User.email.in_(["auditor@demo.casebridge.test",
                                                 "admin@demo.casebridge.test",
                                                 "manager@demo.casebridge.test"])))
        imported = session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "synthetic_caseworkers")).one()
        assert f'"users":{3 * agencies}' in imported.changes
        assert verify_chain(session).intact
        assert len(demo.demo_accounts(session)) == len(demo.ACCOUNTS)


def _index_definitions(session):
    """Each index's table, name, method, columns, uniqueness and whether it is partial
    (PostgreSQL prints a rebuilt partial index's condition in other words)."""
    return sorted(tuple(r) for r in session.execute(text(
        "SELECT t.relname, c.relname, a.amname, i.indkey::text, i.indisunique, "
        "i.indpred IS NOT NULL FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am a ON a.oid = c.relam "
        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()")))


def test_a_first_load_with_indexes_built_at_the_end_gives_the_same_data_and_indexes(
    scratch_engine, scratch_sessions, frozen_clock
):
    if scratch_engine.dialect.name != "postgresql":
        pytest.skip("index deferral is a PostgreSQL bulk load")
    with unit_of_work(scratch_sessions) as session:
        indexes = _index_definitions(session)
    demo.generate(scratch_sessions, cases=45, seed=11, now=frozen_clock.now(), workers=0,
                  batch_size=20)
    row_by_row = _fingerprint(scratch_sessions)
    _reset(scratch_engine)
    built: list[str] = []
    summary = demo.generate(scratch_sessions, cases=45, seed=11, now=frozen_clock.now(),
                            workers=0, batch_size=20, status=built.append, defer_indexes=True)
    assert summary.cases == 45
    assert _fingerprint(scratch_sessions) == row_by_row
    assert any("ix_stage_instances_case_id" in message for message in built)
    migrate.check(scratch_engine)  # the models and the database agree
    with unit_of_work(scratch_sessions) as session:
        assert _index_definitions(session) == indexes
        batches = session.scalars(select(AuditEntry.entity_id).where(
            AuditEntry.entity_type == "synthetic_batch").order_by(AuditEntry.seq)).all()
        assert batches == ["1-20", "21-40", "41-45"]
        assert verify_chain(session).intact


def test_a_load_that_fails_part_way_leaves_no_cases_and_every_index(
    scratch_engine, scratch_sessions, frozen_clock
):
    if scratch_engine.dialect.name != "postgresql":
        pytest.skip("index deferral is a PostgreSQL bulk load")
    with unit_of_work(scratch_sessions) as session:
        indexes = _index_definitions(session)

    def fail_in_the_second_batch(done: int) -> None:
        if done > 20:
            raise RuntimeError("the machine went away")

    with pytest.raises(RuntimeError):
        demo.generate(scratch_sessions, cases=45, seed=11, now=frozen_clock.now(), workers=0,
                      batch_size=20, progress=fail_in_the_second_batch, defer_indexes=True)
    with unit_of_work(scratch_sessions) as session:
        assert not session.scalar(select(func.count()).select_from(Case))
        assert _index_definitions(session) == indexes

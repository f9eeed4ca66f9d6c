"""`casebridge engine dispatch/status/retry` as an operator uses them."""

from __future__ import annotations

from datetime import timedelta

from casebridge import clock
from storage.actors import Actor
from storage.agencies.models import AgencyType
from storage.agencies.services import create_agency
from storage.db import make_session_factory, unit_of_work
from storage.outbox.models import EffectKind, OutboxMessage
from storage.outbox.services import enqueue
from storage.workflows.services import publish_shipped
from tests import factories


def test_status_dispatch_and_retry(run_cli, scratch_engine, smtp_sink, prefect_harness,
                                   monkeypatch, tmp_path):
    monkeypatch.setenv("CASEBRIDGE_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("CASEBRIDGE_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("CASEBRIDGE_MAIL_FROM", "noreply@casebridge.test")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    assert run_cli("db", "upgrade").exit_code == 0
    empty = run_cli("engine", "status").output
    assert empty.strip().endswith("The outbox is empty.")
    # Each scheduled flow, never run yet on this database.
    assert "dispatch_outbox" in empty
    assert "never" in empty

    sessions = make_session_factory(scratch_engine)
    with unit_of_work(sessions) as session:
        publish_shipped(session, Actor.system("tests"))
        housing = create_agency(session, factories.SYSTEM, name="CLI Housing", code="CH",
                                agency_type=AgencyType.HOUSING,
                                contact_email="triage@housing.test")
        case = factories.asb_case(session, housing)
        session.execute(OutboxMessage.__table__.delete())
        factories.assign_action(session, factories.SYSTEM, case_id=case.id, title="Visit",
                                assigned_agency_id=housing.id,
                                due_at=clock.now() + timedelta(days=2))
        broken = enqueue(session, kind=EffectKind.EMAIL, idempotency_key="cli:broken",
                         payload={"template": "no_such_template",
                                  "recipient": {"address": "private.person@home.test"}})
        enqueue(session, kind=EffectKind.CREATE_ACTIONS, idempotency_key="cli:ca", payload={})

    dispatched = run_cli("engine", "dispatch", "--once", "--batch", "10")
    assert dispatched.exit_code == 0, dispatched.output
    assert "Outbox: 2 claimed, 1 done, 1 failed." in dispatched.output
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["triage@housing.test"]]

    status = run_cli("engine", "status").output
    assert "create_actions" in status
    assert "(not supported yet)" in status
    assert f"{broken.id:>8} email" in status
    assert "TemplateMissing: no e-mail template 'no_such_template'" in status
    assert "private.person" not in status

    assert run_cli("engine", "retry").exit_code == 2
    done_id = broken.id - 1
    refused = run_cli("engine", "retry", str(done_id))
    assert refused.exit_code == 1
    assert "it is done" in refused.output
    retried = run_cli("engine", "retry", str(broken.id))
    assert retried.exit_code == 0
    assert "Queued 1 effect(s) again" in retried.output
    assert "pending    email" in run_cli("engine", "status").output
    assert run_cli("engine", "retry", "--all-failed").output.startswith("Queued 0")

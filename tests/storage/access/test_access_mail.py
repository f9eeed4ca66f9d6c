"""The access request e-mails, end to end: queued in the outbox, sent by the real dispatcher
to a real SMTP sink, to the owner's managers and then to the requester, without the
victim's name, the reasons or anything else about the case."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casebridge.settings import load_settings
from storage.accounts.models import Role
from storage.agencies.models import AgencyType
from storage.cases.models import ParticipantRole
from storage.cases.services import add_participant, share_case
from storage.db import unit_of_work
from storage.outbox.dispatch import RetryPolicy
from storage.people.services import create_person
from storage.restricted import services as restricted
from tests import factories
from tests.factories import SYSTEM, actor_for
from workflows.engine.dispatch import Dispatcher, dispatch_once


@pytest.fixture
def mail_settings(smtp_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEBRIDGE_CONFIG", str(tmp_path / "absent.toml"))
    return load_settings(data_dir=tmp_path, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port,
                         smtp_timeout_seconds=5, public_url="https://casebridge.test",
                         mail_from="Casebridge <noreply@casebridge.test>")


def _dispatch(sessions, settings) -> None:
    dispatcher = Dispatcher(sessions, settings, policy=RetryPolicy(
        max_attempts=2, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=5),
        lease=timedelta(minutes=5)))
    dispatch_once(dispatcher, 50)


def test_the_owner_is_told_of_a_request_and_the_requester_of_the_decision(
        scratch_sessions, frozen_clock, smtp_sink, mail_settings):
    with unit_of_work(scratch_sessions) as session:
        police = factories.agency(session, AgencyType.POLICE)
        housing = factories.agency(session, AgencyType.HOUSING)
        manager = factories.user(session, police, Role.MANAGER)
        factories.user(session, police)  # not a manager: not told
        tenancy = factories.user(session, housing)
        case = factories.asb_case(session, police)
        victim = create_person(session, SYSTEM, given_name="Mailtest", family_name="Victimname")
        add_participant(session, SYSTEM, case_id=case.id, role=ParticipantRole.VICTIM,
                        person_id=victim.id)
        share_case(session, SYSTEM, case_id=case.id, agency_id=housing.id)
        restricted.set_case_restricted(session, actor_for(manager), manager, case_id=case.id,
                                       restricted=True, reason="Safety")
        request = restricted.request_access(session, actor_for(tenancy), tenancy,
                                            case_id=case.id, reason="Secret reason text")
        reference, manager_email, tenancy_email = case.reference, manager.email, tenancy.email
        manager_id, request_id = manager.id, request.id
    _dispatch(scratch_sessions, mail_settings)
    [asked] = smtp_sink.messages
    assert asked.rcpt_tos == [manager_email]
    assert asked.message["Subject"] == f"Request to see restricted case {reference}"

    with unit_of_work(scratch_sessions) as session:
        manager = session.get(type(tenancy), manager_id)
        restricted.decide(session, actor_for(manager), manager, request_id=request_id,
                          approve=False, reason="Declined for a secret reason")
    _dispatch(scratch_sessions, mail_settings)
    decided = smtp_sink.messages[-1]
    assert decided.rcpt_tos == [tenancy_email]
    assert decided.message["Subject"] == f"Your request to see case {reference} was declined"
    for mail in (asked, decided):
        for part in (mail.part("plain"), mail.part("html")):
            assert "Victimname" not in part
            assert "Secret reason" not in part
            assert "secret reason" not in part
            assert "anti-social" not in part.lower()

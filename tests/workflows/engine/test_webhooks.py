"""Partner webhooks against a real HTTP server on loopback: signed, ids only, retried on a
5xx, failed on a 4xx for a person to see, and redelivered after a crash with the same
Idempotency-Key so the receiver can drop the repeat."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from casebridge.cli import main
from storage.agencies.models import AgencyType, WebhookEvent
from storage.agencies.services import create_agency
from storage.agencies.webhooks import add_webhook, disable_webhook
from storage.db import unit_of_work
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from tests import factories
from tests.webhook_receiver import WebhookReceiver
from tests.workflows.engine.conftest import POLICY, dispatch_and_crash_before_marking
from workflows.engine.dispatch import dispatch_once


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def webhook_rows(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == EffectKind.WEBHOOK)))


def action_for_housing(sessions, frozen_clock, url: str, *,
                       events=(WebhookEvent.ACTION_ASSIGNED,)):
    """A housing agency with a webhook, given an action on a case: the action's WEBHOOK row
    is queued in the same transaction as the action (the other rows are dropped)."""
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        n = next(factories._counter)
        housing = create_agency(session, factories.SYSTEM, name=f"Hook Housing {n}",
                                code=f"HH{n}", agency_type=AgencyType.HOUSING,
                                contact_email="triage@housing.test")
        webhook = add_webhook(session, factories.SYSTEM, agency_id=housing.id, url=url,
                              events=events)
        case = factories.asb_case(session, owner)
        action = factories.assign_action(
            session, factories.SYSTEM, case_id=case.id, title="Visit Mrs Example at home",
            assigned_agency_id=housing.id, due_at=frozen_clock.now() + timedelta(days=7))
        session.execute(OutboxMessage.__table__.delete().where(
            OutboxMessage.kind != EffectKind.WEBHOOK))
    return case, action, housing, webhook


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """What a receiver computes (the README's recipe)."""
    signed = headers["Casebridge-Timestamp"].encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def test_an_action_for_an_agency_is_posted_signed_with_ids_only(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    case, action, housing, webhook = action_for_housing(engine_sessions, frozen_clock,
                                                        receiver.url)
    [row] = webhook_rows(engine_sessions)
    assert row.idempotency_key == f"webhook:{webhook.id}:action-assigned:{action.id}"
    assert row.payload == {"webhook_id": webhook.id, "event": "action.assigned",
                           "case_id": case.id, "action_id": action.id}
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    [call] = receiver.received
    assert call.path == "/casebridge/hook?site=1"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"].startswith("Casebridge-Webhooks")
    assert call.headers["Idempotency-Key"] == row.idempotency_key
    assert call.headers["Casebridge-Timestamp"] == str(int(frozen_clock.now().timestamp()))
    assert hmac.compare_digest(call.headers["Casebridge-Signature"],
                               expected_signature(webhook.secret, call.headers, call.body))
    assert json.loads(call.body) == {
        "event": "action.assigned", "occurred_at": "2026-03-02T09:00:00Z",
        "agency": housing.code,
        "case": {"reference": case.reference, "type": "asb"},
        "action": {"id": action.id, "due_at": "2026-03-09T09:00:00Z"},
    }
    for private in (b"Mrs Example", b"Test Street", b"triage@"):
        assert private not in call.body
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}
    assert len(receiver.received) == 1


def test_a_forged_or_changed_body_does_not_verify(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    _, _, _, webhook = action_for_housing(engine_sessions, frozen_clock, receiver.url)
    dispatch_once(dispatcher, 10)
    [call] = receiver.received
    changed = call.body.replace(b"action.assigned", b"action.assignee")
    assert call.headers["Casebridge-Signature"] != expected_signature(
        webhook.secret, call.headers, changed)
    assert call.headers["Casebridge-Signature"] != expected_signature(
        "not-the-secret", call.headers, call.body)


def test_a_server_error_is_retried_with_back_off_and_delivered_once(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    action_for_housing(engine_sessions, frozen_clock, receiver.url)
    receiver.answers = [500]
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "retrying": 1}
    [waiting] = webhook_rows(engine_sessions)
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.available_at == frozen_clock.now() + POLICY.base_delay
    assert waiting.last_error.startswith("WebhookUnavailable: webhook ")
    assert "answered HTTP 500 Internal Server Error" in waiting.last_error
    assert dispatch_once(dispatcher, 10) == {"claimed": 0}  # backing off
    frozen_clock.advance(POLICY.base_delay)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    first, second = receiver.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert len(receiver.delivered()) == 1
    [done] = webhook_rows(engine_sessions)
    assert (done.status, done.attempts) == (OutboxStatus.DONE, 2)


@pytest.mark.parametrize("status", [408, 429, 503])
def test_a_busy_or_slow_partner_is_tried_again(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver, status):
    action_for_housing(engine_sessions, frozen_clock, receiver.url)
    receiver.answers = [status]
    assert dispatch_once(dispatcher, 10)["retrying"] == 1


def test_a_partner_that_is_down_is_tried_again(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    url = receiver.url
    receiver.stop()
    action_for_housing(engine_sessions, frozen_clock, url)
    assert dispatch_once(dispatcher, 10)["retrying"] == 1
    [waiting] = webhook_rows(engine_sessions)
    assert waiting.last_error.startswith("ConnectionRefusedError")


def test_a_refusal_fails_at_once_and_engine_status_shows_it(
        dispatcher, engine_sessions, engine_db, engine_settings, smtp_sink, frozen_clock,
        receiver, monkeypatch):
    action_for_housing(engine_sessions, frozen_clock, receiver.url)
    receiver.answers = [400]
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "failed": 1}
    [failed] = webhook_rows(engine_sessions)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 1)
    assert "answered HTTP 400 Bad Request" in failed.last_error
    assert "unknown agency code" in failed.last_error  # a short excerpt of the answer
    assert len(failed.last_error) < 300  # not the whole body
    assert len(receiver.received) == 1

    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL",
                       engine_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CASEBRIDGE_DATA_DIR", str(engine_settings.data_dir))
    status = CliRunner().invoke(main, ["engine", "status"], catch_exceptions=False).output
    assert f"{failed.id:>8} webhook" in status
    assert "answered HTTP 400 Bad Request" in status
    assert "(not supported yet)" not in status


def test_a_crash_after_the_post_redelivers_with_the_same_idempotency_key(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver, monkeypatch):
    action_for_housing(engine_sessions, frozen_clock, receiver.url)
    dispatch_and_crash_before_marking(dispatcher, monkeypatch)
    assert len(receiver.received) == 1
    [stuck] = webhook_rows(engine_sessions)
    assert stuck.status is OutboxStatus.CLAIMED
    frozen_clock.advance(POLICY.lease)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    first, second = receiver.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    assert len(receiver.delivered()) == 1  # the receiver drops the repeat
    [done] = webhook_rows(engine_sessions)
    assert done.status is OutboxStatus.DONE


def test_a_webhook_disabled_before_sending_is_done_with_nothing_sent(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    _, _, _, webhook = action_for_housing(engine_sessions, frozen_clock, receiver.url)
    with unit_of_work(engine_sessions) as session:
        disable_webhook(session, factories.SYSTEM, webhook_id=webhook.id)
    assert dispatch_once(dispatcher, 10) == {"claimed": 1, "done": 1}
    assert receiver.received == []
    [done] = webhook_rows(engine_sessions)
    assert done.status is OutboxStatus.DONE


def test_only_webhooks_that_want_the_event_are_queued(engine_sessions, frozen_clock, receiver):
    action_for_housing(engine_sessions, frozen_clock, receiver.url,
                       events=(WebhookEvent.CASE_REFERRED,))
    assert webhook_rows(engine_sessions) == []


def test_a_referral_calls_every_webhook_of_the_service_with_the_case_only(
        dispatcher, engine_sessions, smtp_sink, frozen_clock, receiver):
    """A stage that refers the victim queues, with the REFERRAL e-mail, a call to each
    webhook of each active agency of that type."""
    with unit_of_work(engine_sessions) as session:
        session.execute(OutboxMessage.__table__.delete())
        n = next(factories._counter)
        service = create_agency(session, factories.SYSTEM, name=f"Hook Support {n}",
                                code=f"HS{n}", agency_type=AgencyType.VICTIM_SERVICE,
                                contact_email="referrals@support.test")
        webhook = add_webhook(session, factories.SYSTEM, agency_id=service.id,
                              url=receiver.url, events=[WebhookEvent.CASE_REFERRED])
        case = factories.asb_case(session, factories.agency(session))
        factories.submit(session, case, {**factories.ASB_REPORT, "hate_motivated": "yes"})
    rows = webhook_rows(engine_sessions)
    assert [r.payload for r in rows] == [{
        "webhook_id": webhook.id, "event": "case.referred", "case_id": case.id,
        "service": "victim_service"}]
    dispatch_once(dispatcher, 50)
    assert [r.status for r in webhook_rows(engine_sessions)] == [OutboxStatus.DONE]
    [call] = receiver.received
    body = json.loads(call.body)
    assert (body["event"], body["case"]["reference"], body["referral"]) == (
        "case.referred", case.reference, {"service": "victim_service"})
    assert b"Loud music" not in call.body

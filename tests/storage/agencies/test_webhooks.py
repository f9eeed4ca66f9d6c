"""Agencies' webhooks: what may be set up, and which changes queue a call to which webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.agencies.models import Agency, AgencyType, AgencyWebhook, WebhookEvent
from storage.agencies.webhooks import (
    add_webhook,
    disable_webhook,
    list_webhooks,
    queue_webhooks,
)
from storage.errors import InvalidRequest, NotFound
from storage.outbox.models import EffectKind, OutboxMessage
from tests import factories
from tests.storage.helpers import audit_entries, rejected_by

SYSTEM = factories.SYSTEM
ALL = [e.value for e in WebhookEvent]


def hook(session, agency, url="https://partner.example/casebridge?token=abc", events=ALL):
    return add_webhook(session, SYSTEM, agency_id=agency.id, url=url, events=events)


def webhook_rows(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == EffectKind.WEBHOOK).order_by(OutboxMessage.id)))


def test_a_webhook_gets_a_long_secret_of_its_own_and_is_audited_without_its_path(session):
    agency = factories.agency(session, AgencyType.HOUSING)
    first, second = hook(session, agency), hook(session, agency)
    assert first.active
    assert first.disabled_at is None
    assert len(first.secret) >= 40
    assert first.secret != second.secret
    assert list_webhooks(session, agency.id) == [first, second]
    session.commit()  # audit entries are sealed at commit
    entry = audit_entries(session, entity_type="agency_webhooks")[0]
    after = json.loads(entry.changes)["after"]
    assert after == {"agency_id": agency.id, "host": "partner.example", "events": ALL}
    assert "token" not in entry.changes
    assert first.secret not in entry.changes


@pytest.mark.parametrize(("url", "message"), [
    ("http://partner.example/hook", "Use https"),
    ("ftp://partner.example/hook", "Enter a web address"),
    ("partner.example/hook", "Enter a web address"),
    ("https://user:pass@partner.example/hook", "Leave the user name and password out"),
    ("https://partner.example:99999/hook", "Enter a web address"),
    ("https://partner.example/hook#part", "without a #fragment"),
])
def test_an_address_that_cannot_be_a_webhook_is_refused_in_plain_words(session, url, message):
    agency = factories.agency(session)
    with pytest.raises(InvalidRequest) as caught:
        hook(session, agency, url=url)
    assert message in caught.value.field_errors["url"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook"])
def test_plain_http_is_allowed_on_this_machine_only(session, url):
    assert hook(session, factories.agency(session), url=url).url == url


@pytest.mark.parametrize("events", [[], ["case.closed"]])
def test_events_must_be_known(session, events):
    with pytest.raises(InvalidRequest) as caught:
        hook(session, factories.agency(session), events=events)
    assert "Choose one or more of: action.assigned, case.referred" in str(caught.value)


def test_no_such_agency_or_webhook(session):
    with pytest.raises(NotFound):
        add_webhook(session, SYSTEM, agency_id=424_242, url="https://x.example/", events=ALL)
    with pytest.raises(NotFound):
        disable_webhook(session, SYSTEM, webhook_id=424_242)


def test_the_database_refuses_a_short_secret_and_a_disabled_webhook_without_a_date(session):
    webhook = hook(session, factories.agency(session))
    with rejected_by(session, "ck_agency_webhooks_secret_long_enough"):
        webhook.secret = "short"
    with rejected_by(session, "ck_agency_webhooks_disabled_at_iff_inactive"):
        session.get(AgencyWebhook, webhook.id).active = False


def test_disabling_is_recorded_once(session, frozen_clock):
    webhook = hook(session, factories.agency(session))
    disable_webhook(session, SYSTEM, webhook_id=webhook.id)
    disable_webhook(session, SYSTEM, webhook_id=webhook.id)
    session.commit()
    assert (webhook.active, webhook.disabled_at) == (False, frozen_clock.now())
    updates = [e for e in audit_entries(session, entity_type="agency_webhooks")
               if e.action.value == "update"]
    assert len(updates) == 1


def test_an_action_queues_one_call_per_active_webhook_that_wants_it(session, frozen_clock):
    owner = factories.agency(session)
    housing = factories.agency(session, AgencyType.HOUSING)
    wanted = hook(session, housing, events=[WebhookEvent.ACTION_ASSIGNED])
    hook(session, housing, events=[WebhookEvent.CASE_REFERRED])  # does not want it
    disable_webhook(session, SYSTEM, webhook_id=hook(session, housing).id)
    hook(session, owner)  # another agency's
    case = factories.asb_case(session, owner)
    action = factories.assign_action(
        session, SYSTEM, case_id=case.id, title="Visit", assigned_agency_id=housing.id,
        due_at=frozen_clock.now() + timedelta(days=3))
    [row] = webhook_rows(session)
    assert row.idempotency_key == f"webhook:{wanted.id}:action-assigned:{action.id}"
    assert row.case_id == case.id
    assert row.payload == {"webhook_id": wanted.id, "event": "action.assigned",
                           "case_id": case.id, "action_id": action.id}


def test_queueing_the_same_event_twice_queues_one_call(session):
    agency = factories.agency(session, AgencyType.VICTIM_SERVICE)
    hook(session, agency)
    case = factories.asb_case(session, factories.agency(session))
    for _ in range(2):
        queue_webhooks(session, WebhookEvent.CASE_REFERRED,
                       agencies=Agency.agency_type == AgencyType.VICTIM_SERVICE,
                       key=f"refer:{case.id}:x", payload={"case_id": case.id}, case_id=case.id)
    assert len(webhook_rows(session)) == 1


def test_an_inactive_agencys_webhooks_are_not_called(session):
    agency = factories.agency(session, AgencyType.VICTIM_SERVICE)
    hook(session, agency)
    agency.active = False
    case = factories.asb_case(session, factories.agency(session))
    assert queue_webhooks(session, WebhookEvent.CASE_REFERRED, agencies=Agency.id == agency.id,
                          key="k", payload={}, case_id=case.id) == 0

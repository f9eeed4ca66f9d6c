"""Agencies' webhooks: set one up, list, disable; and queue a call to every webhook that
wants an event, in the transaction of the change that causes it (the engine POSTs it later).

Like every service these flush and never commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.settings import LOOPBACK_HOSTS
from storage.actors import Actor
from storage.agencies.models import Agency, AgencyWebhook, WebhookEvent
from storage.audit.models import AuditAction
from storage.audit.services import record
from storage.errors import InvalidRequest, NotFound
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue

EVENTS = [event.value for event in WebhookEvent]


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook, in words for whoever typed it (None: it can)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a malformed or out-of-range port raises here)
    except ValueError:
        return "Enter a web address like https://partner.example/casebridge"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Enter a web address like https://partner.example/casebridge"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "Use https: a webhook to another machine must be encrypted"
    if parts.username or parts.password:
        return "Leave the user name and password out of the address: the signature is the proof"
    if parts.fragment or len(url) > 2000:
        return "Enter the address without a #fragment, in under 2,000 characters"
    return None


def add_webhook(
    session: Session, actor: Actor, *, agency_id: int, url: str, events: Iterable[str]
) -> AgencyWebhook:
    """A new active webhook with a new signing secret (on the returned row: show it once)."""
    url, wanted = url.strip(), list(dict.fromkeys(e.strip() for e in events))
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Agency", agency_id)
    errors: dict[str, str] = {}
    if problem := webhook_url_problem(url):
        errors["url"] = problem
    if not wanted or not set(wanted) <= set(EVENTS):
        errors["events"] = "Choose one or more of: " + ", ".join(EVENTS)
    if errors:
        raise InvalidRequest(errors)
    webhook = AgencyWebhook(agency_id=agency.id, url=url, secret=secrets.token_urlsafe(32),
                            events=wanted, active=True, created_by_id=actor.user_id)
    session.add(webhook)
    session.flush()
    # The host only: a partner's address may carry a token of theirs in its path.
    record(session, actor, AuditAction.CREATE, entity=webhook,
           after={"agency_id": agency.id, "host": urlsplit(url).hostname, "events": wanted})
    return webhook


def list_webhooks(session: Session, agency_id: int | None = None) -> list[AgencyWebhook]:
    query = select(AgencyWebhook).order_by(AgencyWebhook.agency_id, AgencyWebhook.id)
    if agency_id is not None:
        query = query.where(AgencyWebhook.agency_id == agency_id)
    return list(session.scalars(query))


def disable_webhook(session: Session, actor: Actor, *, webhook_id: int) -> AgencyWebhook:
    """No more calls, including those queued and not yet sent (they are done unsent)."""
    webhook = session.get(AgencyWebhook, webhook_id)
    if webhook is None:
        raise NotFound("Webhook", webhook_id)
    if webhook.active:
        webhook.active, webhook.disabled_at = False, clock.now()
        session.flush()
        record(session, actor, AuditAction.UPDATE, entity=webhook,
               before={"active": True}, after={"active": False})
    return webhook


def queue_webhooks(
    session: Session, event: WebhookEvent, *, agencies: ColumnElement[bool], key: str,
    payload: dict[str, Any], case_id: int,
) -> int:
    """Queue one WEBHOOK row per active webhook of the active `agencies` (a condition on
    Agency) that wants `event`, each once (key: the event's key and the webhook). The payload
    is ids only; the engine builds the body when it sends. Returns rows queued."""
    webhooks = session.scalars(
        select(AgencyWebhook).join(Agency, Agency.id == AgencyWebhook.agency_id)
        .where(agencies, Agency.active.is_(True), AgencyWebhook.active.is_(True))
        .order_by(AgencyWebhook.id)
    ).all()
    queued = 0
    for webhook in webhooks:
        if event.value in webhook.events:
            enqueue(session, kind=EffectKind.WEBHOOK, idempotency_key=f"webhook:{webhook.id}:{key}",
                    payload={"webhook_id": webhook.id, "event": event.value, **payload},
                    case_id=case_id)
            queued += 1
    return queued

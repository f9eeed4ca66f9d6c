"""WEBHOOK rows: a signed POST to an agency's own system, telling it of work for it.

The body is ids and references only (event, the receiving agency's code, case reference
and type, the action and its due date, or the service referred to): never a name, an
address or a case's free text, which stay behind sign-in. It is built when the row is sent,
from the row's ids, so a webhook disabled (or deleted) in the meantime is not called.

Each call carries:
- `Idempotency-Key`: the outbox row's key. A crash after the POST and before the row is
  marked sends the same call again after the lease; the receiver drops a key it has seen.
- `Casebridge-Timestamp`: Unix seconds when this attempt was signed.
- `Casebridge-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the webhook's secret,
  of the timestamp, a full stop and the body's bytes. A receiver recomputes it, compares in
  constant time, and refuses a timestamp more than a few minutes old (no replays).

The answer decides the row: 2xx done; 408, 429, 5xx, a timeout or no connection retried
with back-off; anything else (a 4xx, a redirect) failed at once with the status for a person
to see. Only a short, printable excerpt of an answer's body is kept.

The standard library's http.client, not an HTTP client package: one POST with a timeout,
TLS verified, redirects not followed, no connection pool to manage.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from casebridge import clock
from casebridge.settings import Settings
from storage.agencies.models import Agency, AgencyWebhook, WebhookEvent
from storage.agencies.webhooks import webhook_url_problem
from storage.cases.models import Action, Case
from storage.outbox.models import OutboxMessage
from workflows.engine.effects import Delivery, Undeliverable, get_row, payload_id

RETRY_STATUSES = frozenset({408, 425, 429})  # and every 5xx
EXCERPT_LENGTH = 120

try:
    USER_AGENT = f"Casebridge-Webhooks/{version('casebridge')}"
except PackageNotFoundError:  # running from a source tree that was never installed
    USER_AGENT = "Casebridge-Webhooks"


class WebhookUnavailable(Exception):
    """The partner's system answered that it cannot take the call now: try again later."""


class WebhookRefused(Undeliverable):
    """The partner's system refused the call: no retry will change that, a person must look."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The Casebridge-Signature value for a body sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"v1={digest}"


@dataclass(frozen=True)
class WebhookCall(Delivery):
    webhook_id: int
    url: str
    secret: str
    body: bytes
    idempotency_key: str
    timeout: float

    def send(self) -> None:
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": self.idempotency_key,
            "Casebridge-Timestamp": timestamp,
            "Casebridge-Signature": signature(self.secret, timestamp, self.body),
        }
        parts = urlsplit(self.url)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout,
                context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                    timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=self.body, headers=headers)
            response = connection.getresponse()
            status, reason, start = response.status, response.reason, response.read(1024)
        finally:
            connection.close()
        if 200 <= status < 300:
            return
        answer = f"webhook {self.webhook_id} answered HTTP {status} {reason}".rstrip()
        if excerpt := _excerpt(start):
            answer += f": {excerpt}"
        if status in RETRY_STATUSES or status >= 500:
            raise WebhookUnavailable(answer)
        raise WebhookRefused(answer)


def compose_webhook(
    session: Session, message: OutboxMessage, settings: Settings
) -> WebhookCall | None:
    """WEBHOOK, queued by storage.agencies.webhooks.queue_webhooks. None (done, nothing
    sent) when the webhook or its agency was disabled or deleted since."""
    payload = message.payload
    webhook = get_row(session, AgencyWebhook, payload_id(payload, "webhook_id"))
    if webhook is None or not webhook.active:
        return None
    agency = get_row(session, Agency, webhook.agency_id)
    if agency is None or not agency.active:
        return None
    if problem := webhook_url_problem(webhook.url):
        raise Undeliverable(f"webhook {webhook.id} has an address that cannot be used: {problem}")
    case = get_row(session, Case, payload_id(payload, "case_id"))
    if case is None:
        raise Undeliverable(f"case {payload.get('case_id')} does not exist")
    body: dict[str, Any] = {
        "event": payload.get("event"),
        "occurred_at": _iso(message.created_at),
        "agency": agency.code,
        "case": {"reference": case.reference, "type": case.case_type},
    }
    if payload.get("event") == WebhookEvent.ACTION_ASSIGNED:
        action = get_row(session, Action, payload_id(payload, "action_id"))
        if action is None:
            raise Undeliverable(f"action {payload.get('action_id')} does not exist")
        body["action"] = {"id": action.id, "due_at": _iso(action.due_at)}
    elif payload.get("event") == WebhookEvent.CASE_REFERRED:
        body["referral"] = {"service": str(payload.get("service") or "")}
    else:
        raise Undeliverable(f"no such webhook event: {payload.get('event')!r}")
    return WebhookCall(
        webhook_id=webhook.id, url=webhook.url, secret=webhook.secret,
        body=json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"),
        idempotency_key=message.idempotency_key,
        timeout=settings.engine_webhook_timeout_seconds,
    )


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _excerpt(start: bytes) -> str:
    """A few printable characters of an answer, enough to say what went wrong."""
    text = " ".join(start.decode("utf-8", "replace").split())
    text = "".join(c for c in text if c.isprintable())
    return text[:EXCERPT_LENGTH] + ("..." if len(text) > EXCERPT_LENGTH else "")

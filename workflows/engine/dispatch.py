"""Running the outbox, as plain functions: claim a batch, carry out each row, mark it.

Each row gets its own short transactions (check the lease and compose; then mark), and no
transaction is open while the relay is talking, so a slow relay never holds database locks.
The Prefect flow in `workflows.engine.flows` only wraps these.

A prepared row is an e-mail (sent over the batch's SMTP connection, then marked on the
held connection) or another `Delivery` (a partner webhook, a letter): its `send` runs with no
transaction open, then its `record` and the done mark commit together in one transaction.

A crash after sending but before marking leaves the row claimed; when the lease expires it
is sent again with the same Message-ID or Idempotency-Key (at least once, recognisably the
same message), and never lost. Logs name row ids and kinds only: payloads may hold an address.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from casebridge.settings import Settings
from storage.db import unit_of_work
from storage.outbox import dispatch as outbox
from storage.outbox.models import EffectKind, OutboxMessage
from workflows.engine.effects import (
    Composer,
    Delivery,
    Undeliverable,
    compose_agency_notice,
    compose_email,
    compose_referral,
)
from workflows.engine.letters import compose_letter
from workflows.engine.mail import MailConfig, Mailer, build_message, is_permanent
from workflows.engine.webhooks import compose_webhook

log = logging.getLogger("casebridge.engine")

# Outcomes of one row, as counted in reports.
DONE, RETRYING, FAILED, SKIPPED, RELEASED = "done", "retrying", "failed", "skipped", "released"

# What carries out each kind of row (the rest stay pending, logged as not supported yet).
COMPOSERS: dict[EffectKind, Composer] = {
    EffectKind.EMAIL: compose_email,
    EffectKind.NOTIFY_AGENCY: compose_agency_notice,
    EffectKind.REFERRAL: compose_referral,
    EffectKind.WEBHOOK: compose_webhook,
    EffectKind.LETTER: compose_letter,
}
SUPPORTED_KINDS = frozenset(COMPOSERS)

# What a row is ready to do once its lease is checked: an e-mail and its envelope
# recipients, another delivery, or nothing (the row is done with nothing to send).
Prepared = tuple[EmailMessage, list[str]] | Delivery | None


@dataclass
class Dispatcher:
    """What running effects needs: the database, the settings and how to retry."""

    sessions: sessionmaker[Session]
    settings: Settings
    policy: outbox.RetryPolicy = None  # type: ignore[assignment]  # None: from settings
    mail: MailConfig | None = None

    def __post_init__(self) -> None:
        if self.policy is None:
            self.policy = retry_policy(self.settings)
        if self.mail is None:
            self.mail = MailConfig.from_settings(self.settings)

    @property
    def send_timeout(self) -> float:
        """The longest one send may take: the relay's or a partner webhook's timeout."""
        assert self.mail is not None
        return max(self.mail.timeout, self.settings.engine_webhook_timeout_seconds)

    @property
    def lease_margin(self) -> timedelta:
        """Do not start a send that could outlast our lease (another worker would take it)."""
        return min(timedelta(seconds=self.send_timeout + 5), self.policy.lease / 2)


def retry_policy(settings: Settings) -> outbox.RetryPolicy:
    """The lease and back-off in the settings: a deployment (or an end-to-end test) can make
    a dead worker's rows come back sooner than the five-minute default."""
    return outbox.RetryPolicy(lease=timedelta(seconds=settings.engine_lease_seconds),
                              base_delay=timedelta(seconds=settings.engine_retry_base_seconds))


def new_worker_name() -> str:
    """Names the claimant in the outbox, so `engine status` can say who holds a row."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(dispatcher: Dispatcher, worker: str, batch_size: int) -> list[outbox.Claimed]:
    """Claim and commit a batch, so other workers see at once that it is taken."""
    with unit_of_work(dispatcher.sessions) as session:
        claimed = outbox.claim_batch(session, worker=worker, kinds=SUPPORTED_KINDS,
                                     limit=batch_size, policy=dispatcher.policy)
        unsupported = outbox.pending_ids_of_kinds(
            session, set(EffectKind) - SUPPORTED_KINDS, limit=20)
    for message_id, kind in unsupported:
        log.warning("outbox row %s (kind %s) left pending: not supported yet", message_id, kind)
    return claimed


# Rows whose lease is checked and whose e-mail is composed in one transaction: a commit per
# row for that was a third of the dispatcher's time. Each row is still marked done in its
# own transaction right after its send, so a crash resends at most the one in flight.
PREPARE_CHUNK = 25


def run_effects(dispatcher: Dispatcher, worker: str, ids: list[int]) -> dict[str, int]:
    """Carry out claimed rows over one SMTP connection; returns counts per outcome.

    Errors of an effect are recorded on its row. Errors of the database while marking are
    not caught: the caller (a Prefect task with retries) sees them, and the lease covers it.
    """
    counts: Counter[str] = Counter()
    assert dispatcher.mail is not None
    # How long a chunk's lease check holds for a send that may take the whole timeout.
    fresh_for = (dispatcher.lease_margin
                 - timedelta(seconds=dispatcher.send_timeout)).total_seconds()
    with Mailer(dispatcher.mail) as mailer, _Marker(dispatcher) as marker:
        for start in range(0, len(ids), PREPARE_CHUNK):
            checked_at = time.monotonic()
            ready = _prepare_chunk(dispatcher, worker, ids[start:start + PREPARE_CHUNK],
                                   counts)
            for message_id, prepared in ready:
                if time.monotonic() - checked_at > fresh_for:
                    counts[run_one(dispatcher, mailer, worker, message_id, marker)] += 1
                else:
                    counts[_deliver(dispatcher, mailer, marker, worker, message_id,
                                    prepared)] += 1
    return dict(counts)


class _Marker:
    """Marks rows done over one connection held for a batch: each mark is its own committed
    transaction (on PostgreSQL a single autocommitted UPDATE), without a session, a pool
    check-out and a ping per row. A connection lost between two marks (the database
    restarted) is replaced once, as the pool's ping on check-out would have done."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        bind = dispatcher.sessions.kw.get("bind")
        self.engine = bind if isinstance(bind, Engine) else None
        self.sessions = dispatcher.sessions
        self.connection: Connection | None = None

    def __enter__(self) -> _Marker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def done(self, message_id: int, worker: str) -> bool:
        if self.engine is None:  # bound to something else (a test's connection): a session
            with unit_of_work(self.sessions) as session:
                return outbox.mark_done(session, message_id, worker)
        for attempt in (1, 2):
            connection = self.connection
            if connection is None:
                connection = self.connection = self.engine.connect()
                if connection.dialect.name == "postgresql":
                    connection.execution_options(isolation_level="AUTOCOMMIT")
            try:
                if connection.dialect.name == "postgresql":
                    return outbox.mark_done(connection, message_id, worker)
                with connection.begin():
                    return outbox.mark_done(connection, message_id, worker)
            except DBAPIError as exc:
                self.close()
                if attempt == 2 or not exc.connection_invalidated:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")


def _prepare_chunk(
    dispatcher: Dispatcher, worker: str, ids: list[int], counts: Counter[str]
) -> list[tuple[int, Prepared]]:
    """Check the leases of `ids` and compose their e-mails (and other deliveries) in one
    transaction (a savepoint per row, so one row's failure is recorded without undoing the
    others)."""
    ready = []
    with unit_of_work(dispatcher.sessions) as session:
        live = outbox.live_leases(session, ids, worker, dispatcher.lease_margin)
        messages = {message.id: message for message in session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(live)))} if live else {}
        for message_id in ids:
            if message_id not in live:
                counts[_let_go(session, message_id, worker)] += 1
                continue
            try:
                with session.begin_nested():
                    prepared = _prepare(session, dispatcher.settings, messages[message_id])
            except Exception as exc:
                counts[_failed(session, dispatcher, worker, message_id, exc)] += 1
                continue
            ready.append((message_id, prepared))
    return ready


def run_one(dispatcher: Dispatcher, mailer: Mailer, worker: str, message_id: int,
            marker: _Marker | None = None) -> str:
    with unit_of_work(dispatcher.sessions) as session:
        if not outbox.lease_is_live(session, message_id, worker, dispatcher.lease_margin):
            return _let_go(session, message_id, worker)
        try:
            message = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
            assert message is not None
            prepared = _prepare(session, dispatcher.settings, message)
        except Exception as exc:
            return _failed(session, dispatcher, worker, message_id, exc)
    if marker is not None:
        return _deliver(dispatcher, mailer, marker, worker, message_id, prepared)
    with _Marker(dispatcher) as marker:
        return _deliver(dispatcher, mailer, marker, worker, message_id, prepared)


def _let_go(session: Session, message_id: int, worker: str) -> str:
    if outbox.release(session, message_id, worker):
        log.info("outbox row %s released: lease nearly out", message_id)
        return RELEASED
    return SKIPPED  # done already (a retried task) or taken over by another worker


def _deliver(dispatcher: Dispatcher, mailer: Mailer, marker: _Marker, worker: str,
             message_id: int, prepared: Prepared) -> str:
    """Send (unless there is nothing to send) and mark the row done at once."""
    if isinstance(prepared, Delivery):
        return _deliver_other(dispatcher, worker, message_id, prepared)
    if prepared is not None:
        email, recipients = prepared
        try:
            refused = mailer.send(email, recipients)
        except Exception as exc:
            with unit_of_work(dispatcher.sessions) as session:
                return _failed(session, dispatcher, worker, message_id, exc)
        if refused:
            log.warning("outbox row %s: relay refused %d of %d recipients", message_id,
                        len(refused), len(recipients))
    if not marker.done(message_id, worker):
        return _taken_over(message_id)
    return DONE


def _deliver_other(dispatcher: Dispatcher, worker: str, message_id: int,
                   delivery: Delivery) -> str:
    """Send with no transaction open, then record what it made and mark the row done in one
    transaction: both or neither, so a retry never records a second copy."""
    try:
        delivery.send()
    except Exception as exc:
        with unit_of_work(dispatcher.sessions) as session:
            return _failed(session, dispatcher, worker, message_id, exc)
    with unit_of_work(dispatcher.sessions) as session:
        delivery.record(session)
        if outbox.mark_done(session, message_id, worker):
            return DONE
        session.rollback()
    return _taken_over(message_id)


def _taken_over(message_id: int) -> str:
    log.warning("outbox row %s was taken over before it was marked done", message_id)
    return SKIPPED


def _prepare(session: Session, settings: Settings, message: OutboxMessage) -> Prepared:
    outgoing = COMPOSERS[message.kind](session, message, settings)
    if outgoing is None or isinstance(outgoing, Delivery):
        return outgoing
    email = build_message(template=outgoing.template, context=outgoing.context,
                          recipients=outgoing.recipients,
                          idempotency_key=message.idempotency_key, sender=settings.mail_from)
    return email, outgoing.recipients


def _failed(
    session: Session, dispatcher: Dispatcher, worker: str, message_id: int, exc: Exception
) -> str:
    permanent = isinstance(exc, Undeliverable) or is_permanent(exc)
    status = outbox.mark_attempt_failed(session, message_id, worker, exc, permanent=permanent,
                                        policy=dispatcher.policy)
    log.warning("outbox row %s attempt failed (%s): %s", message_id,
                status.value if status else "no longer ours", outbox.safe_error(exc))
    if status is None:
        return SKIPPED
    return FAILED if status.value == "failed" else RETRYING


def dispatch_once(dispatcher: Dispatcher, batch_size: int, worker: str | None = None) -> dict[
        str, int]:
    """Claim one batch and run it: the whole engine without Prefect."""
    worker = worker or new_worker_name()
    claimed = claim(dispatcher, worker, batch_size)
    counts = Counter({"claimed": len(claimed)})
    counts.update(run_effects(dispatcher, worker, [c.id for c in claimed]))
    return dict(counts)

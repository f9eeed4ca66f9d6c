"""Queueing side effects in the caller's transaction (the dispatcher runs them after commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casebridge import clock
from storage.bulk import insert_rows
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus


def enqueue(
    session: Session,
    *,
    kind: EffectKind,
    idempotency_key: str,
    payload: dict[str, Any],
    case_id: int | None = None,
    available_at: datetime | None = None,
) -> OutboxMessage:
    """Queue an effect once. Asking again with the same key returns the first row, so a
    retried request or a second sweep never queues a second e-mail."""
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        kind=kind,
        payload=payload,
        case_id=case_id,
        available_at=available_at or clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # Another transaction queued the same key between our look and our insert.
        winner = _by_key(session, idempotency_key)
        if winner is None:
            raise
        return winner
    return message


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


def enqueue_many(session: Session, kind: EffectKind, rows: list[dict[str, Any]]) -> int:
    """Queue many effects of one kind in one statement, each once: `enqueue` for a sweep
    that queues thousands (INSERT ... ON CONFLICT DO NOTHING on the idempotency key, so a
    row queued before, by us or a concurrent sweep, is left as it is). Each row gives
    idempotency_key, payload and optionally case_id and available_at. Returns rows added."""
    if not rows:
        return 0
    now = clock.now()
    values = [
        {"idempotency_key": row["idempotency_key"], "kind": kind, "payload": row["payload"],
         "case_id": row.get("case_id"), "available_at": row.get("available_at") or now,
         "status": OutboxStatus.PENDING, "attempts": 0, "created_at": now}
        for row in rows
    ]
    return len(insert_rows(session, OutboxMessage.__table__, values,
                           skip_conflicts_on="idempotency_key", returning=("id",)))

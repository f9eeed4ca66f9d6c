"""Queueing side effects in the caller's transaction (the dispatcher runs them after commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casebridge import clock
from storage.outbox.models import EffectKind, OutboxMessage


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

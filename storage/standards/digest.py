"""Daily digests: one e-mail a day per recipient who is on a ladder's `digest` list, listing
the escalations recorded for them since their last digest, instead of one e-mail each.

Each recipient's digest of a day is one outbox row under the key digest:<user>:<day>, so it
is queued (and sent) exactly once whatever runs it; the items it takes are marked with the
day in the same transaction. Items recorded after a recipient's digest of the day was queued
wait for the next day's. Flushes, never commits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.outbox.models import EffectKind, OutboxMessage
from storage.outbox.services import enqueue_many
from storage.standards.escalate import digest_day, in_force
from storage.standards.models import DigestItem

TEMPLATE = "escalation_digest"


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def queue_digests(session: Session, now: datetime, timezone: str) -> dict[str, int]:
    """Queue today's digest of every recipient with pending items, once the digest hour (the
    standards' `digest_at`, partnership time) has passed. Returns counts."""
    found = in_force(session)
    if found is None:
        return {}
    day = digest_day(now, found[1], timezone)
    if day is None:
        return {}
    users = list(session.scalars(select(DigestItem.user_id).where(
        DigestItem.digest_on.is_(None)).distinct().order_by(DigestItem.user_id)))
    if not users:
        return {}
    keys = {digest_key(u, day): u for u in users}
    done = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_(list(keys)))))
    fresh = [u for key, u in keys.items() if key not in done]
    enqueue_many(session, EffectKind.EMAIL, [
        {"idempotency_key": digest_key(u, day),
         "payload": {"template": TEMPLATE, "digest_user_id": u, "digest_on": day.isoformat()}}
        for u in fresh])
    if fresh:
        session.execute(update(DigestItem).where(DigestItem.user_id.in_(fresh),
                                                 DigestItem.digest_on.is_(None))
                        .values(digest_on=day))
    session.flush()
    return {"digests": len(fresh)} if fresh else {}

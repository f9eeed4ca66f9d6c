"""The dispatcher's side of the outbox: claim due rows under a lease, then mark each one.

A claim is one UPDATE (on PostgreSQL over `SELECT ... FOR UPDATE SKIP LOCKED`, so several
workers never take the same row and never wait for each other; on SQLite, which has one
writer at a time, the same guarded UPDATE). A worker that dies leaves its rows claimed; once
the lease expires any worker takes them again, so a row is never lost. Every mark is guarded
by the claimant's name, so a worker whose lease ran out cannot overwrite the next one's work.

`attempts` counts claims, not failures: a row that crashes its worker every time still
runs out of attempts instead of looping for ever.

Like every service these flush and never commit: the dispatcher commits each step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from casebridge import clock
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus

_EMAIL_ADDRESS = re.compile(r"<?[^\s<>()\"',;:]+@[^\s<>()\"',;:]+>?")
MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: base, twice that, four times ... capped; failed after max_attempts."""

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=2)
    lease: timedelta = timedelta(minutes=5)

    def delay_after(self, attempts: int) -> timedelta:
        return min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: EffectKind


def _due(now: datetime) -> object:
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.available_at <= now),
        and_(OutboxMessage.status == OutboxStatus.CLAIMED,
             OutboxMessage.lease_expires_at <= now),
    )


def claim_batch(
    session: Session, *, worker: str, kinds: Iterable[EffectKind], limit: int,
    policy: RetryPolicy = RetryPolicy(),
) -> list[Claimed]:
    """Take up to `limit` due rows of these kinds (pending and due, or claimed with an
    expired lease), oldest first, and lease them to `worker`."""
    now = clock.now()
    kinds = list(kinds)
    _give_up_on_lost_last_attempts(session, now, kinds, policy)
    candidates = (
        select(OutboxMessage.id)
        .where(OutboxMessage.kind.in_(kinds), _due(now))
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A MATERIALIZED CTE runs once: PostgreSQL may re-run an IN (... LIMIT ... FOR UPDATE)
        # subquery during the UPDATE and then take more rows than the limit.
        due = candidates.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        chosen = OutboxMessage.id == due.c.id
    else:
        # SQLite has one writer at a time: the UPDATE is the lock, the guard below the check.
        chosen = OutboxMessage.id.in_(candidates.scalar_subquery())
    rows = session.execute(
        update(OutboxMessage)
        # The guard is repeated outside the subquery: the row must still be due when written.
        .where(chosen, _due(now))
        .values(status=OutboxStatus.CLAIMED, claimed_by=worker,
                lease_expires_at=now + policy.lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.kind)
        .execution_options(synchronize_session=False)
    ).all()
    _forget(session, [row.id for row in rows])
    return sorted((Claimed(row.id, EffectKind(row.kind)) for row in rows), key=lambda c: c.id)


def _give_up_on_lost_last_attempts(
    session: Session, now: datetime, kinds: list[EffectKind], policy: RetryPolicy
) -> None:
    """A lease that expired on the last attempt: the worker died with it, so stop here
    rather than claim a row that has no attempts left."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind.in_(kinds), OutboxMessage.status == OutboxStatus.CLAIMED,
               OutboxMessage.lease_expires_at <= now,
               OutboxMessage.attempts >= policy.max_attempts)
        .values(status=OutboxStatus.FAILED, lease_expires_at=None,
                last_error=func.coalesce(OutboxMessage.last_error + " / ", "")
                + "worker lost its lease on the last attempt")
        .execution_options(synchronize_session=False)
    )


def lease_is_live(session: Session, message_id: int, worker: str, margin: timedelta) -> bool:
    """Still ours, with at least `margin` left: otherwise another worker may take it
    while we send, and it would go out twice."""
    expires = session.scalar(
        select(OutboxMessage.lease_expires_at).where(
            OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.CLAIMED,
            OutboxMessage.claimed_by == worker,
        )
    )
    return expires is not None and expires - margin > clock.now()


def live_leases(
    session: Session, message_ids: list[int], worker: str, margin: timedelta
) -> set[int]:
    """Of `message_ids`, those still ours with at least `margin` left (lease_is_live for a
    chunk of rows in one query)."""
    if not message_ids:
        return set()
    deadline = clock.now() + margin
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.lease_expires_at).where(
            OutboxMessage.id.in_(message_ids), OutboxMessage.status == OutboxStatus.CLAIMED,
            OutboxMessage.claimed_by == worker,
        )
    )
    return {row.id for row in rows
            if row.lease_expires_at is not None and row.lease_expires_at > deadline}


def _mine(message_id: int, worker: str) -> list[object]:
    return [OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.CLAIMED,
            OutboxMessage.claimed_by == worker]


_outbox = OutboxMessage.__table__
# Built once: marking a row done is the dispatcher's most frequent statement (one per e-mail,
# each in its own transaction), so it is a plain Core UPDATE, compiled once and cached.
_MARK_DONE = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("outbox_id"),
           _outbox.c.status == OutboxStatus.CLAIMED,
           _outbox.c.claimed_by == bindparam("worker"))
    .values(status=OutboxStatus.DONE,
            completed_at=bindparam("completed_at", type_=_outbox.c.completed_at.type),
            lease_expires_at=None, last_error=None)
)


def mark_done(db: Session | Connection, message_id: int, worker: str) -> bool:
    """Done. False if the row is no longer ours (our lease ran out and it was taken).

    One UPDATE, on a session or straight on a connection (the dispatcher keeps one open for
    a batch and commits each mark on its own)."""
    result = db.execute(_MARK_DONE, {"outbox_id": message_id, "worker": worker,
                                     "completed_at": clock.now()})
    if isinstance(db, Session):
        _forget(db, [message_id])
    return result.rowcount == 1


def mark_attempt_failed(
    session: Session, message_id: int, worker: str, error: BaseException | str, *,
    permanent: bool = False, policy: RetryPolicy = RetryPolicy(),
) -> OutboxStatus | None:
    """Back to pending after a delay that doubles each attempt, or failed (with the error)
    after the last attempt or an error no retry can fix. None if the row is no longer ours."""
    attempts = session.scalar(select(OutboxMessage.attempts).where(*_mine(message_id, worker)))
    if attempts is None:
        return None
    text = safe_error(error)
    if permanent or attempts >= policy.max_attempts:
        values: dict[str, object] = {"status": OutboxStatus.FAILED}
    else:
        values = {"status": OutboxStatus.PENDING,
                  "available_at": clock.now() + policy.delay_after(attempts)}
    session.execute(
        update(OutboxMessage).where(*_mine(message_id, worker))
        .values(lease_expires_at=None, last_error=text, **values)
        .execution_options(synchronize_session=False)
    )
    _forget(session, [message_id])
    return values["status"]  # type: ignore[return-value]


def release(session: Session, message_id: int, worker: str) -> bool:
    """Hand a claimed row back untried (e.g. our lease is nearly out): due at once, and the
    claim does not count as an attempt."""
    result = session.execute(
        update(OutboxMessage).where(*_mine(message_id, worker))
        .values(status=OutboxStatus.PENDING, lease_expires_at=None,
                attempts=OutboxMessage.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    _forget(session, [message_id])
    return result.rowcount == 1


def retry(session: Session, *, message_id: int | None = None, all_failed: bool = False) -> int:
    """A person asks again: failed (or backing-off) rows become due now with a fresh set
    of attempts. Done and claimed rows are left alone. Returns how many changed."""
    condition = (OutboxMessage.status == OutboxStatus.FAILED if all_failed
                 else and_(OutboxMessage.id == message_id,
                           OutboxMessage.status.in_([OutboxStatus.FAILED,
                                                     OutboxStatus.PENDING])))
    result = session.execute(
        update(OutboxMessage).where(condition)
        .values(status=OutboxStatus.PENDING, available_at=clock.now(), attempts=0)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return result.rowcount


@dataclass(frozen=True)
class Backlog:
    counts: dict[tuple[str, str], int]  # (status, kind) -> rows
    due_now: int
    expired_leases: int
    oldest_due: datetime | None
    failed: list[tuple[int, str, int, str]]  # id, kind, attempts, last error


def backlog(session: Session, *, failed_limit: int = 50) -> Backlog:
    """What the engine owes: rows per status and kind, and the failed ones with errors
    (ids, kinds and errors only: no payloads, which may name a recipient)."""
    now = clock.now()
    counts = {
        (str(status), str(kind)): n
        for status, kind, n in session.execute(
            select(OutboxMessage.status, OutboxMessage.kind, func.count())
            .group_by(OutboxMessage.status, OutboxMessage.kind)
        )
    }
    due_now = session.scalar(select(func.count()).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.available_at <= now)) or 0
    expired = session.scalar(select(func.count()).where(
        OutboxMessage.status == OutboxStatus.CLAIMED,
        OutboxMessage.lease_expires_at <= now)) or 0
    oldest = session.scalar(select(func.min(OutboxMessage.available_at)).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.available_at <= now))
    failed = [
        (row.id, str(row.kind), row.attempts, row.last_error or "")
        for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.attempts,
                   OutboxMessage.last_error)
            .where(OutboxMessage.status == OutboxStatus.FAILED)
            .order_by(OutboxMessage.id).limit(failed_limit)
        )
    ]
    return Backlog(counts, due_now, expired, oldest, failed)


def pending_ids_of_kinds(session: Session, kinds: Iterable[EffectKind], limit: int) -> list[
        tuple[int, str]]:
    """Due rows of kinds nobody can run yet, to say so in the log (ids and kinds only)."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.kind)
        .where(OutboxMessage.kind.in_(list(kinds)), OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.available_at <= clock.now())
        .order_by(OutboxMessage.id).limit(limit)
    )
    return [(row.id, str(row.kind)) for row in rows]


def safe_error(error: BaseException | str) -> str:
    """The error for last_error and the logs, with any e-mail address blanked out (relays
    quote the refused recipient) and cut to a sane length."""
    if isinstance(error, BaseException):
        detail = str(error) or repr(error)
        text = f"{type(error).__name__}: {detail}"
    else:
        text = error
    text = _EMAIL_ADDRESS.sub("<address>", text)
    return text[:MAX_ERROR_LENGTH]


def _forget(session: Session, ids: list[int]) -> None:
    """Bulk UPDATEs bypass the identity map: drop stale copies of these rows."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, OutboxMessage) and obj.id in ids:
            session.expire(obj)

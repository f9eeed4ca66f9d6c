"""Claiming, leases, back-off and marks: the outbox rules the dispatcher relies on."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from storage.outbox.dispatch import (
    RetryPolicy,
    backlog,
    claim_batch,
    lease_is_live,
    mark_attempt_failed,
    mark_done,
    release,
    retry,
    safe_error,
)
from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
from storage.outbox.services import enqueue

POLICY = RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=10),
                     max_delay=timedelta(seconds=25), lease=timedelta(minutes=5))
KINDS = [EffectKind.EMAIL, EffectKind.NOTIFY_AGENCY]
_keys = itertools.count(1)


def queue(session, n: int, kind: EffectKind = EffectKind.EMAIL, **kwargs) -> list[int]:
    ids = [enqueue(session, kind=kind, idempotency_key=f"t:{next(_keys)}",
                   payload={"template": "x"}, **kwargs).id for _ in range(n)]
    session.flush()
    return ids


def row(session, message_id: int) -> OutboxMessage:
    session.expire_all()
    return session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))


def claim(session, worker="w1", limit=10, kinds=KINDS):
    return [c.id for c in claim_batch(session, worker=worker, kinds=kinds, limit=limit,
                                      policy=POLICY)]


def test_claim_takes_due_rows_oldest_first_and_leases_them(session, frozen_clock):
    later = queue(session, 1, available_at=frozen_clock.now() + timedelta(minutes=1))
    first = queue(session, 3)
    assert claim(session, limit=2) == first[:2]
    claimed = row(session, first[0])
    assert claimed.status is OutboxStatus.CLAIMED
    assert claimed.claimed_by == "w1"
    assert claimed.lease_expires_at == frozen_clock.now() + POLICY.lease
    assert claimed.attempts == 1
    assert claim(session) == [first[2]]  # claimed rows are not taken again
    assert claim(session) == []  # the later row is not due yet
    frozen_clock.advance(timedelta(minutes=1))
    assert claim(session) == later


def test_claim_only_takes_the_kinds_asked_for(session, frozen_clock):
    queue(session, 2, kind=EffectKind.WEBHOOK)
    emails = queue(session, 1)
    assert claim(session) == emails
    assert {r.status for r in session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == EffectKind.WEBHOOK))} == {OutboxStatus.PENDING}


def test_an_expired_lease_is_reclaimed_by_another_worker(session, frozen_clock):
    [message_id] = queue(session, 1)
    assert claim(session, worker="crashed") == [message_id]
    frozen_clock.advance(POLICY.lease - timedelta(seconds=1))
    assert claim(session, worker="w2") == []
    frozen_clock.advance(timedelta(seconds=1))
    assert claim(session, worker="w2") == [message_id]
    again = row(session, message_id)
    assert (again.claimed_by, again.attempts) == ("w2", 2)
    # The crashed worker's late mark is refused: the row is no longer its own.
    assert not mark_done(session, message_id, "crashed")
    assert mark_done(session, message_id, "w2")
    assert row(session, message_id).status is OutboxStatus.DONE


def test_a_lost_lease_on_the_last_attempt_fails_the_row(session, frozen_clock):
    [message_id] = queue(session, 1)
    for attempt in range(POLICY.max_attempts):
        assert claim(session, worker=f"w{attempt}") == [message_id]
        frozen_clock.advance(POLICY.lease)
    assert claim(session) == []
    failed = row(session, message_id)
    assert failed.status is OutboxStatus.FAILED
    assert "lost its lease" in failed.last_error


def test_done_sets_completion_and_clears_the_lease(session, frozen_clock):
    [message_id] = queue(session, 1)
    claim(session)
    assert mark_done(session, message_id, "w1")
    done = row(session, message_id)
    assert done.completed_at == frozen_clock.now()
    assert done.lease_expires_at is None
    assert not mark_done(session, message_id, "w1")  # twice: no longer claimed


def test_failures_back_off_exponentially_then_fail_with_the_error(session, frozen_clock):
    [message_id] = queue(session, 1)
    delays = []
    for _ in range(POLICY.max_attempts - 1):
        assert claim(session) == [message_id]
        status = mark_attempt_failed(session, message_id, "w1", ConnectionRefusedError(111),
                                     policy=POLICY)
        assert status is OutboxStatus.PENDING
        waiting = row(session, message_id)
        delays.append(waiting.available_at - frozen_clock.now())
        assert claim(session) == []  # not due during the back-off
        frozen_clock.set(waiting.available_at)
    assert delays == [timedelta(seconds=10), timedelta(seconds=20)]
    assert POLICY.delay_after(3) == timedelta(seconds=25)  # capped
    assert claim(session) == [message_id]
    assert mark_attempt_failed(session, message_id, "w1", "relay said no",
                               policy=POLICY) is OutboxStatus.FAILED
    failed = row(session, message_id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        OutboxStatus.FAILED, 3, "relay said no")
    assert claim(session) == []


def test_a_permanent_error_fails_at_once(session, frozen_clock):
    [message_id] = queue(session, 1)
    claim(session)
    assert mark_attempt_failed(session, message_id, "w1", "no such template", permanent=True,
                               policy=POLICY) is OutboxStatus.FAILED
    assert row(session, message_id).attempts == 1


def test_release_hands_a_row_back_untried(session, frozen_clock):
    [message_id] = queue(session, 1)
    claim(session)
    assert lease_is_live(session, message_id, "w1", timedelta(minutes=1))
    frozen_clock.advance(POLICY.lease - timedelta(seconds=30))
    assert not lease_is_live(session, message_id, "w1", timedelta(minutes=1))
    assert not lease_is_live(session, message_id, "w2", timedelta(0))
    assert release(session, message_id, "w1")
    back = row(session, message_id)
    assert (back.status, back.attempts, back.lease_expires_at) == (OutboxStatus.PENDING, 0, None)


def test_retry_makes_failed_rows_due_with_fresh_attempts(session, frozen_clock):
    a, b, c = queue(session, 3)
    claim(session)
    for message_id in (a, b):
        mark_attempt_failed(session, message_id, "w1", "boom", permanent=True, policy=POLICY)
    mark_done(session, c, "w1")
    assert retry(session, message_id=c) == 0  # done stays done
    assert retry(session, message_id=a) == 1
    assert (row(session, a).status, row(session, a).attempts) == (OutboxStatus.PENDING, 0)
    assert retry(session, all_failed=True) == 1
    assert claim(session) == [a, b]


def test_backlog_counts_by_status_and_kind_and_lists_failures(session, frozen_clock):
    emails = queue(session, 3)
    queue(session, 1, kind=EffectKind.LETTER)
    claim(session, limit=2)
    mark_attempt_failed(session, emails[0], "w1", "550 <someone@example.org> unknown",
                        permanent=True, policy=POLICY)
    report = backlog(session)
    assert report.counts == {("failed", "email"): 1, ("claimed", "email"): 1,
                             ("pending", "email"): 1, ("pending", "letter"): 1}
    assert report.due_now == 2
    assert report.failed == [(emails[0], "email", 1, "550 <address> unknown")]


def test_errors_lose_addresses_and_length():
    error = OSError("recipient alex.smith+x@mail.example.org refused")
    assert safe_error(error) == "OSError: recipient <address> refused"
    assert len(safe_error("x" * 5000)) == 1000


# --- PostgreSQL: several workers at once ----------------------------------------------------


def needs_postgresql(engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL has SKIP LOCKED; SQLite has one writer at a time")


def test_a_second_claimer_skips_rows_another_holds(scratch_sessions, migrated_scratch):
    """A claims and keeps its transaction open; B claims at the same time: B neither waits
    nor takes A's rows."""
    needs_postgresql(migrated_scratch)
    with scratch_sessions() as setup:
        queue(setup, 6)
        setup.commit()
    with scratch_sessions() as a, scratch_sessions() as b:
        b.execute(text("SET lock_timeout = '2s'"))  # waiting would be an error, not a hang
        a_ids = claim(a, worker="a", limit=4)
        b_ids = claim(b, worker="b", limit=4)
        assert len(a_ids) == 4
        assert len(b_ids) == 2
        assert not set(a_ids) & set(b_ids)
        a.commit()
        b.commit()


def test_concurrent_claimers_never_take_the_same_row(scratch_sessions, migrated_scratch):
    needs_postgresql(migrated_scratch)
    with scratch_sessions() as setup:
        queued = queue(setup, 200)
        setup.commit()
    taken: dict[str, list[int]] = {}
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while True:
                with scratch_sessions() as s:
                    ids = claim(s, worker=name, limit=7)
                    s.commit()
                if not ids:
                    break
                mine += ids
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        taken[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    everything = [i for ids in taken.values() for i in ids]
    assert sorted(everything) == sorted(queued)  # each row once, none lost
    assert sum(1 for ids in taken.values() if ids) >= 2  # really shared out

"""End to end, scaled out: a real Prefect server on PostgreSQL (once per session), two real
`casebridge worker` processes serving the flows as deployments, a real SMTP server, and our
database on PostgreSQL. 500 e-mails each time; every one must arrive, once.

Delivery is at least once with a deterministic Message-ID, so "exactly once" as a recipient
sees it is: one distinct Message-ID per effect, none missing. In the normal run and with the
relay down nothing is sent twice either; a worker killed mid-batch may resend the one
message it was sending when it died (same Message-ID).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from email.utils import parseaddr

import httpx
import pytest
from sqlalchemy import func, select

from storage import migrate
from storage.actors import Actor
from storage.db import make_session_factory, unit_of_work
from storage.engine.models import EngineRun
from storage.outbox.models import OutboxMessage, OutboxStatus
from storage.workflows.services import publish_shipped
from tests.conftest import empty_database
from tests.deploy.conftest import (
    BIN,
    SENDER,
    Process,
    parent_of,
    queue_emails,
    wait_for,
    worker_env,
)
from tests.smtp_sink import SmtpSink, _Handler
from workflows.engine.mail import message_id_for

pytestmark = pytest.mark.e2e

EFFECTS = 500
LEASE_SECONDS = 20


class _SlowHandler(_Handler):
    """A relay that takes a little time per message, so a batch is still going when a test
    kills its worker."""

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.sink.delay)
        return await super().handle_DATA(server, session, envelope)


class SlowSink(SmtpSink):
    delay = 0.0

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self._controller is None:
            self._controller = Controller(_SlowHandler(self), hostname=self.host, port=self.port)
            self._controller.start()


@pytest.fixture(scope="module")
def sink():
    sink = SlowSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def casebridge_db(postgres_admin_url, tmp_path_factory):
    with empty_database(postgres_admin_url, tmp_path_factory.mktemp("cb")) as engine:
        migrate.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            publish_shipped(session, Actor.system("tests"))
        yield engine


class Workers:
    def __init__(self, env: dict[str, str], directory) -> None:
        self.env, self.directory, self.started = env, directory, 0
        self.processes: list[Process] = []

    def start(self) -> Process:
        self.started += 1
        env = {**self.env, "PREFECT_HOME": str(self.directory / f"home{self.started}")}
        process = Process([str(BIN / "casebridge"), "worker", "--limit", "2"], env,
                          self.directory / f"worker{self.started}.log")
        self.processes.append(process)
        return process

    def owner_of(self, pid: int) -> Process | None:
        """The worker whose flow-run subprocess pid is."""
        live = {p.pid: p for p in self.processes if p.popen.poll() is None}
        while pid and pid not in live:
            pid = parent_of(pid) or 0
        return live.get(pid)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate(timeout=20)


@pytest.fixture(scope="module")
def workers(prefect_server, casebridge_db, sink, tmp_path_factory):
    directory = tmp_path_factory.mktemp("workers")
    env = worker_env(casebridge_db, directory, sink, prefect_server, LEASE_SECONDS)
    pool = Workers(env, directory)
    try:
        pool.start()
        pool.start()
        sessions = make_session_factory(casebridge_db)
        wait_for("a scheduled dispatch run on the workers", lambda: _finished_runs(sessions),
                 timeout=150, every=1)
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def sessions(casebridge_db, sink):
    sink.clear()
    sink.delay = 0.0
    sink.start()
    return make_session_factory(casebridge_db)


def _finished_runs(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(
            EngineRun.flow == "dispatch_outbox", EngineRun.finished_at.is_not(None),
            EngineRun.mode == "external")) or 0


def _statuses(sessions, keys: list[str]) -> Counter[str]:
    with sessions() as session:
        rows = session.execute(select(OutboxMessage.status, func.count())
                               .where(OutboxMessage.idempotency_key.in_(keys))
                               .group_by(OutboxMessage.status))
        return Counter({str(status): n for status, n in rows})


def _all_done(sessions, keys: list[str]) -> bool:
    counts = _statuses(sessions, keys)
    assert counts["failed"] == 0, f"effects failed: {counts}"
    return counts["done"] == len(keys)


def _deliveries(sink: SmtpSink, keys: list[str]) -> tuple[set[str], Counter[str]]:
    """The Message-IDs expected for these effects, and how often each arrived."""
    expected = {message_id_for(key, parseaddr(SENDER)[1]) for key in keys}
    arrived = Counter(m.message_id for m in sink.messages if m.message_id in expected)
    return expected, arrived


def test_the_workers_deploy_each_flow_on_its_schedule(workers, prefect_server):
    """What the Prefect server holds: the sweep and the reviews on cron in the partnership's
    time zone, the dispatch every few seconds (cron cannot go under a minute)."""
    found = httpx.post(f"{prefect_server}/deployments/filter", json={}, timeout=10)
    found.raise_for_status()
    schedules = {}
    for deployment in found.json():
        flow = httpx.get(f"{prefect_server}/flows/{deployment['flow_id']}", timeout=10).json()
        schedules[flow["name"]] = [entry["schedule"] for entry in deployment["schedules"]]
    assert schedules["sweep_deadlines"] == [
        {"cron": "*/5 * * * *", "timezone": "Europe/London", "day_or": True}]
    assert schedules["scheduled_reviews"] == [
        {"cron": "7 * * * *", "timezone": "Europe/London", "day_or": True}]
    [dispatch] = schedules["dispatch_outbox"]
    assert dispatch["interval"] == 4.0


def test_500_emails_through_two_workers_arrive_exactly_once(workers, sessions, sink):
    keys = queue_emails(sessions, EFFECTS, "e2e-normal")
    started = time.monotonic()
    wait_for("every effect done", lambda: _all_done(sessions, keys), timeout=120, every=0.5)
    expected, arrived = _deliveries(sink, keys)
    assert set(arrived) == expected  # none missing
    duplicates = sum(arrived.values()) - len(arrived)
    assert duplicates == 0, f"{duplicates} duplicate deliveries in a normal run"
    print(f"500 e-mails delivered in {time.monotonic() - started:.1f} s")


def test_relay_down_for_a_while_then_everything_arrives_once(workers, sessions, sink):
    sink.stop()
    keys = queue_emails(sessions, EFFECTS, "e2e-relay-down")

    def failing_attempts() -> bool:
        with sessions() as session:
            return (session.scalar(select(func.count()).where(
                OutboxMessage.idempotency_key.in_(keys), OutboxMessage.last_error.is_not(None),
                OutboxMessage.status == OutboxStatus.PENDING)) or 0) >= 50

    wait_for("attempts failing against the stopped relay", failing_attempts, timeout=90)
    time.sleep(5)
    assert not sink.messages
    sink.start()
    wait_for("every effect done", lambda: _all_done(sessions, keys), timeout=150, every=0.5)
    expected, arrived = _deliveries(sink, keys)
    assert set(arrived) == expected
    assert sum(arrived.values()) == len(expected)  # nothing reached the sink while down


def test_a_worker_killed_mid_batch_loses_nothing(workers, sessions, sink):
    sink.delay = 0.03  # 50 per batch: about 1.5 s a batch, so there is a batch to interrupt
    keys = queue_emails(sessions, EFFECTS, "e2e-kill")

    def claimant() -> str | None:
        with sessions() as session:
            return session.scalar(select(OutboxMessage.claimed_by).where(
                OutboxMessage.idempotency_key.in_(keys),
                OutboxMessage.status == OutboxStatus.CLAIMED).limit(1))

    holder = wait_for("a claimed batch", claimant, timeout=90, every=0.05)
    victim = workers.owner_of(int(holder.split(":")[1]))
    assert victim is not None, f"no live worker runs {holder}"
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its flow-run process, at once
    victim.popen.wait(10)
    with sessions() as session:
        stranded = session.scalar(select(func.count()).where(
            OutboxMessage.idempotency_key.in_(keys), OutboxMessage.claimed_by == holder,
            OutboxMessage.status == OutboxStatus.CLAIMED)) or 0
    assert stranded > 0, "the kill came after the batch finished"
    workers.start()  # back to two, as a supervisor would do
    wait_for("every effect done, after the lease ran out", lambda: _all_done(sessions, keys),
             timeout=LEASE_SECONDS + 150, every=0.5)
    expected, arrived = _deliveries(sink, keys)
    assert set(arrived) == expected
    # At most the message in flight when the worker died arrives twice (same Message-ID).
    assert sum(arrived.values()) - len(arrived) <= 1

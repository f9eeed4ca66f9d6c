"""Fault test: PostgreSQL restarts under the scaled-out engine, and nothing is lost.

Casebridge's database lives on a PostgreSQL cluster of this module's own (never the
machine's shared one, which other runs use); the Prefect server is the session's. Two real
`casebridge worker` processes dispatch 300 e-mails to a real SMTP server, and mid-run the
cluster is stopped, either cleanly (`pg_ctl stop -m fast`: what `systemctl restart
postgresql` does, clients are cut off) or as a crash (`-m immediate`: no checkpoint, crash
recovery at the next start), kept down a few seconds and started again. The workers are
not restarted: they must ride it out (each flow run is a process of its own; a run that hits
the outage fails its task, Prefect retries it, and the next scheduled run starts clean).

After recovery: every effect is done (none pending, claimed or failed), every Message-ID
reached the sink, both workers are still running, and while the database was down at most
the e-mails already in flight went out.

Duplicates, the bound asserted: at most one per dispatching process at the moment the
database went away, so at most WORKERS x LIMIT = 2 x 2 = 4, and no Message-ID more than
twice. Why: a dispatcher sends a row, then marks it done in a transaction of its own right
away, so only the e-mail between those two steps can have been sent and still be "claimed";
nothing more goes out (the next step is a database call, which fails). That row is sent
again, with the same Message-ID (a mail client shows it once), by the task's retry or, once
its lease runs out, by another run. A worker runs at most LIMIT flow runs at a time and a run
has one send task at a time here (only e-mails are queued), hence the bound.
"""

from __future__ import annotations

import time
from collections import Counter
from email.utils import parseaddr

import pytest
from sqlalchemy import func, select, text

from storage import migrate
from storage.actors import Actor
from storage.db import make_engine, make_session_factory, unit_of_work
from storage.engine.models import EngineRun
from storage.outbox.models import OutboxMessage
from storage.workflows.services import publish_shipped
from tests.deploy.conftest import SENDER, queue_emails, wait_for, worker_env
from tests.deploy.private_postgres import PrivateCluster, find_bindir
from tests.deploy.test_scale_out import SlowSink, Workers
from workflows.engine.mail import message_id_for

pytestmark = pytest.mark.e2e

EFFECTS = 300
WORKERS = 2
LIMIT = 2  # flow runs at once per worker: `Workers.start` runs `casebridge worker --limit 2`
LEASE_SECONDS = 15
DOWN_SECONDS = 5


@pytest.fixture(scope="module")
def cluster(postgres_admin_url):
    """Needs PostgreSQL's server programs (initdb, pg_ctl) on this machine; skips on SQLite
    like every test here (through postgres_admin_url)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("initdb and pg_ctl not found (PATH or /usr/lib/postgresql/N/bin): this "
                    "test starts and restarts a PostgreSQL cluster of its own")
    cluster = PrivateCluster(bindir)
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def casebridge_db(cluster):
    admin = make_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE casebridge"))
    admin.dispose()
    engine = make_engine(cluster.url("casebridge"))
    try:
        migrate.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            publish_shipped(session, Actor.system("tests"))
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sink():
    sink = SlowSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def workers(prefect_server, casebridge_db, sink, tmp_path_factory):
    directory = tmp_path_factory.mktemp("restart-workers")
    env = worker_env(casebridge_db, directory, sink, prefect_server, LEASE_SECONDS)
    pool = Workers(env, directory)
    try:
        for _ in range(WORKERS):
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
    return make_session_factory(casebridge_db)


def _finished_runs(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(
            EngineRun.flow == "dispatch_outbox", EngineRun.finished_at.is_not(None))) or 0


def _statuses(sessions, keys: list[str]) -> Counter[str]:
    with sessions() as session:
        rows = session.execute(select(OutboxMessage.status, func.count())
                               .where(OutboxMessage.idempotency_key.in_(keys))
                               .group_by(OutboxMessage.status))
        return Counter({str(status): n for status, n in rows})


def _report(cluster, workers) -> str:
    """What to read when it fails: the server's log and the workers' last lines."""
    parts = [f"--- postgres.log\n{cluster.log_tail()}"]
    for process in workers.processes:
        tail = "\n".join(process.output().splitlines()[-25:])
        parts.append(f"--- {process.log.name} (exit {process.popen.poll()})\n{tail}")
    return "\n".join(parts)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restart_mid_run_loses_nothing_and_resends_at_most_the_in_flight(
        mode, cluster, workers, sessions, sink):
    sink.delay = 0.03  # about 30 e-mails a second per run: the restart lands mid-batch
    keys = queue_emails(sessions, EFFECTS, f"e2e-db-{mode}")
    queued = time.monotonic()
    expected = {message_id_for(key, parseaddr(SENDER)[1]) for key in keys}

    def under_way() -> Counter[str] | None:
        counts = _statuses(sessions, keys)
        return counts if counts["done"] >= 50 and counts["claimed"] > 0 else None

    at_stop = wait_for("dispatch under way", under_way, timeout=90, every=0.1)
    stopped_after = time.monotonic() - queued
    cluster.stop(mode)
    arrived_at_stop = len(sink.messages)
    time.sleep(DOWN_SECONDS)
    sent_while_down = len(sink.messages) - arrived_at_stop
    cluster.start()
    restarted = time.monotonic()

    def drained() -> bool:
        counts = _statuses(sessions, keys)
        assert counts["failed"] == 0, f"effects failed: {counts}"
        return counts["done"] == EFFECTS

    try:
        wait_for("every effect done after the restart", drained, timeout=LEASE_SECONDS + 75,
                 every=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_statuses(sessions, keys)}\n"
                             f"{_report(cluster, workers)}") from None
    drained_after = time.monotonic() - restarted

    assert _statuses(sessions, keys) == Counter({"done": EFFECTS})  # none pending/claimed/failed
    dead = [p.log.name for p in workers.processes if p.popen.poll() is not None]
    assert not dead, f"workers died with the database: {dead}\n{_report(cluster, workers)}"
    assert sent_while_down <= WORKERS * LIMIT, (
        f"{sent_while_down} e-mails went out while the database was down")

    arrived = Counter(m.message_id for m in sink.messages if m.message_id in expected)
    assert set(arrived) == expected, f"{len(expected - set(arrived))} e-mails lost"
    duplicates = sum(arrived.values()) - len(arrived)
    assert duplicates <= WORKERS * LIMIT, f"{duplicates} duplicates: {arrived.most_common(6)}"
    assert max(arrived.values()) <= 2, arrived.most_common(3)
    print(f"pg_ctl stop -m {mode} {stopped_after:.1f} s after queueing, with "
          f"{at_stop['done']} of {EFFECTS} done: drained "
          f"{drained_after:.1f} s after the restart; {sent_while_down} sent while down, "
          f"{duplicates} resent")

"""The embedded engine in real `casebridge serve` processes: the web answers before Prefect
is up, only one process on the database runs the schedule, the other takes over when it
stops, and SIGTERM leaves no process behind. Runs on the suite's database kind."""

from __future__ import annotations

import time

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
    clean_env,
    descendants,
    pid_alive,
    queue_emails,
    wait_for,
)
from tests.smtp_sink import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def served_database(database_url, tmp_path):
    with empty_database(database_url, tmp_path) as engine:
        migrate.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            publish_shipped(session, Actor.system("tests"))
        yield engine


def test_one_serve_runs_the_engine_the_other_stands_by_and_takes_over(
        served_database, smtp_sink, tmp_path):
    sessions = make_session_factory(served_database)
    env = clean_env(
        CASEBRIDGE_DATABASE_URL=served_database.url.render_as_string(hide_password=False),
        CASEBRIDGE_DATA_DIR=str(tmp_path / "data"),
        CASEBRIDGE_SMTP_HOST=smtp_sink.host, CASEBRIDGE_SMTP_PORT=str(smtp_sink.port),
        CASEBRIDGE_MAIL_FROM=SENDER, CASEBRIDGE_ENGINE_DISPATCH_INTERVAL_SECONDS="2")
    ports = [free_port(), free_port()]

    def runs() -> list[EngineRun]:
        with sessions() as session:
            return list(session.scalars(select(EngineRun).order_by(EngineRun.id)))

    first = Process([str(BIN / "casebridge"), "serve", "--port", str(ports[0])], env,
                    tmp_path / "first.log")
    second = None
    try:
        # The web answers at once: before Prefect's temporary server is up (no flow run
        # has been recorded yet), which takes several seconds.
        def healthy() -> bool:
            assert first.popen.poll() is None, first.output()
            try:
                return httpx.get(f"http://127.0.0.1:{ports[0]}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        started = time.monotonic()
        wait_for("/healthz", healthy, timeout=30, every=0.05)
        answered_after = time.monotonic() - started
        assert runs() == [], f"a flow ran before the web answered ({answered_after:.1f} s)"

        second = Process([str(BIN / "casebridge"), "serve", "--port", str(ports[1])], env,
                         tmp_path / "second.log")
        keys = queue_emails(sessions, 3, "embedded")
        wait_for("the embedded engine to send the e-mails", lambda: _done(sessions) == 3,
                 timeout=120)
        wait_for("three recorded dispatch runs", lambda: len(
            [r for r in runs() if r.flow == "dispatch_outbox" and r.finished_at]) >= 3,
            timeout=60)
        assert httpx.get(f"http://127.0.0.1:{ports[1]}/healthz", timeout=5).is_success
        assert {r.runner.rsplit(":", 1)[1] for r in runs()} == {str(first.pid)}
        assert {r.mode for r in runs()} == {"embedded"}
        assert "this one stands by" in second.output()
        assert len({m.message_id for m in smtp_sink.messages}) == len(keys)

        # The first stops cleanly (SIGTERM, as systemd does) with its Prefect server ...
        children = descendants(first.pid)
        assert children, "the engine's Prefect server should be a child of serve"
        first.popen.terminate()
        assert first.popen.wait(90) == 0, first.output()
        wait_for("serve's children to exit", lambda: not any(map(pid_alive, children)),
                 timeout=15)
        # ... and the second takes the schedule over.
        wait_for("the standby to take over", lambda: any(
            r.runner.endswith(f":{second.pid}") and r.finished_at for r in runs()),
            timeout=120)
        children = descendants(second.pid)
        second.popen.terminate()
        assert second.popen.wait(90) == 0, second.output()
        wait_for("serve's children to exit", lambda: not any(map(pid_alive, children)),
                 timeout=15)
    finally:
        for process in (first, second):
            if process is not None:
                process.terminate(timeout=10)


def _done(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(
            OutboxMessage.status == OutboxStatus.DONE)) or 0


def test_a_temporary_server_left_by_a_killed_serve_is_stopped_by_the_next(
        served_database, smtp_sink, tmp_path):
    """SIGKILL (or the OOM killer) gives serve no chance to stop Prefect's temporary server;
    the next serve on the same data_dir stops it instead of leaving it running for ever."""
    sessions = make_session_factory(served_database)
    env = clean_env(
        CASEBRIDGE_DATABASE_URL=served_database.url.render_as_string(hide_password=False),
        CASEBRIDGE_DATA_DIR=str(tmp_path / "data"),
        CASEBRIDGE_SMTP_HOST=smtp_sink.host, CASEBRIDGE_SMTP_PORT=str(smtp_sink.port),
        CASEBRIDGE_MAIL_FROM=SENDER, CASEBRIDGE_ENGINE_DISPATCH_INTERVAL_SECONDS="2")

    def runs_by(process: Process) -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).where(
                EngineRun.runner.endswith(f":{process.pid}"),
                EngineRun.finished_at.is_not(None))) or 0

    killed = Process([str(BIN / "casebridge"), "serve", "--port", str(free_port())], env,
                     tmp_path / "killed.log")
    second = None
    try:
        noted = tmp_path / "data" / "prefect-temporary-servers"
        wait_for("a flow run by the first serve", lambda: runs_by(killed) > 0, timeout=180)
        servers = descendants(killed.pid)
        assert servers, "the engine's Prefect server should be a child of serve"
        wait_for("the server noted in data_dir", lambda: noted.exists() and any(
            line.split()[0] == str(pid) for pid in servers
            for line in noted.read_text().splitlines()), timeout=30)
        killed.popen.kill()
        killed.popen.wait(30)
        time.sleep(2)
        assert any(map(pid_alive, servers)), "Prefect's server outlives a SIGKILLed serve"

        second = Process([str(BIN / "casebridge"), "serve", "--port", str(free_port())], env,
                         tmp_path / "second.log")
        wait_for("the orphaned temporary server to be stopped",
                 lambda: not any(map(pid_alive, servers)), timeout=120)
        assert "left behind by a process that was killed" in second.output()
        wait_for("a flow run by the second serve", lambda: runs_by(second) > 0, timeout=180)
    finally:
        for process in (killed, second):
            if process is not None:
                process.terminate(timeout=10)

"""Real processes: `casebridge serve`, `casebridge worker`, `prefect server start`.

Every process is started in a session of its own and stopped by process group, so a test
that fails half-way still leaves nothing running. The Prefect server (on PostgreSQL) is
started once per test session: it takes tens of seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, unit_of_work
from storage.outbox.models import EffectKind
from storage.outbox.services import enqueue
from tests import factories
from tests.smtp_sink import free_port

BIN = Path(sys.executable).parent
SENDER = "Casebridge <noreply@casebridge.test>"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(pid: int) -> set[int]:
    """Every live process below pid (children, grandchildren ...)."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and parent_of(int(entry.name)) in frontier:
                children.add(int(entry.name))
        children -= found
        found |= children
        frontier = children
    return found


class Process:
    """A child in a process group of its own, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.log = args, log
        self._log_handle = log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - our own executables
            args, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM to the process (as systemd does), then the group; SIGKILL if stuck."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.kill_group(signal.SIGKILL)
        self._log_handle.close()
        return self.popen.returncode

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        if sig == signal.SIGKILL:
            self.popen.wait(10)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Casebridge or Prefect settings of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CASEBRIDGE_", "PREFECT_"))}
    env.update(CASEBRIDGE_CONFIG="/nonexistent/casebridge.toml",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def wait_for(what: str, check, timeout: float, every: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def queue_emails(sessions: sessionmaker[Session], count: int, prefix: str) -> list[str]:
    """`count` e-mail effects to one user, committed; returns their idempotency keys."""
    keys = [f"{prefix}:{uuid.uuid4().hex[:8]}:{n}" for n in range(count)]
    with unit_of_work(sessions) as session:
        owner = factories.agency(session)
        user = factories.user(session, owner)
        case = factories.asb_case(session, owner)
        for key in keys:
            enqueue(session, kind=EffectKind.EMAIL, idempotency_key=key,
                    payload={"template": "stage_assigned", "case_id": case.id,
                             "stage": "report", "sequence": 1,
                             "recipient": {"user_id": user.id}}, case_id=case.id)
    return keys


@pytest.fixture(scope="session")
def postgres_admin_url(database_url: str) -> str:
    """The tests here need PostgreSQL (Prefect's server runs on it); they run in the
    PostgreSQL pass of CI."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: CASEBRIDGE_TEST_DATABASE_URL=postgresql://...")
    return database_url


@pytest.fixture(scope="session")
def prefect_server(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    """A real `prefect server start` on loopback, its database a scratch PostgreSQL one;
    yields its API URL. Started once per session."""
    url = make_url(postgres_admin_url)
    name = f"cb_prefect_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    database = url.set(drivername="postgresql+asyncpg", database=name)
    env = clean_env(
        PREFECT_HOME=str(home),
        PREFECT_API_DATABASE_CONNECTION_URL=database.render_as_string(hide_password=False),
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5",
        PREFECT_LOGGING_LEVEL="WARNING")
    server = Process([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                      "--port", str(port)], env, home / "server.log")
    api = f"http://127.0.0.1:{port}/api"
    try:
        def healthy() -> bool:
            assert server.popen.poll() is None, f"prefect server exited:\n{server.output()}"
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the Prefect server", healthy, timeout=180, every=0.5)
        yield api
    finally:
        server.terminate(timeout=30)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def worker_env(database: Any, directory: Path, sink: Any, prefect_server: str,
               lease_seconds: int) -> dict[str, str]:
    """What a `casebridge worker` in the end-to-end tests runs with: the external engine on
    our database and the test relay, short intervals, leases and back-off, and the real
    Prefect server."""
    return clean_env(
        CASEBRIDGE_DATABASE_URL=database.url.render_as_string(hide_password=False),
        CASEBRIDGE_DATA_DIR=str(directory / "data"), CASEBRIDGE_ENGINE_MODE="external",
        CASEBRIDGE_SMTP_HOST=sink.host, CASEBRIDGE_SMTP_PORT=str(sink.port),
        CASEBRIDGE_SMTP_TIMEOUT_SECONDS="5", CASEBRIDGE_MAIL_FROM=SENDER,
        CASEBRIDGE_ENGINE_DISPATCH_INTERVAL_SECONDS="4", CASEBRIDGE_ENGINE_BATCH_SIZE="50",
        CASEBRIDGE_ENGINE_LEASE_SECONDS=str(lease_seconds),
        CASEBRIDGE_ENGINE_RETRY_BASE_SECONDS="1",
        PREFECT_API_URL=prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_LOGGING_LEVEL="WARNING")

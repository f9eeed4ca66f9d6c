"""The embedded engine: `casebridge serve` runs the scheduled flows itself, in Prefect's
local mode, on an APScheduler BackgroundScheduler.

Started in a background thread, because Prefect's first start (its temporary server) takes
seconds and the web app must answer at once. Only the process that holds the engine lock
(`guard.EngineLock`) runs the schedule; the others wait on standby and take over if that
process stops or dies. Stopping waits for a flow run in progress, then releases the lock;
Prefect's temporary server is a child process that Prefect stops at interpreter exit; a
process killed outright (SIGKILL, the OOM killer) cannot stop it, so each server is noted in
data_dir and the next engine to start stops any whose owner is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from casebridge.runtime import Runtime
from casebridge.settings import Settings
from workflows.engine.guard import EngineLock

log = logging.getLogger("casebridge.engine")

LOCK_RETRY_SECONDS = 15.0
LOCK_CHECK_SECONDS = 10.0


def prepare_local_prefect(settings: Settings) -> None:
    """Prefect's local mode keeps its own small database: beside ours in data_dir, not in
    the user's home, unless PREFECT_HOME or a Prefect server (PREFECT_API_URL) is set.
    Usage reports stay off: a partnership's server calls no one. Must run before prefect
    is imported, which reads its settings then."""
    if "PREFECT_HOME" not in os.environ and "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_HOME"] = str(settings.data_dir / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A busy two-core machine can take longer than Prefect's default 20 s to start it.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


# How Prefect's temporary server shows in a process list (`python -m uvicorn ... --factory
# prefect.server.api.server:create_app`).
TEMPORARY_SERVER_MARK = b"prefect.server.api.server:create_app"


class TemporaryServers:
    """Prefect's temporary servers started by engines on this data_dir, as "server owner"
    pid pairs in a small file. Linux only (/proc); elsewhere it does nothing."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "prefect-temporary-servers"

    def note_children(self) -> bool:
        """Record the temporary servers this process has started; False if none yet."""
        owner = os.getpid()
        found = [pid for pid in _pids() if _parent(pid) == owner and _is_temporary_server(pid)]
        if found:
            known = self._read()
            known.update(dict.fromkeys(found, owner))
            self._write(known)
        return bool(found)

    def stop_orphans(self) -> list[int]:
        """SIGTERM every noted server whose owner is gone; returns their pids."""
        known, stopped = self._read(), []
        for server, owner in list(known.items()):
            if _alive(owner) and _parent(server) == owner:
                continue
            if _alive(server) and _is_temporary_server(server):
                try:
                    os.kill(server, signal.SIGTERM)
                    stopped.append(server)
                except OSError:
                    pass
            del known[server]
        self._write(known)
        for pid in stopped:
            log.warning("engine: stopped Prefect's temporary server (pid %s) left behind by "
                        "a process that was killed", pid)
        return stopped

    def _read(self) -> dict[int, int]:
        try:
            lines = self.path.read_text().split("\n")
        except OSError:
            return {}
        pairs = (line.split() for line in lines)
        return {int(p[0]): int(p[1]) for p in pairs if len(p) == 2 and all(
            x.isdigit() for x in p)}

    def _write(self, known: dict[int, int]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("".join(f"{s} {o}\n" for s, o in sorted(known.items())))
        except OSError as exc:  # a read-only data_dir must not stop the engine
            log.warning("engine: could not note Prefect's temporary server: %s", exc)


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _is_temporary_server(pid: int) -> bool:
    try:
        return TEMPORARY_SERVER_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class EmbeddedEngine:
    def __init__(self, runtime: Runtime, *, lock_retry: float = LOCK_RETRY_SECONDS) -> None:
        self.runtime = runtime
        self.lock = EngineLock(runtime.engine, runtime.settings.data_dir)
        self.temporary_servers = TemporaryServers(runtime.settings.data_dir)
        self._servers_noted = False
        self.lock_retry = lock_retry
        self.state = "new"  # standby, running, stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        prepare_local_prefect(self.runtime.settings)
        self._thread = threading.Thread(target=self._main, name="casebridge-engine",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Let a flow run in progress finish (its rows are leased: if we are killed instead,
        another process takes them when the lease runs out), then free the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.lock.release()
        self.state = "stopped"

    def _main(self) -> None:
        announced = False
        while not self._stop.is_set():
            try:
                if self.lock.try_acquire():
                    self._run_schedule()
                    continue
            except Exception:
                log.exception("engine: the schedule stopped with an error; trying again")
            if not announced:
                log.info("engine: another process runs the schedule; this one stands by")
                announced = True
            self.state = "standby"
            self._stop.wait(self.lock_retry)

    def _run_schedule(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        from workflows.engine.dispatch import Dispatcher
        from workflows.engine.flows import use_dispatcher
        from workflows.engine.schedule import runnable_flows

        settings = self.runtime.settings
        flows = runnable_flows(settings, "embedded")
        scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        with use_dispatcher(Dispatcher(self.runtime.sessions, settings)):
            # The first run, alone, starts Prefect's temporary server: flows started together
            # on a cold process would each start one of their own.
            if flows:
                self.temporary_servers.stop_orphans()
                self._run_flow(flows[0])
            if self._stop.is_set():
                return
            now = datetime.now(UTC)
            for n, runnable in enumerate(flows):
                trigger = runnable.timing.apscheduler_trigger()
                # The first flow has just run; the others start soon, a second apart, so a
                # fresh server catches up on the deadlines it missed while it was down.
                first = (trigger.get_next_fire_time(None, now) if n == 0
                         else now + timedelta(seconds=n))
                scheduler.add_job(self._run_flow, trigger, args=[runnable],
                                  id=runnable.entry.name, name=runnable.entry.name,
                                  next_run_time=first)
            scheduler.start()
            self.state = "running"
            log.info("engine: running %s in this process (pid %s)",
                     ", ".join(f"{r.entry.name} ({r.timing})" for r in flows), os.getpid())
            try:
                while not self._stop.wait(LOCK_CHECK_SECONDS):
                    if not self.lock.still_held():
                        log.warning("engine: lost the engine lock (database restarted?)")
                        break
            finally:
                scheduler.shutdown(wait=True)
        self.lock.release()

    def _run_flow(self, runnable: object) -> None:
        from workflows.engine.schedule import Runnable

        assert isinstance(runnable, Runnable)
        try:
            runnable.flow(**runnable.parameters)
        except Exception as exc:
            # The run's failure is recorded (engine_runs, Prefect); the schedule goes on.
            log.warning("engine: %s failed: %s", runnable.entry.name, type(exc).__name__)
        finally:
            if not self._servers_noted:  # Prefect started its server with the first run
                self._servers_noted = self.temporary_servers.note_children()

"""Outbox dispatch throughput: 10,000 queued e-mails sent to a local SMTP sink (aiosmtpd on
loopback) by the `dispatch_outbox` Prefect flow in local mode, against the naive design
measured in the same run: one flow run per e-mail (the same flow with a batch of one), on a
sample, scaled. Targets: at least 100 e-mails/s, and at least 50 times the naive rate.

Set-up: a fresh PostgreSQL database (bench.database), migrated, one agency, user and case,
and the e-mails inserted in bulk as outbox rows. Prefect's temporary server is started by a
warm-up run before anything is timed (its start-up is not part of either figure). Each
e-mail must arrive once: the sink counts distinct Message-IDs.

The sink runs in a process of its own, as a real relay does: inside the benchmark's process
its event loop competed with the dispatcher for the interpreter lock, and the figure
measured the sink as much as the dispatcher.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from multiprocessing.connection import Connection

from bench.database import scratch_database
from bench.harness import Result, progress

TARGET_RATE = 100.0
TARGET_RATIO = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dispatch-emails", type=int, default=10_000,
                        help="queued e-mails sent by the batched flow (default 10,000)")
    parser.add_argument("--dispatch-naive", type=int, default=40,
                        help="e-mails sent one flow run each, the baseline (default 40)")
    parser.add_argument("--dispatch-batch", type=int, default=200,
                        help="outbox rows claimed at a time (default 200)")


def _serve_sink(port: int, control: Connection) -> None:
    """The sink's process: an SMTP server (aiosmtpd) that only counts what arrives, by
    Message-ID, and answers the benchmark's questions over a pipe."""
    from aiosmtpd.controller import Controller

    ids: list[str] = []
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:
            for line in envelope.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    with lock:
                        ids.append(line.split(b":", 1)[1].strip().decode())
                    break
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        control.send("ready")
        while (request := control.recv()) != "stop":
            with lock:
                control.send((len(ids), len(set(ids))) if request == "counts" else None)
    finally:
        controller.stop()


class _Sink:
    """The SMTP sink, in a process of its own (see the module's docstring)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        # spawn, not fork: nothing of this process (threads, connections) goes with it.
        context = multiprocessing.get_context("spawn")
        self.control, child_end = context.Pipe()
        self.process = context.Process(target=_serve_sink, args=(self.port, child_end),
                                       name="bench-smtp-sink", daemon=True)

    def __enter__(self) -> _Sink:
        self.process.start()
        if not self.control.poll(60) or self.control.recv() != "ready":
            self.process.kill()
            raise RuntimeError("the SMTP sink did not start")
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            self.control.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def distinct(self) -> int:
        """How many different Message-IDs have arrived."""
        self.control.send("counts")
        return self.control.recv()[1]


def run(options: argparse.Namespace) -> list[Result]:
    emails = int(getattr(options, "dispatch_emails", 10_000))
    naive = int(getattr(options, "dispatch_naive", 40))
    batch = int(getattr(options, "dispatch_batch", 200))
    with tempfile.TemporaryDirectory(prefix="cb-bench-prefect-") as home, \
            scratch_database("dispatch") as url, _Sink() as sink:
        # Local mode, with Prefect's own database in a temporary directory (before import).
        os.environ["PREFECT_HOME"] = home
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        return _run(url, sink, emails, naive, batch)


def _run(url: str, sink: _Sink, emails: int, naive: int, batch: int) -> list[Result]:
    from casebridge.settings import load_settings
    from storage import migrate
    from storage.db import make_engine, make_session_factory
    from workflows.engine.dispatch import Dispatcher
    from workflows.engine.flows import dispatch_outbox, use_dispatcher

    engine = make_engine(url)
    try:
        progress("migrating")
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        settings = load_settings(
            database_url=url, smtp_host="127.0.0.1", smtp_port=sink.port,
            mail_from="Casebridge <noreply@casebridge.bench>",
            public_url="https://casebridge.bench")
        with use_dispatcher(Dispatcher(sessions, settings)):
            progress("warm-up run (starts Prefect's temporary server)")
            dispatch_outbox(batch_size=1, max_batches=1)

            progress(f"queueing {emails:,} e-mails; dispatch_outbox, batches of {batch}")
            _queue(sessions, emails, "batched")
            started = time.perf_counter()
            sent = 0
            while sent < emails:
                counts = dispatch_outbox(batch_size=batch, max_batches=10_000)
                if not counts.get("done"):
                    break
                sent += counts["done"]
            batched_seconds = time.perf_counter() - started
            distinct = sink.distinct()
            if sent != emails or distinct != emails:
                raise RuntimeError(f"sent {sent}, {distinct} distinct arrived, of {emails}")

            progress(f"naive baseline: {naive} e-mails, one flow run each")
            _queue(sessions, naive, "naive")
            started = time.perf_counter()
            for _ in range(naive):
                dispatch_outbox(batch_size=1, max_batches=1)
            naive_seconds = time.perf_counter() - started
            if sink.distinct() != emails + naive:
                raise RuntimeError("the naive run did not deliver every e-mail once")
    finally:
        engine.dispose()
    rate, naive_rate = emails / batched_seconds, naive / naive_seconds
    return [Result(
        f"dispatch_outbox, {emails:,} e-mails to a local SMTP sink", rate, "e-mails/s",
        f"one flow run per e-mail ({naive} sampled)", naive_rate,
        target=f">= {TARGET_RATE:g}/s and >= {TARGET_RATIO:g}x",
        passed=rate >= TARGET_RATE and rate / naive_rate >= TARGET_RATIO)]


def _queue(sessions, count: int, label: str) -> None:
    """One agency, user and case, and `count` e-mail rows to that user, inserted in bulk."""
    from sqlalchemy import insert

    from casebridge import clock
    from storage.accounts.models import Role
    from storage.accounts.services import create_user
    from storage.actors import Actor
    from storage.agencies.services import create_agency
    from storage.cases.workflow import open_case
    from storage.db import unit_of_work
    from storage.outbox.models import EffectKind, OutboxMessage, OutboxStatus
    from storage.workflows.services import publish_shipped

    system = Actor.system("bench")
    with unit_of_work(sessions) as session:
        publish_shipped(session, system)
        agency = create_agency(session, system, name=f"Bench Agency {label}",
                               code=f"B{label[:4].upper()}", agency_type="police")
        user = create_user(session, system, agency_id=agency.id,
                           email=f"bench-{label}@agency.bench", display_name="Bench User",
                           roles=(Role.PRACTITIONER,), password=None)
        case = open_case(session, system, case_type="asb", title="Benchmark case",
                         owning_agency_id=agency.id)
        now = clock.now()
        payload = {"template": "stage_assigned", "case_id": case.id, "stage": "report",
                   "sequence": 1, "recipient": {"user_id": user.id}}
        session.execute(insert(OutboxMessage), [
            {"idempotency_key": f"bench:{label}:{n}", "kind": EffectKind.EMAIL,
             "payload": payload, "case_id": case.id, "status": OutboxStatus.PENDING,
             "attempts": 0, "available_at": now} for n in range(count)])
